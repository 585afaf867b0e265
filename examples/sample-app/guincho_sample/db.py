"""The database and the log: SQLite in WAL mode at $DATABASE_PATH, JSON-lines events on stdout."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
from datetime import datetime, timezone
from typing import Any

_print_lock = threading.Lock()


def log(event: str, severity: str = "INFO", **fields: Any) -> None:
    """One JSON line per event, the shape Cloud Logging parses (same as the host tools)."""
    record = {
        "severity": severity,
        "event": event,
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        **fields,
    }
    with _print_lock:
        sys.stdout.write(json.dumps(record, default=str) + "\n")
        sys.stdout.flush()


def database_path() -> str:
    path = os.environ.get("DATABASE_PATH", "")
    if not path:
        raise SystemExit("DATABASE_PATH is not set; the app contract passes the SQLite file there")
    return path


def connect(path: str | None = None) -> sqlite3.Connection:
    """A connection in autocommit mode, WAL journal, waiting up to 5 s for a writer's lock."""
    target = path or database_path()
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    connection = sqlite3.connect(target, timeout=5.0, isolation_level=None)
    connection.execute("PRAGMA busy_timeout = 5000")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.row_factory = sqlite3.Row
    return connection


def schema_version(connection: sqlite3.Connection) -> int:
    """The highest migration applied, 0 on a fresh database."""
    row = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if row is None:
        return 0
    value = connection.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
    return int(value or 0)
