"""nginx's side of a switch: the upstream file, a checked graceful reload, and the drain.

The site includes ``/etc/nginx/guincho/upstream.conf`` at http level and proxies to
``http://guincho_app``. A switch rewrites that file atomically, asks nginx to check the whole
configuration, and reloads: the master starts workers on the new upstream while the old
workers finish their requests and exit. The old colour may stop once those old workers are
gone, which :meth:`Nginx.drain` waits for (by their pids, under the master's pid file).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from guincho_host.services import write_atomic

UPSTREAM_NAME = "guincho_app"
_SERVER_RE = re.compile(r"^\s*server\s+127\.0\.0\.1:(\d+)\b", re.MULTILINE)


class NginxError(RuntimeError):
    """nginx refused the configuration or the reload; the message carries nginx's own words."""


def render_upstream(port: int, release_id: str, colour: str, keepalive: int = 16) -> str:
    """The upstream block pointing at one colour, with pooled connections to it."""
    return (
        f"# Written by host/bin/deploy: release {release_id} on the {colour} colour.\n"
        "# Do not edit: the next deploy or rollback rewrites it.\n"
        f"upstream {UPSTREAM_NAME} {{\n"
        f"    server 127.0.0.1:{port};\n"
        f"    keepalive {keepalive};\n"
        # NOTE: shorter than the app's idle timeout (120 s), so nginx, not the app, closes an
        # idle pooled connection and never sends a request on one the app is closing.
        "    keepalive_timeout 30s;\n"
        "}\n"
    )


def upstream_port(text: str) -> int | None:
    """The port an upstream file points at, or None when it names no loopback server."""
    match = _SERVER_RE.search(text)
    return int(match.group(1)) if match else None


@dataclass
class Nginx:
    """Where the upstream file lives and how to test and reload this nginx.

    ``test_command`` and ``reload_command`` are shell-like strings (split with shlex), so the
    VM uses ``nginx -t -q`` and ``systemctl reload nginx`` while tests use a private instance
    (``nginx -p <prefix> -c <conf> -s reload``).
    """

    upstream_file: Path
    test_command: str
    reload_command: str
    pid_file: Path | None
    drain_timeout: float

    def current_port(self) -> int | None:
        try:
            return upstream_port(self.upstream_file.read_text(encoding="utf-8"))
        except OSError:
            return None

    def switch(self, port: int, release_id: str, colour: str) -> list[int]:
        """Points the upstream at ``port`` and reloads; returns the workers that must drain."""
        try:
            previous = self.upstream_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            previous = None
        write_atomic(self.upstream_file, render_upstream(port, release_id, colour))
        try:
            self._run(self.test_command, "configuration test")
        except NginxError:
            self._restore(previous)
            raise
        workers = self.workers()
        try:
            self._run(self.reload_command, "reload")
        except NginxError:
            self._restore(previous)
            raise
        return workers

    def drain(self, workers: list[int]) -> tuple[bool, float]:
        """Waits until the workers of the previous configuration have exited.

        Returns (drained, seconds). Without a readable pid file there is nothing to watch, so
        it waits the whole drain timeout: slower, never unsafe.
        """
        started = time.monotonic()
        deadline = started + self.drain_timeout
        if self.pid_file is None or not self._master_pid():
            time.sleep(self.drain_timeout)
            return True, round(time.monotonic() - started, 3)
        while time.monotonic() < deadline:
            if not any(_is_running(pid) for pid in workers):
                return True, round(time.monotonic() - started, 3)
            time.sleep(0.05)
        return False, round(time.monotonic() - started, 3)

    def workers(self) -> list[int]:
        master = self._master_pid()
        if master is None:
            return []
        return [pid for pid in _all_pids() if _parent_pid(pid) == master]

    def _master_pid(self) -> int | None:
        if self.pid_file is None:
            return None
        try:
            pid = int(self.pid_file.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None
        return pid if _is_running(pid) else None

    def _restore(self, previous: str | None) -> None:
        if previous is None:
            self.upstream_file.unlink(missing_ok=True)
        else:
            write_atomic(self.upstream_file, previous)

    @staticmethod
    def _run(command: str, what: str) -> None:
        try:
            result = subprocess.run(
                shlex.split(command), capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise NginxError(f"nginx {what} ({command}) could not run: {error}") from error
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            detail = lines[-1] if lines else f"exit status {result.returncode}"
            raise NginxError(f"nginx {what} ({command}) failed: {detail}")


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _parent_pid(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    return int(text[text.rindex(")") + 2 :].split()[1])


def _is_running(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return text[text.rindex(")") + 2 :].split()[0] not in ("Z", "X")
