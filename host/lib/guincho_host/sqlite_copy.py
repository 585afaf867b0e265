"""Consistent copies of a live SQLite database, and the facts that prove a copy is sound.

The app's database runs in WAL mode. A copy taken with SQLite's online backup API in ONE step
(``pages=-1``) runs inside a single read transaction: the app keeps committing to the WAL
while the copy reads the snapshot it started with, and nothing the app does can restart it.
A stepped backup (the ``sqlite3`` shell's ``.backup`` copies 100 pages a step) starts over
whenever another connection writes between two steps, and under a busy writer never ends.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024
BUSY_TIMEOUT_SECONDS = 30.0


class CopyError(RuntimeError):
    """The copy could not be made or is not sound; the message says which and why."""


@dataclass(frozen=True)
class DatabaseFacts:
    """What a manifest records about a database file and a restore checks again."""

    page_size: int
    page_count: int
    schema_hash: str
    user_version: int
    tables: int
    sqlite_version: str


def snapshot(source: Path, target: Path, durable: bool = False) -> None:
    """Copies ``source`` to the new file ``target`` inside one read transaction.

    The source is opened read-only, so the copy never writes to the live database.
    ``durable`` fsyncs the copy. NOTE: the backup tool leaves it off on purpose: its copy is a
    scratch file that lives for seconds (what is kept is the compressed object, fsynced), and
    forcing a whole database to disk at once delays the app's own fsyncs.
    """
    if target.exists():
        raise CopyError(f"copy target {target} already exists")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    dst = sqlite3.connect(target)
    try:
        # The copy is a scratch file until it is verified and fsynced below: no journal needed.
        dst.execute("PRAGMA journal_mode=OFF")
        dst.execute("PRAGMA synchronous=OFF")
        # NOTE: pages=-1 copies every page in one step, inside one read transaction. Do not
        # "improve" this into small steps: steps restart on every write by the app.
        src.backup(dst, pages=-1)
    except sqlite3.Error as error:
        raise CopyError(f"copying {source} failed: {error}") from error
    finally:
        dst.close()
        src.close()
    if durable:
        fsync_file(target)


def open_frozen(path: Path) -> sqlite3.Connection:
    """Opens a file this process owns alone, read-only, without creating -wal or -shm files."""
    return sqlite3.connect(f"file:{path}?immutable=1", uri=True)


def schema_hash(connection: sqlite3.Connection) -> str:
    """sha256 of the schema (type, name, table and SQL of each object; not root pages).

    Root pages move when a file is vacuumed; SQLite's own ``sqlite_*`` tables (statistics)
    come and go with ANALYZE. Neither changes what the schema is.
    """
    rows = connection.execute(
        "SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_schema "
        "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    ).fetchall()
    digest = hashlib.sha256()
    for row in rows:
        digest.update("\0".join(str(value) for value in row).encode("utf-8") + b"\n")
    return digest.hexdigest()


def table_names(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    return [str(row[0]) for row in rows]


def integrity_problems(connection: sqlite3.Connection, limit: int = 5) -> list[str]:
    """``PRAGMA integrity_check``: an empty list when the file is sound."""
    rows = connection.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
    messages = [line for row in rows for line in str(row[0]).splitlines() if line.strip()]
    return [] if messages == ["ok"] else messages[:limit]


def facts(connection: sqlite3.Connection) -> DatabaseFacts:
    def pragma(name: str) -> int:
        return int(connection.execute(f"PRAGMA {name}").fetchone()[0])

    return DatabaseFacts(
        page_size=pragma("page_size"),
        page_count=pragma("page_count"),
        schema_hash=schema_hash(connection),
        user_version=pragma("user_version"),
        tables=len(table_names(connection)),
        sqlite_version=sqlite3.sqlite_version,
    )


def check_copy(path: Path) -> DatabaseFacts:
    """Integrity check and facts of a copy; raises :class:`CopyError` when it is not sound."""
    try:
        connection = open_frozen(path)
        try:
            problems = integrity_problems(connection)
            if problems:
                raise CopyError(f"PRAGMA integrity_check on {path} reports: {'; '.join(problems)}")
            return facts(connection)
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise CopyError(f"{path} is not a sound SQLite database: {error}") from error


def live_schema_hash(database: Path) -> str | None:
    """Schema hash of the live database, read-only; None when it is missing or unreadable."""
    if not database.is_file():
        return None
    try:
        connection = sqlite3.connect(
            f"file:{database}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS
        )
        try:
            return schema_hash(connection)
        finally:
            connection.close()
    except sqlite3.Error:
        return None


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Makes a rename or a new name in ``path`` durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sha256_file(path: Path) -> tuple[str, int]:
    """sha256 and size in bytes of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
