"""Backup destinations: ``gs://bucket/prefix`` through ``gcloud storage``, ``file:///dir`` here.

Both offer the same few operations, and none of them overwrites or deletes anything at a
remote destination: the app's service account may create and read objects in the backup
bucket, never delete or replace them (the bucket's retention policy forbids it anyway).

- :meth:`Store.put_new` creates an object that must not exist yet. In GCS that is an upload
  with ``--if-generation-match=0``; an upload is atomic (the object appears complete or not
  at all). Parallel composite uploads are switched off: they upload parts and then DELETE
  them, which the service account may not do. In a directory it is a copy to a hidden
  temporary file, fsync, then a hard link to the final name (a link, unlike a rename,
  refuses to replace an existing name), fsync of the directory.
- :meth:`Store.fetch`, :meth:`Store.read_text`, :meth:`Store.list` read.
- :meth:`FileStore.remove` exists only for the host's own local copies (retention).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from guincho_host.sqlite_copy import fsync_dir

TMP_PREFIX = ".tmp-"
GCLOUD_TIMEOUT_SECONDS = 3600


class StorageError(RuntimeError):
    """A destination could not be read or written; the message names the object and why."""


class AlreadyExists(StorageError):
    """put_new found the name taken."""


class Store(Protocol):
    url: str

    def describe(self, relpath: str) -> str: ...

    def put_new(self, local: Path, relpath: str) -> None: ...

    def fetch(self, relpath: str, local: Path) -> None: ...

    def read_text(self, relpath: str) -> str: ...

    def list(self, folder: str) -> list[str]: ...


def open_store(url: str) -> "FileStore | GcsStore":
    """The store for a ``gs://bucket/prefix`` or ``file:///dir`` URL; ValueError otherwise."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            raise ValueError(f"{url!r} is not a file URL of an absolute path (file:///dir)")
        return FileStore(Path(unquote(parsed.path)))
    if parsed.scheme == "gs":
        if not parsed.netloc:
            raise ValueError(f"{url!r} names no bucket (gs://bucket/prefix)")
        return GcsStore(parsed.netloc, parsed.path.strip("/"))
    raise ValueError(f"{url!r} is neither gs://bucket/prefix nor file:///dir")


class FileStore:
    """A directory: tests, offline use, and the host's local copies on the data disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root}"

    def path(self, relpath: str) -> Path:
        return self.root / relpath

    def describe(self, relpath: str) -> str:
        return f"file://{self.path(relpath)}"

    def put_new(self, local: Path, relpath: str, link: bool = False) -> None:
        """Creates ``relpath`` with the bytes of ``local``; ``link`` hard-links instead of copying.

        Linking suits a finished, fsynced file on the same disk (the host's local copies).
        """
        final = self.path(relpath)
        if final.exists():
            raise AlreadyExists(f"{self.describe(relpath)} already exists")
        tmp = final.with_name(f"{TMP_PREFIX}{final.name}.{os.getpid()}")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if link:
                os.link(local, tmp)
            else:
                _copy_synced(local, tmp)
            os.link(tmp, final)
            fsync_dir(final.parent)
        except FileExistsError:
            raise AlreadyExists(f"{self.describe(relpath)} already exists") from None
        except OSError as error:
            where = self.describe(relpath)
            raise StorageError(f"writing {where} failed: {_reason(error)}") from None
        finally:
            _unlink_quietly(tmp)

    def fetch(self, relpath: str, local: Path) -> None:
        try:
            _copy_synced(self.path(relpath), local)
        except OSError as error:
            where = self.describe(relpath)
            raise StorageError(f"reading {where} failed: {_reason(error)}") from None

    def read_text(self, relpath: str) -> str:
        try:
            return self.path(relpath).read_text(encoding="utf-8")
        except OSError as error:
            where = self.describe(relpath)
            raise StorageError(f"reading {where} failed: {_reason(error)}") from None

    def list(self, folder: str) -> list[str]:
        directory = self.path(folder)
        if not directory.is_dir():
            return []
        return sorted(p.name for p in directory.iterdir() if not p.name.startswith(TMP_PREFIX))

    def remove(self, relpath: str) -> None:
        _unlink_quietly(self.path(relpath))

    def clean_temporaries(self) -> list[str]:
        """Removes hidden temporary files a killed writer left; call with the backup lock held."""
        removed: list[str] = []
        for folder in ("data", "manifests"):
            directory = self.path(folder)
            if directory.is_dir():
                for item in directory.glob(f"{TMP_PREFIX}*"):
                    _unlink_quietly(item)
                    removed.append(str(item))
        return removed


class GcsStore:
    """A Cloud Storage prefix, through the ``gcloud storage`` command of the VM's SDK.

    ``GUINCHO_GCLOUD`` replaces the gcloud binary (tests use a stand-in).
    """

    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.url = f"gs://{bucket}/{prefix}".rstrip("/")
        self.gcloud = os.environ.get("GUINCHO_GCLOUD", "gcloud")

    def describe(self, relpath: str) -> str:
        return f"{self.url}/{relpath}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env["CLOUDSDK_STORAGE_PARALLEL_COMPOSITE_UPLOAD_ENABLED"] = "False"
        env["CLOUDSDK_CORE_DISABLE_PROMPTS"] = "1"
        try:
            return subprocess.run(
                [self.gcloud, "storage", *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=GCLOUD_TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise StorageError(f"{self.gcloud} storage {args[0]} failed: {error}") from None

    def put_new(self, local: Path, relpath: str) -> None:
        target = self.describe(relpath)
        result = self._run("cp", "--if-generation-match=0", "--quiet", str(local), target)
        if result.returncode == 0:
            return
        detail = _last_line(result)
        if "412" in detail or "precondition" in detail.lower():
            raise AlreadyExists(f"{target} already exists")
        raise StorageError(f"uploading {target} failed: {detail}")

    def fetch(self, relpath: str, local: Path) -> None:
        source = self.describe(relpath)
        result = self._run("cp", "--do-not-decompress", "--quiet", source, str(local))
        if result.returncode != 0:
            raise StorageError(f"downloading {source} failed: {_last_line(result)}")

    def read_text(self, relpath: str) -> str:
        source = self.describe(relpath)
        result = self._run("cat", source)
        if result.returncode != 0:
            raise StorageError(f"reading {source} failed: {_last_line(result)}")
        return result.stdout

    def list(self, folder: str) -> list[str]:
        where = self.describe(folder) + "/"
        result = self._run("ls", where)
        if result.returncode != 0:
            detail = _last_line(result)
            if "matched no objects" in detail or "not found" in detail.lower():
                return []
            raise StorageError(f"listing {where} failed: {detail}")
        names = [line.strip().rsplit("/", 1)[-1] for line in result.stdout.splitlines()]
        return sorted(name for name in names if name)


def _copy_synced(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "xb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"
