"""Flags shared by ``deploy`` and ``rollback``, and their one-line usage errors.

Every default comes from the environment (``/etc/guincho/host.env`` on the VM), so the
systemd units and the Pulumi release component pass nothing but the archive; tests and the
benchmark point the same flags at temporary directories and a private nginx.
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
from pathlib import Path
from typing import NoReturn

from guincho_host.bluegreen import Host
from guincho_host.hostenv import load_host_env  # noqa: F401  (the tools import it from here)
from guincho_host.nginx import Nginx
from guincho_host.services import ServiceError, from_env

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 75


class UsageError(Exception):
    """A flag's value is not allowed: one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(EXIT_USAGE)


def env(name: str, fallback: str) -> str:
    return os.environ.get(name) or fallback


def new_parser(prog: str, description: str) -> Parser:
    return Parser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def add_host_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--releases-dir",
        default=env("GUINCHO_RELEASES_DIR", "/opt/guincho/releases"),
        help="where each release has its own directory (env GUINCHO_RELEASES_DIR, "
        "default %(default)s)",
    )
    parser.add_argument(
        "--data-dir",
        default=env("GUINCHO_DATA_DIR", "/var/lib/guincho"),
        help="persistent data disk; the deploy state goes to <data-dir>/state "
        "(env GUINCHO_DATA_DIR, default %(default)s)",
    )
    parser.add_argument(
        "--database",
        default=env("GUINCHO_DATABASE_PATH", "/var/lib/guincho/db/guincho.sqlite3"),
        help="the SQLite file passed to the app as DATABASE_PATH (env GUINCHO_DATABASE_PATH, "
        "default %(default)s)",
    )
    parser.add_argument(
        "--blue-port",
        type=int,
        default=env("GUINCHO_BLUE_PORT", "8001"),
        help="loopback port of the blue colour (env GUINCHO_BLUE_PORT, default %(default)s)",
    )
    parser.add_argument(
        "--green-port",
        type=int,
        default=env("GUINCHO_GREEN_PORT", "8002"),
        help="loopback port of the green colour (env GUINCHO_GREEN_PORT, default %(default)s)",
    )
    parser.add_argument(
        "--upstream-file",
        default=env("GUINCHO_NGINX_UPSTREAM", "/etc/nginx/guincho/upstream.conf"),
        help="the upstream block the nginx site includes (env GUINCHO_NGINX_UPSTREAM, "
        "default %(default)s)",
    )
    parser.add_argument(
        "--nginx-test",
        default=env("GUINCHO_NGINX_TEST", "nginx -t -q"),
        help="command that checks nginx's configuration before a reload (env "
        "GUINCHO_NGINX_TEST, default %(default)r)",
    )
    parser.add_argument(
        "--nginx-reload",
        default=env("GUINCHO_NGINX_RELOAD", "systemctl reload nginx"),
        help="command for a graceful reload (env GUINCHO_NGINX_RELOAD, default %(default)r)",
    )
    parser.add_argument(
        "--nginx-pid-file",
        default=env("GUINCHO_NGINX_PID_FILE", "/run/nginx.pid"),
        help="nginx master's pid file, to watch the old workers drain (env "
        "GUINCHO_NGINX_PID_FILE, default %(default)s); without it the drain waits "
        "--drain-timeout in full",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=env("GUINCHO_DRAIN_TIMEOUT", "30"),
        help="seconds to wait for nginx's old workers before stopping the old colour "
        "(env GUINCHO_DRAIN_TIMEOUT, default %(default)s)",
    )
    parser.add_argument(
        "--health-timeout",
        type=float,
        default=env("GUINCHO_HEALTH_TIMEOUT", "60"),
        help="seconds the new colour has to answer 200 on its health path (env "
        "GUINCHO_HEALTH_TIMEOUT, default %(default)s)",
    )


def positive(flag: str, value: float) -> None:
    if value <= 0:
        raise UsageError(f"{flag} {value:g} is out of range; it must be more than 0")


def host_from_args(args: argparse.Namespace) -> Host:
    """Validates the shared flags and builds the :class:`Host` they describe."""
    for flag, port in (("--blue-port", args.blue_port), ("--green-port", args.green_port)):
        if not 1 <= port <= 65535:
            raise UsageError(f"{flag} {port} is out of range; it must be 1 to 65535")
    if args.blue_port == args.green_port:
        raise UsageError(
            f"--green-port {args.green_port} equals --blue-port; the colours need two ports"
        )
    positive("--drain-timeout", args.drain_timeout)
    positive("--health-timeout", args.health_timeout)
    try:
        control = from_env()
    except ServiceError as error:
        raise UsageError(str(error)) from None
    pid_file = Path(args.nginx_pid_file) if args.nginx_pid_file else None
    nginx = Nginx(
        Path(args.upstream_file), args.nginx_test, args.nginx_reload, pid_file, args.drain_timeout
    )
    process = os.environ.get("GUINCHO_SERVICE_CONTROL") == "process"
    hint = f"{os.environ.get('GUINCHO_RUN_DIR')}/app-<colour>.log" if process else ""
    return Host(
        control=control,
        nginx=nginx,
        ports={"blue": args.blue_port, "green": args.green_port},
        releases_dir=Path(args.releases_dir),
        state_dir=Path(args.data_dir) / "state",
        database=args.database,
        health_timeout=args.health_timeout,
        log_hint=hint or "journalctl -u guincho-app@<colour>",
    )


def app_user(value: str) -> tuple[int, int] | None:
    """(uid, gid) to run migrations as, when root; None to stay the current user."""
    if not value or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(value)
    except KeyError:
        raise UsageError(
            f"--app-user {value!r} is not a user on this host; create it (the server bootstrap "
            "does) or pass --app-user '' to run migrations as root"
        ) from None
    return entry.pw_uid, entry.pw_gid


def fail_usage(prog: str, error: UsageError) -> NoReturn:
    sys.stderr.write(f"{prog}: error: {error}\n")
    sys.exit(EXIT_USAGE)
