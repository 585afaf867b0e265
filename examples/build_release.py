#!/usr/bin/env python3
"""Builds the sample app's release archive: a reproducible tar.gz named by its sha256.

The archive holds release.json at its root (the manifest host/bin/deploy reads), the app and
requirements.txt. Files are sorted, owned by root and dated 0, so the same sources always give
the same bytes and the same sha256: the Pulumi release component uploads it content-addressed.

    npm run build:sample-release            # writes examples/dist/<sha256>.tar.gz
    python3 examples/build_release.py --out /tmp/r --version 1.0.1 --fault unhealthy

Prints one JSON line: {"archive", "sha256", "version", "bytes"}.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import sys
import tarfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "sample-app"
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
# Drills for the deploy tests and the benchmark: releases that must be refused.
FAULTS = {
    "unhealthy": {"start": "python3 -m guincho_sample.server --fail-health"},
    "migration": {"migrate": "python3 -m guincho_sample.migrate --fail"},
    "crash": {"start": "exit 3"},
}


def manifest(version: str | None, fault: str | None) -> dict[str, str]:
    data = json.loads((SOURCE / "release.json").read_text(encoding="utf-8"))
    if version is not None:
        data["version"] = version
    if fault is not None:
        data.update(FAULTS[fault])
    return data


def source_files() -> list[Path]:
    skip = {"__pycache__", "release.json"}
    files = [
        path
        for path in SOURCE.rglob("*")
        if path.is_file() and not skip.intersection(path.relative_to(SOURCE).parts)
        and path.suffix != ".pyc"
    ]
    return sorted(files, key=lambda path: path.relative_to(SOURCE).as_posix())


def add_bytes(archive: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    archive.addfile(info, io.BytesIO(data))


def build(data: dict[str, str]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        add_bytes(archive, "release.json", (json.dumps(data, indent=2) + "\n").encode())
        for path in source_files():
            add_bytes(archive, path.relative_to(SOURCE).as_posix(), path.read_bytes())
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, compresslevel=9) as handle:
        handle.write(raw.getvalue())
    return packed.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out",
        default=str(Path(__file__).resolve().parent / "dist"),
        help="directory (or .tar.gz path) to write to (default: examples/dist)",
    )
    parser.add_argument("--version", help="release version (default: the one in release.json)")
    parser.add_argument("--fault", choices=sorted(FAULTS), help="drill: build a release that fails")
    args = parser.parse_args()
    if args.version is not None and not VERSION_RE.match(args.version):
        sys.stderr.write(
            f"build_release: error: --version {args.version!r} is not allowed; use letters, "
            "digits, '.', '_', '+' or '-' (at most 64)\n"
        )
        return 2
    data = manifest(args.version, args.fault)
    archive = build(data)
    sha256 = hashlib.sha256(archive).hexdigest()
    out = Path(args.out)
    target = out if out.name.endswith(".tar.gz") else out / f"{sha256}.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(archive)
    summary = {"archive": str(target), "sha256": sha256, "version": data["version"]}
    print(json.dumps({**summary, "bytes": len(archive)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
