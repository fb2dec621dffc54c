"""The ``file://`` object store: a plain directory tree with atomic writes.

Layout under ``root`` (the directory's name is the bucket name):

- ``root/<key>``: the object's bytes, exactly as put (mode 0600: private by default).
- ``root/.camvault-meta/<key>.json``: a sidecar with content type, metadata, md5 etag, size,
  put time and the object file's inode. A sidecar whose inode or size does not match the file
  is stale and ignored; so are missing ones: such an object (copied in by hand, or caught in
  the instant between the two renames of a put) reads with a content type guessed from its name,
  no etag and no metadata.
- ``.camvault-tmp-*``: files being written. Key parts starting with ``.camvault-`` are reserved
  (``url.check_key``), so neither temp files nor sidecars are ever listed or reachable by a key.
  A crash can leave one behind; ``remove_stale_temp_files`` (run by retention) removes those
  older than a day.

A put streams the data in 1 MiB chunks into a temp file beside the target while hashing it,
fsyncs it, writes the sidecar (temp, fsync, rename), renames the object into place and fsyncs
the directory: a reader sees the old object or the whole new one, never a part. The put returns
the MD5 of the bytes it wrote as the ETag (the rename of a fully written, fsynced file is the
verification a network store gets from its checksums). With
``if_absent`` the object is hard-linked into place instead, which fails when the key exists,
so of two racing puts exactly one wins; the sidecar follows the link.

It never talks to a network.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import mimetypes
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from camvault.clock import Clock, utcnow
from camvault.store.base import Notify, ObjectExists, ObjectInfo, ObjectNotFound, PutResult, StoreError
from camvault.store.streams import buffered, check_range, iter_chunks, send_created_notification
from camvault.store.url import (
    RESERVED_PART_PREFIX,
    BadObjectKey,
    check_content_type,
    check_key,
    check_metadata,
)

logger = logging.getLogger(__name__)

META_DIR = RESERVED_PART_PREFIX + "meta"
TMP_PREFIX = RESERVED_PART_PREFIX + "tmp-"
_DEFAULT_CONTENT_TYPE = "application/octet-stream"


class LocalStore:
    """Objects as files under ``root``; see the module docstring for the layout."""

    def __init__(
        self,
        root: Path,
        *,
        notify: Notify | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._root = root.absolute()
        self._meta_root = self._root / META_DIR
        self._notify = notify
        self._clock = clock
        try:
            self._meta_root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store directory {self._root}: {exc.strerror}: "
                "check [storage] url and the folder's permissions"
            ) from exc

    @property
    def bucket(self) -> str:
        return self._root.name

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*check_key(key).split("/"))

    def _sidecar(self, key: str) -> Path:
        return self._meta_root.joinpath(*key.split("/")).with_name(key.rsplit("/", 1)[-1] + ".json")

    def put(
        self,
        key: str,
        data: BinaryIO | bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        target = self._path(key)
        content_type = check_content_type(content_type)
        checked = check_metadata(metadata)
        if if_absent and target.exists():
            raise ObjectExists(f"an object already exists at {key!r} in {self._root}")
        try:
            tmp, size, etag = self._write_temp(target.parent, data)
        except OSError as exc:
            raise self._write_error(key, exc) from exc
        info = PutResult(key, size, content_type, self._clock(), etag, checked)
        try:
            inode = tmp.stat().st_ino
            if if_absent:
                self._link_into_place(tmp, target, info, inode)
            else:
                self._write_sidecar(info, inode)
                tmp.replace(target)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise self._write_error(key, exc) from exc
        finally:
            tmp.unlink(missing_ok=True)
        send_created_notification(self._notify, bucket=self.bucket, info=info, region="local")
        return info

    def _link_into_place(self, tmp: Path, target: Path, info: ObjectInfo, inode: int) -> None:
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise ObjectExists(f"an object already exists at {info.key!r} in {self._root}") from None
        try:
            self._write_sidecar(info, inode)
        except OSError:
            if target.stat().st_ino == inode:
                target.unlink()
            raise

    def _write_temp(self, parent: Path, data: BinaryIO | bytes) -> tuple[Path, int, str]:
        fd, name = self._make_temp(parent)
        tmp = Path(name)
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in iter_chunks(data):
                    md5.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, size, md5.hexdigest()

    def _make_temp(self, parent: Path) -> tuple[int, str]:
        # A concurrent delete may remove an empty parent between mkdir and mkstemp: retry.
        for attempt in range(3):
            parent.mkdir(parents=True, exist_ok=True)
            try:
                return tempfile.mkstemp(prefix=TMP_PREFIX, dir=parent)
            except FileNotFoundError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_sidecar(self, info: ObjectInfo, inode: int) -> None:
        path = self._sidecar(info.key)
        document = {
            "key": info.key,
            "size": info.size,
            "content_type": info.content_type,
            "etag": info.etag,
            "metadata": dict(info.metadata),
            "last_modified": info.last_modified.astimezone(UTC).isoformat(),
            "inode": inode,
        }
        fd, name = self._make_temp(path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(document, out, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            Path(name).replace(path)
        finally:
            Path(name).unlink(missing_ok=True)
        _fsync_dir(path.parent)

    def _write_error(self, key: str, exc: OSError) -> StoreError:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return StoreError(
                f"cannot store {key!r}: disk full: free space on {self._root} "
                "or set [storage] url to a larger disk"
            )
        if isinstance(exc, NotADirectoryError | IsADirectoryError | FileExistsError):
            return StoreError(
                f"cannot store {key!r} in {self._root}: a file and a folder would share a name "
                "(a key must not be a folder of another key)"
            )
        return StoreError(
            f"cannot store {key!r} in {self._root}: {exc.strerror or exc}: "
            "check the folder's permissions and free space"
        )

    def head(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(f"no object at {key!r} in {self._root}") from None
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFound(f"no object at {key!r} in {self._root}")
        side = self._read_sidecar(key)
        if side is not None and side.get("inode") == st.st_ino and side.get("size") == st.st_size:
            return ObjectInfo(
                key=key,
                size=st.st_size,
                content_type=str(side["content_type"]),
                last_modified=datetime.fromisoformat(str(side["last_modified"])),
                etag=side.get("etag"),
                metadata={str(k): str(v) for k, v in dict(side.get("metadata") or {}).items()},
            )
        return ObjectInfo(
            key=key,
            size=st.st_size,
            content_type=mimetypes.guess_type(key)[0] or _DEFAULT_CONTENT_TYPE,
            last_modified=datetime.fromtimestamp(st.st_mtime, UTC),
        )

    def _read_sidecar(self, key: str) -> dict[str, Any] | None:
        try:
            loaded = json.loads(self._sidecar(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable metadata sidecar of %r: %s", key, exc)
            return None
        return loaded if isinstance(loaded, dict) else None

    def open(self, key: str, start: int = 0, length: int | None = None) -> BinaryIO:
        check_range(start, length)
        path = self._path(key)
        try:
            stream = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(f"no object at {key!r} in {self._root}") from None
        stream.seek(start)
        return stream if length is None else buffered(stream, length)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix`` (string prefix, as S3), in UTF-8 key order."""
        folder = prefix.rpartition("/")[0]
        start = self._path(folder) if folder else self._root
        keys = sorted(
            (key for key in self._walk(start) if key.startswith(prefix)),
            key=lambda key: key.encode("utf-8"),
        )
        for key in keys:
            try:
                yield self.head(key)
            except ObjectNotFound:
                continue  # deleted while listing

    def _walk(self, start: Path) -> Iterator[str]:
        for folder, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(RESERVED_PART_PREFIX)]
            relative = Path(folder).relative_to(self._root).as_posix()
            for name in filenames:
                key = name if relative == "." else f"{relative}/{name}"
                path = Path(folder, name)
                if name.startswith(RESERVED_PART_PREFIX) or path.is_symlink():
                    continue
                try:
                    yield check_key(key)
                except BadObjectKey:
                    logger.warning("skipping %s: its name is not a valid object key", path)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
            self._sidecar(key).unlink(missing_ok=True)
        except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
            if path.is_dir() or not path.exists():
                return  # a folder is not an object: nothing to delete
            raise StoreError(f"cannot delete {key!r} in {self._root}: {exc.strerror}") from exc
        except OSError as exc:
            raise StoreError(f"cannot delete {key!r} in {self._root}: {exc.strerror}") from exc
        _remove_empty_parents(path.parent, self._root)
        _remove_empty_parents(self._sidecar(key).parent, self._meta_root)

    def set_tags(self, key: str, tags: Mapping[str, str]) -> None:
        """No tags on ``file://``: nothing expires by itself here, ``camvault retention`` reads
        the keep markers. Still ObjectNotFound when absent, as every store."""
        self.head(key)

    def presign(self, key: str, expires_s: int, *, content_disposition: str | None = None) -> str | None:
        check_key(key)
        return None

    def remove_stale_temp_files(self, older_than: datetime) -> int:
        """Delete ``.camvault-tmp-*`` files last written before ``older_than`` (left by a crash
        during a put); returns how many. A put in progress writes its temp file continuously."""
        removed = 0
        cutoff = older_than.timestamp()
        for folder, _, filenames in os.walk(self._root):
            for name in filenames:
                path = Path(folder, name)
                try:
                    if name.startswith(TMP_PREFIX) and path.lstat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(f"no object at {key!r} in {self._root}")
        return path

    def close(self) -> None:
        """Nothing to release: every operation opens and closes its own files."""


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or already gone with its parent): stop climbing
        folder = folder.parent
