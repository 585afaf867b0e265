"""Service control: the app's two colours as systemd units on the VM, plain processes in tests.

The app runs as two instances of one template unit, ``guincho-app@blue`` and
``guincho-app@green``. What an instance runs is its *launch spec*: the release directory,
the release's start command, the port and the database path. The spec is written once, as an
environment file per colour, and both backends read that same file:

- ``systemd`` (the VM): ``/etc/guincho/app-<colour>.env`` is the unit's ``EnvironmentFile=``;
  ``systemctl enable --now`` / ``disable --now`` start and stop the unit (so only the serving
  colour comes back after a reboot), whose ``ExecStart`` runs :data:`LAUNCH_SHELL`.
- ``process`` (tests, benchmarks): ``$GUINCHO_RUN_DIR/app-<colour>.env``; the same
  :data:`LAUNCH_SHELL` runs as a detached process whose pid is kept in
  ``$GUINCHO_RUN_DIR/app-<colour>.pid`` and whose output goes to ``app-<colour>.log``.

Pick the backend with ``GUINCHO_SERVICE_CONTROL=systemd|process`` through :func:`from_env`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

COLOURS = ("blue", "green")
UNIT_PREFIX = "guincho-app@"
DEFAULT_ENV_DIR = "/etc/guincho"
DEFAULT_STOP_TIMEOUT = 20.0

# NOTE: the systemd unit's ExecStart runs this same script (with each `$` doubled, systemd's
# escape); tests compare the two, so change both together.
LAUNCH_SHELL = (
    'cd "$GUINCHO_RELEASE_DIR" && '
    'PATH="$GUINCHO_RELEASE_DIR/venv/bin:$PATH" && '
    'VIRTUAL_ENV="$GUINCHO_RELEASE_DIR/venv" && '
    "export PATH VIRTUAL_ENV && "
    'eval "exec $GUINCHO_START"'
)

_SPEC_KEYS = ("GUINCHO_RELEASE_ID", "GUINCHO_RELEASE_DIR", "GUINCHO_START", "PORT", "DATABASE_PATH")
_UNIT_RE = re.compile(r"^guincho-app@(blue|green)$")
# Single quotes keep a value literal both for systemd's EnvironmentFile parser and ours.
_FORBIDDEN_IN_VALUE = ("'", "\\", "\n", "\r", "\0")


class ServiceError(RuntimeError):
    """A unit could not be started, stopped or described; the message says which and why."""


@dataclass(frozen=True)
class LaunchSpec:
    """What one colour runs: a release, its start command, its port and the database."""

    release_id: str
    release_dir: str
    start: str
    port: int
    database_path: str

    def to_env(self) -> dict[str, str]:
        return {
            "GUINCHO_RELEASE_ID": self.release_id,
            "GUINCHO_RELEASE_DIR": self.release_dir,
            "GUINCHO_START": self.start,
            "PORT": str(self.port),
            "DATABASE_PATH": self.database_path,
        }

    @classmethod
    def from_env(cls, values: dict[str, str]) -> "LaunchSpec":
        missing = [key for key in _SPEC_KEYS if key not in values]
        if missing:
            raise ServiceError(f"launch spec lacks {', '.join(missing)}")
        return cls(
            release_id=values["GUINCHO_RELEASE_ID"],
            release_dir=values["GUINCHO_RELEASE_DIR"],
            start=values["GUINCHO_START"],
            port=int(values["PORT"]),
            database_path=values["DATABASE_PATH"],
        )


def unit_name(colour: str) -> str:
    """``guincho-app@<colour>`` for ``blue`` or ``green``."""
    if colour not in COLOURS:
        raise ServiceError(f"colour {colour!r} is not one of {', '.join(COLOURS)}")
    return UNIT_PREFIX + colour


def unit_colour(unit: str) -> str:
    """The colour of ``guincho-app@<colour>``; any other unit name is refused."""
    match = _UNIT_RE.match(unit)
    if match is None:
        raise ServiceError(f"unit {unit!r} is not one of guincho-app@blue, guincho-app@green")
    return match.group(1)


def render_env_file(spec: LaunchSpec) -> str:
    """The environment file of one colour, readable by systemd and by :func:`parse_env_file`."""
    lines = ["# Written by host/bin/deploy: the release this colour runs. Do not edit by hand."]
    for key, value in spec.to_env().items():
        bad = [char for char in _FORBIDDEN_IN_VALUE if char in value]
        if bad:
            raise ServiceError(
                f"{key} value {value!r} contains {bad[0]!r}; launch spec values may not contain "
                "single quotes, backslashes or line breaks"
            )
        lines.append(f"{key}='{value}'")
    return "\n".join(lines) + "\n"


def parse_env_file(text: str) -> dict[str, str]:
    """Reads what :func:`render_env_file` writes (``KEY='value'`` or ``KEY=value`` lines)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Writes a file so readers see the old or the new content, never a half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class ServiceControl(Protocol):
    """Start, stop and query the app's colour units, and keep their launch specs."""

    def start(self, unit: str) -> None: ...

    def stop(self, unit: str) -> None: ...

    def is_active(self, unit: str) -> bool: ...

    def write_spec(self, unit: str, spec: LaunchSpec) -> None: ...

    def read_spec(self, unit: str) -> LaunchSpec | None: ...


class _SpecFiles:
    """Launch specs as ``app-<colour>.env`` files in one directory."""

    def __init__(self, env_dir: Path) -> None:
        self.env_dir = env_dir

    def spec_path(self, unit: str) -> Path:
        return self.env_dir / f"app-{unit_colour(unit)}.env"

    def write_spec(self, unit: str, spec: LaunchSpec) -> None:
        write_atomic(self.spec_path(unit), render_env_file(spec))

    def read_spec(self, unit: str) -> LaunchSpec | None:
        path = self.spec_path(unit)
        if not path.exists():
            return None
        return LaunchSpec.from_env(parse_env_file(path.read_text(encoding="utf-8")))


class SystemdControl(_SpecFiles):
    """The VM: ``systemctl`` on the template unit, specs in ``/etc/guincho``."""

    def __init__(self, env_dir: Path, systemctl: str = "systemctl") -> None:
        super().__init__(env_dir)
        self.systemctl = systemctl

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [self.systemctl, *args], capture_output=True, text=True, timeout=120
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ServiceError(f"{self.systemctl} {' '.join(args)} failed: {error}") from error

    def _checked(self, *args: str) -> None:
        result = self._run(*args)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            reason = detail[-1] if detail else f"exit status {result.returncode}"
            raise ServiceError(f"systemctl {' '.join(args)} failed: {reason}")

    # NOTE: enable/disable with --now, so the colour serving now is the one a reboot brings
    # back, and the idle colour stays down.
    def start(self, unit: str) -> None:
        unit_colour(unit)
        self._checked("enable", "--now", unit)

    def stop(self, unit: str) -> None:
        unit_colour(unit)
        self._checked("disable", "--now", unit)

    def is_active(self, unit: str) -> bool:
        unit_colour(unit)
        return self._run("is-active", "--quiet", unit).returncode == 0


class ProcessControl(_SpecFiles):
    """Tests and benchmarks: each colour is a detached process group, tracked by a pid file.

    The pid file holds ``<pid> <start time>``; the start time (from ``/proc``) guards against
    a recycled pid being mistaken for the app after a crash.
    """

    def __init__(self, run_dir: Path, stop_timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        super().__init__(run_dir)
        self.run_dir = run_dir
        self.stop_timeout = stop_timeout

    def pid_path(self, unit: str) -> Path:
        return self.run_dir / f"app-{unit_colour(unit)}.pid"

    def log_path(self, unit: str) -> Path:
        return self.run_dir / f"app-{unit_colour(unit)}.log"

    def start(self, unit: str) -> None:
        if self.is_active(unit):
            return
        spec = self.read_spec(unit)
        if spec is None:
            raise ServiceError(f"{unit} has no launch spec at {self.spec_path(unit)}")
        env = {key: value for key, value in os.environ.items() if not key.startswith("GUINCHO_")}
        env.update(spec.to_env())
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path(unit), "ab") as log:
            process = subprocess.Popen(
                ["/bin/sh", "-c", LAUNCH_SHELL],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        write_atomic(self.pid_path(unit), f"{process.pid} {_start_time(process.pid)}\n")

    def stop(self, unit: str) -> None:
        pid = self._live_pid(unit)
        if pid is not None:
            _signal_group(pid, signal.SIGTERM)
            if not _wait_gone(pid, self.stop_timeout):
                _signal_group(pid, signal.SIGKILL)
                _wait_gone(pid, 5.0)
        self.pid_path(unit).unlink(missing_ok=True)

    def is_active(self, unit: str) -> bool:
        return self._live_pid(unit) is not None

    def _live_pid(self, unit: str) -> int | None:
        try:
            pid_text, started = self.pid_path(unit).read_text(encoding="utf-8").split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if not _alive(pid) or _start_time(pid) != started:
            return None
        return pid


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    # The command name sits in parentheses and may hold spaces; fields follow the last ")".
    return text[text.rindex(")") + 2 :].split()


def _start_time(pid: int) -> str:
    fields = _stat_fields(pid)
    return fields[19] if fields is not None else "?"


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _alive(pid: int) -> bool:
    _reap(pid)
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


def from_env(environ: dict[str, str] | None = None) -> ServiceControl:
    """The backend named by ``GUINCHO_SERVICE_CONTROL`` (``systemd`` unless told otherwise).

    ``process`` needs ``GUINCHO_RUN_DIR``; ``GUINCHO_APP_ENV_DIR`` moves systemd's spec files;
    ``GUINCHO_SYSTEMCTL`` replaces the systemctl binary; ``GUINCHO_STOP_TIMEOUT`` (seconds)
    bounds the process backend's wait between SIGTERM and SIGKILL.
    """
    env = os.environ if environ is None else environ
    kind = env.get("GUINCHO_SERVICE_CONTROL", "systemd") or "systemd"
    if kind == "systemd":
        return SystemdControl(
            Path(env.get("GUINCHO_APP_ENV_DIR", DEFAULT_ENV_DIR)),
            env.get("GUINCHO_SYSTEMCTL", "systemctl"),
        )
    if kind == "process":
        run_dir = env.get("GUINCHO_RUN_DIR", "")
        if not run_dir:
            raise ServiceError(
                "GUINCHO_SERVICE_CONTROL=process needs GUINCHO_RUN_DIR, the directory for pid "
                "files, logs and launch specs"
            )
        timeout_text = env.get("GUINCHO_STOP_TIMEOUT") or str(DEFAULT_STOP_TIMEOUT)
        try:
            timeout = float(timeout_text)
        except ValueError:
            raise ServiceError(
                f"GUINCHO_STOP_TIMEOUT value {timeout_text!r} is not a number of seconds"
            ) from None
        return ProcessControl(Path(run_dir), timeout)
    raise ServiceError(
        f"GUINCHO_SERVICE_CONTROL value {kind!r} is not allowed; use systemd or process"
    )
