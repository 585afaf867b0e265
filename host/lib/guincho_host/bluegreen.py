"""Blue/green on one host: start the idle colour, check it, switch nginx, drain, stop the old.

Shared by ``deploy`` and ``rollback``. The state lives in ``$GUINCHO_DATA_DIR/state/``:

- ``deploy.json``: ``current`` and ``previous`` (release, colour, port, the pre-deploy backup
  taken before that release) and ``pending``, the operation under way and its last step;
- ``current-release``: the serving release id alone (the weekly backup reads it).

Every step that changes the host is written to ``pending`` first, so a run killed at any
point leaves enough behind for :func:`recover` (called by the next run, under the lock) to
finish the switch when the new colour is healthy, or to undo it when it is not.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from guincho_host.events import Stopwatch, emit
from guincho_host.nginx import Nginx, NginxError
from guincho_host.releases import Release
from guincho_host.services import (
    COLOURS,
    LaunchSpec,
    ServiceControl,
    ServiceError,
    unit_name,
    write_atomic,
)

STATE_FILE = "deploy.json"
CURRENT_FILE = "current-release"


class StepFailed(RuntimeError):
    """A step of a switch failed; ``step`` names it for the failure event."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


@dataclass
class Host:
    """Everything a switch touches on this host."""

    control: ServiceControl
    nginx: Nginx
    ports: dict[str, int]
    releases_dir: Path
    state_dir: Path
    database: str
    health_timeout: float
    log_hint: str = "journalctl -u guincho-app@<colour>"
    state: dict[str, Any] = field(default_factory=dict)

    def load(self) -> dict[str, Any]:
        try:
            self.state = json.loads((self.state_dir / STATE_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.state = {}
        except ValueError as error:
            raise StepFailed("state", f"{self.state_dir / STATE_FILE} is not JSON: {error}")
        for key in ("current", "previous", "pending"):
            self.state.setdefault(key, None)
        return self.state

    def save(self) -> None:
        text = json.dumps(self.state, indent=2, sort_keys=True) + "\n"
        write_atomic(self.state_dir / STATE_FILE, text)
        current = self.state.get("current")
        if current:
            write_atomic(self.state_dir / CURRENT_FILE, current["release"] + "\n")


def other(colour: str) -> str:
    return COLOURS[1] if colour == COLOURS[0] else COLOURS[0]


def spec_for(host: Host, release: Release, colour: str) -> LaunchSpec:
    return LaunchSpec(
        release_id=release.release_id,
        release_dir=str(release.directory),
        start=release.manifest.start,
        port=host.ports[colour],
        database_path=host.database,
    )


def wait_healthy(host: Host, colour: str, health_path: str) -> float:
    """Polls ``/healthz`` on the colour's port until 200; fails early if the unit dies."""
    unit = unit_name(colour)
    url = f"http://127.0.0.1:{host.ports[colour]}{health_path}"
    clock = Stopwatch()
    last = "no answer yet"
    while clock.seconds() < host.health_timeout:
        status, last = probe(url)
        if status == 200:
            return clock.seconds()
        if not host.control.is_active(unit):
            hint = host.log_hint.replace("<colour>", colour)
            raise StepFailed("health", f"{unit} exited before it was healthy (see {hint})")
        time.sleep(0.1)
    raise StepFailed(
        "health", f"{url} not healthy after {host.health_timeout:g} s (last answer: {last})"
    )


def probe(url: str) -> tuple[int, str]:
    """(HTTP status, description) of one GET; status 0 when nothing answered.

    NOTE: a direct connection on purpose: urllib would honour an http_proxy variable and send
    a loopback health check through a proxy.
    """
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=2)
    try:
        connection.request("GET", parts.path or "/", headers={"Connection": "close"})
        status = connection.getresponse().status
        return status, f"HTTP {status}"
    except (OSError, http.client.HTTPException) as error:
        return 0, str(error) or type(error).__name__
    finally:
        connection.close()


def start_colour(host: Host, release: Release, colour: str, op: str) -> None:
    """Starts ``release`` on the idle colour and waits for its health check."""
    unit = unit_name(colour)
    try:
        host.control.stop(unit)
        host.control.write_spec(unit, spec_for(host, release, colour))
        host.control.start(unit)
    except ServiceError as error:
        raise StepFailed("start", str(error)) from None
    emit(f"{op}_colour_started", release=release.release_id, colour=colour, unit=unit)
    seconds = wait_healthy(host, colour, release.manifest.health_path)
    emit(f"{op}_healthy", release=release.release_id, colour=colour, seconds=seconds)


def slot(release: Release, colour: str, port: int, backup: str | None) -> dict[str, Any]:
    return {"release": release.release_id, "colour": colour, "port": port, "backup": backup}


def switch_and_drain(host: Host, new: dict[str, Any], op: str) -> None:
    """Points nginx at ``new``, commits it as current, drains and stops the old colour."""
    old = host.state["current"]
    try:
        workers = host.nginx.switch(new["port"], new["release"], new["colour"])
    except NginxError as error:
        raise StepFailed("switch", str(error)) from None
    emit(
        f"{op}_switched",
        release=new["release"],
        colour=new["colour"],
        port=new["port"],
        previous=old["release"] if old else None,
    )
    host.state["previous"] = old
    host.state["current"] = new
    host.state["pending"] = {"operation": op, "step": "draining", "old": old, "workers": workers}
    host.save()
    finish_drain(host, old, workers, op)


def finish_drain(host: Host, old: dict[str, Any] | None, workers: list[int], op: str) -> None:
    current = host.state["current"]
    if old is not None and old["colour"] != current["colour"]:
        drained, seconds = host.nginx.drain(workers)
        severity = "INFO" if drained else "WARNING"
        emit(f"{op}_drained", severity, colour=old["colour"], seconds=seconds, drained=drained)
        try:
            host.control.stop(unit_name(old["colour"]))
            emit(f"{op}_old_stopped", release=old["release"], colour=old["colour"])
        except ServiceError as error:
            # The switch is done and committed; the next deploy stops the idle colour first.
            emit(f"{op}_old_stop_failed", "WARNING", colour=old["colour"], error=str(error))
    host.state["pending"] = None
    host.save()


def abandon(host: Host, colour: str) -> None:
    """Stops a colour that never took traffic (nginx was not switched to it)."""
    try:
        host.control.stop(unit_name(colour))
    except ServiceError:
        pass
    host.state["pending"] = None
    host.save()


def recover(host: Host, op: str, load_release: Callable[[str], Release | None]) -> None:
    """Finishes or undoes what a killed deploy or rollback left in ``pending``.

    Finished when nginx may already point at the new colour and it is healthy; otherwise
    nginx is pointed back at the serving colour and the new one is stopped.
    ``load_release(release_id)`` returns the installed :class:`Release` or None.
    """
    pending = host.state.get("pending")
    if not pending:
        return
    step = pending.get("step")
    current = host.state.get("current")
    if step == "draining":
        finish_drain(host, pending.get("old"), pending.get("workers") or [], op)
        emit(f"{op}_recovered", "WARNING", action="finished", step=step, release=current["release"])
        return
    new = pending["new"]
    release = load_release(new["release"])
    if step == "switching" and release is not None and _healthy_now(host, new, release):
        switch_and_drain(host, new, op)
        emit(f"{op}_recovered", "WARNING", action="finished", step=step, release=new["release"])
        return
    if step == "switching" and current is not None:
        # nginx may already point at the half-started colour: point it back before stopping it.
        try:
            workers = host.nginx.switch(current["port"], current["release"], current["colour"])
        except NginxError as error:
            raise StepFailed("recover", str(error)) from None
        host.nginx.drain(workers)
    abandon(host, new["colour"])
    emit(f"{op}_recovered", "WARNING", action="undone", step=step, release=new["release"])


def _healthy_now(host: Host, new: dict[str, Any], release: Release) -> bool:
    if not host.control.is_active(unit_name(new["colour"])):
        return False
    url = f"http://127.0.0.1:{new['port']}{release.manifest.health_path}"
    return probe(url)[0] == 200


def roll_out(host: Host, release: Release, op: str, backup: str | None) -> dict[str, Any]:
    """Starts ``release`` beside the serving one and switches to it; undoes itself on failure."""
    current = host.state["current"]
    colour = other(current["colour"]) if current else COLOURS[0]
    new = slot(release, colour, host.ports[colour], backup)
    host.state["pending"] = {"operation": op, "step": "starting", "new": new}
    host.save()
    try:
        start_colour(host, release, colour, op)
        host.state["pending"]["step"] = "switching"
        host.save()
        switch_and_drain(host, new, op)
    except StepFailed:
        pending = host.state.get("pending") or {}
        if pending.get("step") in ("starting", "switching"):
            abandon(host, colour)
        raise
    return new
