"""A backup's layout at its destination, its manifest, and its compressed data object.

Every destination (``gs://bucket/prefix`` or ``file:///dir``) holds the same two folders:

- ``data/<sha256>.sqlite3.gz``: the database, gzip-compressed, named by the sha256 of the
  compressed bytes. A content-addressed name is never reused for other content, so an upload
  that may not overwrite anything can still be retried after a crash.
- ``manifests/<name>.json``: one per backup, written LAST. A reader lists manifests only, so
  a backup exists for a reader exactly when its manifest does, and then its data object is
  already complete.

``<name>`` is ``<UTC time to the millisecond>-<kind>-<first 12 hex digits of the data
sha256>``, e.g. ``20261203T020000.123Z-daily-0123456789ab``; names sort by time, so the
latest backup is the greatest name.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import zlib
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

FORMAT = "guincho-backup/1"
KINDS = ("pre-deploy", "daily", "weekly")
DATA_DIR = "data"
MANIFEST_DIR = "manifests"
CHUNK = 1024 * 1024
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
NAME_RE = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-(pre-deploy|daily|weekly)-[0-9a-f]{12}$")


class ManifestError(ValueError):
    """A manifest is unreadable or incomplete; the message names the manifest and the field."""


@dataclass(frozen=True)
class Manifest:
    """Everything a restore needs to find, check and describe one backup."""

    name: str
    kind: str
    created: str
    host: str
    stage: str
    source: str
    object: str
    sha256: str
    compressed_bytes: int
    database_sha256: str
    bytes: int
    page_size: int
    page_count: int
    schema_hash: str
    user_version: int
    tables: int
    sqlite_version: str
    host_state: dict[str, Any] | None = None
    format: str = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.created.replace("Z", "+00:00"))


_REQUIRED: dict[str, type] = {
    "name": str,
    "kind": str,
    "created": str,
    "object": str,
    "sha256": str,
    "compressed_bytes": int,
    "database_sha256": str,
    "bytes": int,
    "page_size": int,
    "page_count": int,
    "schema_hash": str,
}


def parse_manifest(text: str, where: str) -> Manifest:
    """Reads a manifest; refuses one that is not JSON, of another format, or lacks a field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(f"manifest {where} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"manifest {where} is not a JSON object")
    if data.get("format") != FORMAT:
        raise ManifestError(
            f"manifest {where} has format {data.get('format')!r}; this restore reads {FORMAT!r}"
        )
    for key, kind in _REQUIRED.items():
        if not isinstance(data.get(key), kind):
            raise ManifestError(f"manifest {where} lacks {key!r} (a {kind.__name__})")
    if data["object"] != data_path(data["sha256"]) or not SHA_RE.match(data["sha256"]):
        raise ManifestError(
            f"manifest {where} names object {data['object']!r}; a backup's object is "
            f"{DATA_DIR}/<its sha256>.sqlite3.gz"
        )
    known = set(Manifest.__dataclass_fields__)
    return Manifest(**{key: value for key, value in data.items() if key in known})


def backup_name(created: datetime, kind: str, sha256: str) -> str:
    moment = created.astimezone(timezone.utc)
    return f"{moment:%Y%m%dT%H%M%S}.{moment.microsecond // 1000:03d}Z-{kind}-{sha256[:12]}"


def data_path(sha256: str) -> str:
    return f"{DATA_DIR}/{sha256}.sqlite3.gz"


def manifest_path(name: str) -> str:
    return f"{MANIFEST_DIR}/{name}.json"


class _HashingWriter:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


@dataclass(frozen=True)
class Packed:
    database_sha256: str
    bytes: int
    sha256: str
    compressed_bytes: int


def compress(source: Path, target: Path, level: int) -> Packed:
    """gzips ``source`` into ``target`` in one pass, hashing both sides; fsyncs ``target``.

    The gzip header carries no time and no file name, so equal databases give equal objects
    (and equal content-addressed names).
    """
    raw_digest = hashlib.sha256()
    raw_size = 0
    with open(source, "rb") as src, open(target, "xb") as out:
        hashing = _HashingWriter(out)
        packer = gzip.GzipFile(
            filename="", mode="wb", fileobj=hashing, compresslevel=level, mtime=0  # type: ignore
        )
        with packer:
            while chunk := src.read(CHUNK):
                raw_digest.update(chunk)
                raw_size += len(chunk)
                packer.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return Packed(raw_digest.hexdigest(), raw_size, hashing.digest.hexdigest(), hashing.size)


@dataclass(frozen=True)
class Unpacked:
    """What one pass over a data object measured: both sides' sha256 and size."""

    sha256: str
    bytes: int
    packed_sha256: str
    packed_bytes: int


def decompress(source: Path, target: Path) -> Unpacked:
    """Un-gzips ``source`` into the new file ``target`` in one pass, hashing both sides.

    zlib directly, output in bounded pieces (a file of zero pages compresses a thousandfold).
    A truncated, damaged or over-long object raises :class:`ManifestError` naming it.
    """
    digest, packed_digest = hashlib.sha256(), hashlib.sha256()
    size = packed_size = 0
    inflater = zlib.decompressobj(wbits=31)
    try:
        with open(source, "rb") as src, open(target, "xb") as out:
            while not inflater.eof and (chunk := src.read(CHUNK)):
                packed_digest.update(chunk)
                packed_size += len(chunk)
                while chunk and not inflater.eof:
                    piece = inflater.decompress(chunk, CHUNK)
                    digest.update(piece)
                    size += len(piece)
                    out.write(piece)
                    chunk = inflater.unconsumed_tail
            # Input past the gzip end lands in unused_data; anything unread is past it too.
            trailing = len(inflater.unused_data) + len(src.read(1))
    except zlib.error as error:
        raise ManifestError(f"{source.name} does not decompress: {error}") from None
    if not inflater.eof:
        raise ManifestError(f"{source.name} does not decompress: it ends before its gzip end")
    if trailing:
        raise ManifestError(f"{source.name} has bytes after its gzip end")
    return Unpacked(digest.hexdigest(), size, packed_digest.hexdigest(), packed_size)
