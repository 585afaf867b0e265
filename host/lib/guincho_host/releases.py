"""Release archives: fetch, verify, unpack into their own directory, install, prune.

A release archive is a tar.gz with ``release.json`` at its root::

    {"version": "1.4.0", "start": "python3 -m app.server",
     "migrate": "python3 -m app.migrate", "health_path": "/healthz"}

``version`` and ``start`` are required. It unpacks into ``<releases>/<version>-<sha12>``,
named by the archive's content, with its own virtualenv in ``venv/``. A directory counts as
installed only once ``.guincho-release.json`` is written, the last step; anything else
under that name was left by a killed deploy and is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

MANIFEST = "release.json"
MARKER = ".guincho-release.json"
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
RELEASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}-[0-9a-f]{12}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_COMMAND_FORBIDDEN = ("'", "\\", "\n", "\r", "\0")


class ReleaseError(RuntimeError):
    """The archive or its manifest is unusable; the message says what to fix."""


@dataclass(frozen=True)
class Manifest:
    version: str
    start: str
    migrate: str | None
    health_path: str


@dataclass(frozen=True)
class Release:
    """An installed release: its id, directory and manifest."""

    release_id: str
    directory: Path
    manifest: Manifest
    sha256: str


def parse_manifest(text: str) -> Manifest:
    """Validates ``release.json``; every error names the field, the value and what is allowed."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ReleaseError(f"{MANIFEST} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ReleaseError(f"{MANIFEST} must hold a JSON object, not {type(data).__name__}")
    version = data.get("version")
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise ReleaseError(
            f"{MANIFEST} version {version!r} is not allowed; use 1 to 64 letters, digits, "
            "'.', '_', '+' or '-', starting with a letter or digit"
        )
    start = _command(data, "start", required=True)
    assert start is not None
    health_path = data.get("health_path", "/healthz")
    if not isinstance(health_path, str) or not health_path.startswith("/"):
        raise ReleaseError(f"{MANIFEST} health_path {health_path!r} must start with '/'")
    return Manifest(version, start, _command(data, "migrate", required=False), health_path)


def _command(data: dict, key: str, required: bool) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ReleaseError(f"{MANIFEST} {key} {value!r} must be a non-empty command string")
    bad = [char for char in _COMMAND_FORBIDDEN if char in value]
    if bad:
        raise ReleaseError(
            f"{MANIFEST} {key} {value!r} contains {bad[0]!r}; commands may not contain single "
            "quotes, backslashes or line breaks (use double quotes)"
        )
    return value


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(archive: str, incoming: Path, gcloud: str = "gcloud") -> Path:
    """A local copy of the archive: a path, ``file:///path`` or ``gs://bucket/object``."""
    parsed = urlparse(archive)
    if parsed.scheme == "gs":
        incoming.mkdir(parents=True, exist_ok=True)
        target = incoming / f"{os.getpid()}-{Path(parsed.path).name or 'release.tar.gz'}"
        try:
            result = subprocess.run(
                [gcloud, "storage", "cp", archive, str(target)],
                capture_output=True,
                text=True,
                timeout=600,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ReleaseError(f"gcloud storage cp {archive} could not run: {error}") from None
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
            raise ReleaseError(f"gcloud storage cp {archive} failed: {lines[-1]}")
        return target
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
    elif parsed.scheme == "":
        path = Path(archive)
    else:
        raise ReleaseError(
            f"--archive {archive!r} has scheme {parsed.scheme!r}; use a path, file:///path or "
            "gs://bucket/object"
        )
    if not path.is_file():
        raise ReleaseError(f"--archive {archive!r} is not a readable file")
    return path


def read_manifest_from_archive(path: Path) -> Manifest:
    try:
        with tarfile.open(path, "r:gz") as archive:
            member = archive.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            return parse_manifest(member.read().decode("utf-8"))
    except KeyError:
        raise ReleaseError(
            f"archive {path} has no {MANIFEST} at its root; build it with "
            "examples/build_release.py or see docs/releases.md"
        ) from None
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ReleaseError(f"archive {path} is not a readable tar.gz: {error}") from None


def release_id(manifest: Manifest, sha256: str) -> str:
    return f"{manifest.version}-{sha256[:12]}"


def load_installed(releases_dir: Path, rid: str) -> Release | None:
    """The release under that id if it finished installing, else None."""
    directory = releases_dir / rid
    try:
        marker = json.loads((directory / MARKER).read_text(encoding="utf-8"))
        manifest = parse_manifest((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, ReleaseError):
        return None
    return Release(rid, directory, manifest, str(marker.get("sha256", "")))


def unpack(archive: Path, directory: Path) -> None:
    """Extracts with the ``data`` filter: no absolute paths, no ``..``, no devices."""
    if directory.exists():
        shutil.rmtree(directory)
    partial = directory.with_name(f".partial-{directory.name}")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(partial, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise ReleaseError(f"archive {archive} could not be unpacked: {error}") from None
    os.replace(partial, directory)


def requirements_of(directory: Path) -> list[str]:
    path = directory / "requirements.txt"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in (raw.strip() for raw in lines) if line and not line.startswith("#")]


def install(directory: Path, python: str = sys.executable) -> int:
    """Creates ``venv/`` and installs requirements; returns how many lines were installed.

    An empty requirements.txt skips pip (and pip's own install into the venv). A ``wheels/``
    folder in the archive makes the install offline (``--no-index --find-links wheels``).
    """
    requirements = requirements_of(directory)
    venv = directory / "venv"
    command = [python, "-m", "venv"] + ([] if requirements else ["--without-pip"]) + [str(venv)]
    _run(command, "create the virtualenv", timeout=300)
    if requirements:
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
        if (directory / "wheels").is_dir():
            pip += ["--no-index", "--find-links", str(directory / "wheels")]
        _run(pip + ["-r", str(directory / "requirements.txt")], "install requirements", 900)
    return len(requirements)


def mark_installed(directory: Path, rid: str, sha256: str) -> None:
    record = {"release": rid, "sha256": sha256, "installed_at": time.time()}
    (directory / MARKER).write_text(json.dumps(record) + "\n", encoding="utf-8")


def prune(releases_dir: Path, keep: int, protected: set[str]) -> list[str]:
    """Removes installed releases beyond the ``keep`` newest, never one in ``protected``."""
    installed = []
    for directory in releases_dir.iterdir() if releases_dir.is_dir() else []:
        if directory.name.startswith(".partial-"):
            shutil.rmtree(directory, ignore_errors=True)
            continue
        marker = directory / MARKER
        if directory.is_dir() and marker.exists():
            installed.append((marker.stat().st_mtime, directory.name))
    installed.sort(reverse=True)
    removed = []
    for _mtime, name in installed[keep:]:
        if name not in protected:
            shutil.rmtree(releases_dir / name, ignore_errors=True)
            removed.append(name)
    return sorted(removed)


def _run(command: list[str], what: str, timeout: int) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ReleaseError(f"could not {what}: {error}") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise ReleaseError(f"could not {what}: {lines[-1] if lines else result.returncode}")
