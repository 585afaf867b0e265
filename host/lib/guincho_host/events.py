"""JSON-lines events on stdout, in the shape Cloud Logging parses.

Every step of a host tool prints exactly one event: ``{"severity", "event", ...}`` with the
numbers an operator needs (bytes, seconds, sha256, release id). The Ops Agent forwards the
journal to Cloud Logging, which reads ``severity`` and keeps the rest as ``jsonPayload``;
the log-based metrics of the monitoring component filter on ``jsonPayload.event``.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from typing import Any, TextIO

SEVERITIES = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")


def emit(event: str, severity: str = "INFO", stream: TextIO | None = None, **fields: Any) -> dict:
    """Print one event as a single JSON line and return it."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    record: dict[str, Any] = {
        "severity": severity,
        "event": event,
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
    }
    record.update(fields)
    out = stream if stream is not None else sys.stdout
    out.write(json.dumps(record, sort_keys=False, default=str) + "\n")
    out.flush()
    return record


class Stopwatch:
    """Seconds since creation, rounded for events."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def seconds(self) -> float:
        return round(time.monotonic() - self._start, 3)
