"""One release operation at a time: an flock on ``state/deploy.lock``.

The kernel drops an flock when its holder dies, even by SIGKILL, so a killed deploy never
leaves a stale lock behind; the next deploy takes the lock and repairs what was half done.
The file also records who holds it, so a refused deploy can say what it is waiting for.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from types import TracebackType


class LockBusy(RuntimeError):
    """Another deploy or rollback holds the lock; the message names it."""


class ReleaseLock:
    """``with ReleaseLock(path, "deploy", release="1.2.0-abc"):`` or raise :class:`LockBusy`."""

    def __init__(self, path: Path, operation: str, **details: str) -> None:
        self.path = path
        self.operation = operation
        self.details = details
        self._fd: int | None = None

    def __enter__(self) -> "ReleaseLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(fd)
            os.close(fd)
            raise LockBusy(
                f"another release operation is running ({holder}); wait for it to finish and "
                "try again"
            ) from None
        record = {"operation": self.operation, "pid": os.getpid(), "since": _now(), **self.details}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _describe(fd: int) -> str:
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except ValueError:
        record = {}
    if not record:
        return "holder unknown"
    parts = [f"{record.get('operation', 'operation')} pid {record.get('pid', '?')}"]
    for key in ("release", "archive"):
        if record.get(key):
            parts.append(f"{key} {record[key]}")
    if record.get("since"):
        parts.append(f"since {record['since']}")
    return ", ".join(parts)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
