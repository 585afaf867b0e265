"""Command-line plumbing shared by the report tools and the sanitizer.

A user's mistake (a bad flag, a missing file) must end in one line on stderr naming the
flag, the value and what is allowed, with exit status 2 and no traceback. Anything else
that goes wrong ends in one failure event on stdout and exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, NoReturn

from guincho_host.events import emit
from guincho_host.hostenv import load_host_env

EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A mistake in the flags or their values: reported in one line, exit status 2."""


class ToolFailed(Exception):
    """The tool could not do its job; carries the fields of the failure event."""

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.fields = fields


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(EXIT_USAGE)


def new_parser(prog: str, description: str) -> Parser:
    return Parser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def env_default(name: str, fallback: str) -> str:
    """The value of an environment variable from /etc/guincho/host.env, or the fallback."""
    load_host_env()
    value = os.environ.get(name, "")
    return value if value else fallback


def data_dir_default() -> str:
    return env_default("GUINCHO_DATA_DIR", "/var/lib/guincho")


def database_default() -> str:
    return env_default("GUINCHO_DATABASE_PATH", "/var/lib/guincho/db/guincho.sqlite3")


def parse_now(flag: str, value: str | None) -> datetime:
    """The report's 'now': the current time, or a fixed ISO 8601 instant (tests, replays)."""
    if value is None:
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{flag} {value!r} is not an ISO 8601 date-time; use e.g. 2026-12-03T06:00:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def positive(flag: str, value: float, allow_zero: bool = False) -> float:
    if value < 0 or (value == 0 and not allow_zero):
        allowed = "0 or more" if allow_zero else "more than 0"
        raise UsageError(f"{flag} {value:g} is out of range; it must be {allowed}")
    return value


def readable_file(flag: str, value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise UsageError(f"{flag} {value!r} is not a readable file")
    return path


def run(main: Callable[[], int], prog: str, failed_event: str) -> NoReturn:
    """Runs a tool's main, turning UsageError and ToolFailed into their exit statuses."""
    try:
        status = main()
    except UsageError as error:
        sys.stderr.write(f"{prog}: error: {error}\n")
        sys.exit(EXIT_USAGE)
    except ToolFailed as error:
        emit(failed_event, "ERROR", error=str(error), **error.fields)
        sys.exit(EXIT_FAILED)
    except (OSError, EOFError) as error:
        # A file that vanished, a truncated .gz log, a full disk: still one failure event.
        emit(failed_event, "ERROR", error=str(error) or type(error).__name__)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        emit(failed_event, "ERROR", error="interrupted")
        sys.exit(130)
    sys.exit(status)
