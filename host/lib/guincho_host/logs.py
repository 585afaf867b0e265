"""Reading the logs the report tools summarise: rotated files, JSON lines, nginx formats.

Rotation follows logrotate's defaults with `delaycompress`: `access.log` is current,
`access.log.1` is the previous one (plain), `access.log.2.gz` and older are compressed.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

_ROTATED = re.compile(r"\.(\d+)(\.gz)?$")


def rotated_set(path: Path) -> list[Path]:
    """The log and its rotated generations that exist, oldest first, current last."""
    generations: list[tuple[int, Path]] = []
    for candidate in path.parent.glob(path.name + ".*"):
        match = _ROTATED.search(candidate.name[len(path.name) :])
        if match and candidate.name == path.name + match.group(0):
            generations.append((int(match.group(1)), candidate))
    ordered = [p for _, p in sorted(generations, key=lambda item: -item[0])]
    if path.exists():
        ordered.append(path)
    return ordered


def read_lines(path: Path) -> Iterator[str]:
    """Lines of a plain or gzip-compressed text file, undecodable bytes replaced.

    A damaged or truncated file raises OSError naming the file.
    """
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
                yield from handle
        else:
            with path.open("r", encoding="utf-8", errors="replace") as handle:
                yield from handle
    except (OSError, EOFError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise OSError(f"{path} cannot be read: {reason}") from None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string, or journald's microseconds since the epoch, as an aware datetime."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1_000_000, tz=timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class LogRecord:
    """One structured event from the app or a tool, whichever way it was exported."""

    time: datetime | None
    severity: str
    kind: str
    source: str


# journald priorities (syslog levels) as Cloud Logging severities.
_PRIORITY = {
    "0": "EMERGENCY",
    "1": "ALERT",
    "2": "CRITICAL",
    "3": "ERROR",
    "4": "WARNING",
    "5": "NOTICE",
    "6": "INFO",
    "7": "DEBUG",
}


def _journal_message(entry: dict[str, Any]) -> str:
    message = entry.get("MESSAGE", "")
    if isinstance(message, list):  # journald exports non-UTF-8 messages as byte arrays
        return bytes(b for b in message if isinstance(b, int)).decode("utf-8", "replace")
    return str(message)


def _from_journal(entry: dict[str, Any]) -> LogRecord:
    source = str(entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER") or "journal")
    stamp = parse_time(entry.get("__REALTIME_TIMESTAMP"))
    message = _journal_message(entry).strip()
    if message.startswith("{"):
        try:
            inner = json.loads(message)
        except ValueError:
            inner = None
        if isinstance(inner, dict) and "event" in inner:
            return _from_event(inner, source, stamp)
    severity = _PRIORITY.get(str(entry.get("PRIORITY", "6")), "INFO")
    return LogRecord(stamp, severity, f"unstructured:{source}", source)


def _from_event(event: dict[str, Any], source: str, fallback: datetime | None) -> LogRecord:
    stamp = parse_time(event.get("time") or event.get("timestamp")) or fallback
    severity = str(event.get("severity") or event.get("level") or "INFO").upper()
    return LogRecord(stamp, severity, str(event.get("event")), source)


def parse_json_log_line(line: str, source: str) -> LogRecord | None:
    """A journal export entry (`journalctl -o json`) or a bare JSON event line; else None."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    if "MESSAGE" in value or "__REALTIME_TIMESTAMP" in value:
        return _from_journal(value)
    if "event" in value:
        return _from_event(value, source, None)
    return None


# 2026/12/02 13:05:11 [error] 812#812: *4411 connect() failed (111: ...) while ..., client: ...
_NGINX_ERROR = re.compile(
    r"^(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?P<level>[a-z]+)\] \d+#\d+: (?P<text>.*)$"
)
_NGINX_LEVELS = {
    "emerg": "EMERGENCY",
    "alert": "ALERT",
    "crit": "CRITICAL",
    "error": "ERROR",
    "warn": "WARNING",
    "notice": "NOTICE",
    "info": "INFO",
    "debug": "DEBUG",
}


def nginx_error_kind(text: str) -> str:
    """A stable kind for an nginx error message: no connection ids, numbers or details."""
    text = re.sub(r"^\*\d+ ", "", text)
    text = text.split(", client:", 1)[0]
    text = re.sub(r'"[^"]*"', '"..."', text)
    text = re.sub(r"\d+", "N", text)
    return "nginx: " + text[:100]


def parse_nginx_error_line(line: str, tz: timezone = timezone.utc) -> LogRecord | None:
    """One line of nginx's error log (its local time is taken as `tz`), or None."""
    match = _NGINX_ERROR.match(line.rstrip("\n"))
    if not match:
        return None
    stamp = datetime.strptime(match.group("time"), "%Y/%m/%d %H:%M:%S").replace(tzinfo=tz)
    severity = _NGINX_LEVELS.get(match.group("level"), "INFO")
    return LogRecord(stamp, severity, nginx_error_kind(match.group("text")), "nginx")


@dataclass(frozen=True)
class AccessRecord:
    """One request from the nginx access log."""

    time: datetime | None
    status: int
    request_ms: float
    upstream_ms: float | None
    path: str


def _seconds_to_ms(value: Any) -> float | None:
    """nginx's `$request_time` is seconds with millisecond resolution; '-' means none."""
    text = str(value).strip()
    if not text or text == "-":
        return None
    # Several upstreams tried: "0.002, 0.104"; nginx reports each, the request paid for all.
    try:
        return round(sum(float(part) for part in re.split(r"[,:]\s*", text) if part) * 1000, 3)
    except ValueError:
        return None


def _path_of(uri: str) -> str:
    return uri.split("?", 1)[0] or "/"


def parse_access_json(line: str) -> AccessRecord | None:
    """A line in the `guincho_json` format of host/nginx/log-format.conf, or None."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    request_ms = _seconds_to_ms(value.get("request_time", ""))
    try:
        status = int(value.get("status", ""))
    except ValueError:
        return None
    if request_ms is None:
        return None
    return AccessRecord(
        time=parse_time(value.get("time_iso8601")),
        status=status,
        request_ms=request_ms,
        upstream_ms=_seconds_to_ms(value.get("upstream_response_time", "")),
        path=_path_of(str(value.get("request_uri", "/"))),
    )


# nginx "combined" with $request_time and $upstream_response_time appended (guincho_timed).
_COMBINED_TIMED = re.compile(
    r'^\S+ \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) \S+ '
    r'"[^"]*" "[^"]*" (?P<request_time>[\d.]+)(?: (?P<upstream>\S+(?:, \S+)*))?\s*$'
)


def parse_access_combined(line: str) -> AccessRecord | None:
    """A line in the `guincho_timed` format (combined + request and upstream times), or None."""
    match = _COMBINED_TIMED.match(line)
    if not match:
        return None
    try:
        stamp: datetime | None = datetime.strptime(match.group("time"), "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        stamp = None
    parts = match.group("request").split(" ")
    uri = parts[1] if len(parts) >= 2 else "/"
    request_ms = _seconds_to_ms(match.group("request_time"))
    if request_ms is None:
        return None
    return AccessRecord(
        time=stamp,
        status=int(match.group("status")),
        request_ms=request_ms,
        upstream_ms=_seconds_to_ms(match.group("upstream") or "-"),
        path=_path_of(uri),
    )


def parse_access_line(line: str) -> AccessRecord | None:
    """Either supported access-log format, told apart by the first character."""
    text = line.strip()
    if not text:
        return None
    return parse_access_json(text) if text.startswith("{") else parse_access_combined(text)


def read_records(paths: Iterable[Path]) -> Iterator[str]:
    for path in paths:
        yield from read_lines(path)
