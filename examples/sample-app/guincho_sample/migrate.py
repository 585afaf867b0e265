"""Applies the pending migrations in order, each in one transaction (the release's migrate command).

Migrations only expand the schema (new tables, nullable columns, indexes), so the release
still serving keeps working while and after they run; a contraction ships in a later release,
once no running release needs the old shape.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import time
from pathlib import Path

from guincho_sample.db import connect, log, schema_version

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# NOTE: drills only: a migration whose second statement fails, to prove the first is undone.
_FAILING_SQL = (
    "CREATE TABLE drill_half_applied (id INTEGER);\nINSERT INTO no_such_table VALUES (1);"
)


def pending(current: int) -> list[tuple[int, str, str]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _NAME_RE.match(path.name)
        if match and int(match.group(1)) > current:
            found.append((int(match.group(1)), path.stem, path.read_text(encoding="utf-8")))
    return found


def apply(connection: sqlite3.Connection, version: int, name: str, sql: str) -> None:
    started = time.monotonic()
    try:
        connection.executescript(
            "BEGIN IMMEDIATE;\n"
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);\n"
            f"{sql}\n"
            f"INSERT INTO schema_migrations VALUES ({version}, '{name}', "
            "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));\n"
            "COMMIT;"
        )
    except sqlite3.Error:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    seconds = round(time.monotonic() - started, 3)
    log("migration_applied", version=version, name=name, seconds=seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fail", action="store_true", help="drill: run a migration that fails")
    args = parser.parse_args()
    connection = connect()
    current = schema_version(connection)
    todo = pending(current)
    if args.fail:
        todo.append((9999, "9999_drill_failure", _FAILING_SQL))
    for version, name, sql in todo:
        try:
            apply(connection, version, name, sql)
        except sqlite3.Error as error:
            log("migration_failed", "ERROR", version=version, name=name, error=str(error))
            return 1
    log("migrate_completed", applied=len(todo), schema=schema_version(connection))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
