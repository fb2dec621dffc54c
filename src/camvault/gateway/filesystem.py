"""Each camera sees only its own home: the confinement of every FTP path.

A camera's FTP root is ``Spool.home(camera)``. This module decides which paths inside it a
command may touch, and refuses everything else: names with NUL or control bytes, names longer
than a file name may be, paths longer than ``MAX_PATH``, ``..`` that climbs above the root,
symbolic links (whatever they point to), and so any other camera's home. An absolute FTP path
(``/etc/passwd``) is read inside the camera's root, as on a chrooted server.

Writing never changes a file in place: a new upload under an existing name gets a new inode,
and APPE or REST first copies the old bytes to a new inode, because a committed upload's
inode is shared with the spool (a hard link) until the object store has it.

It never decides what an upload means (that is :mod:`camvault.gateway.layouts`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO, Any

from pyftpdlib.filesystems import AbstractedFS, FilesystemError

from camvault.domain.keys import MAX_FILENAME_LENGTH

__all__ = ["MAX_PATH", "ConfinedFS", "climbs_out", "path_problem"]

MAX_PATH = 1024
"""Longest FTP path argument accepted, in characters."""

_CONTROL = {chr(code) for code in range(32)} | {"\x7f"}


def path_problem(ftp_path: str) -> str | None:
    """Why an FTP path argument is refused before it reaches the file system; None if it is not."""
    if "\x00" in ftp_path:
        return "path contains a NUL byte"
    if _CONTROL & set(ftp_path):
        return "path contains a control character"
    if len(ftp_path) > MAX_PATH:
        return f"path longer than {MAX_PATH} characters"
    if any(len(part) > MAX_FILENAME_LENGTH for part in ftp_path.split("/")):
        return f"file name longer than {MAX_FILENAME_LENGTH} characters"
    return None


def climbs_out(cwd: str, ftp_path: str) -> bool:
    """True if ``ftp_path``, read from the virtual folder ``cwd``, uses ``..`` to climb above the
    root. Such a path is refused, not silently clamped at the root."""
    depth = 0 if ftp_path.startswith("/") else len([part for part in cwd.split("/") if part])
    for part in ftp_path.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part and part != ".":
            depth += 1
    return False


class ConfinedFS(AbstractedFS):  # type: ignore[misc]  # pyftpdlib is untyped
    """pyftpdlib's virtual file system, confined to one camera's home and never following links."""

    def validpath(self, path: str) -> bool:
        if path_problem(path) is not None:
            return False
        root = Path(self.root)
        try:
            relative = Path(path).relative_to(root)
        except ValueError:
            return False
        current = root
        for part in relative.parts:
            if part in ("..", "."):
                return False
            current = current / part
            if current.is_symlink():
                return False
        # Below the root by its name, and no part below the root is a link: the file is inside
        # the root, which is all pyftpdlib's check (resolving the root and the path) would find.
        return True

    def open(self, filename: str, mode: str) -> IO[Any]:
        if not self.validpath(filename):
            raise FilesystemError("path is outside your home")
        if mode.startswith("r") and "+" not in mode:
            return Path(filename).open(mode)
        if mode.startswith("w"):
            _unlink_file(filename)
            return open(filename, mode, opener=_create_new)
        _copy_to_new_inode(filename)
        return open(filename, mode, opener=_open_existing)

    def mkdir(self, path: str) -> None:
        Path(path).mkdir(mode=0o700)

    def rename(self, src: str, dst: str) -> None:
        if Path(dst).is_dir() and not Path(src).is_dir():
            raise FilesystemError("destination is a directory")
        Path(src).replace(dst)


def _create_new(path: str, flags: int) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)


def _open_existing(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW, 0o600)


def _unlink_file(path: str) -> None:
    """Remove the name (never the data a hard link elsewhere still holds)."""
    target = Path(path)
    if target.is_symlink() or target.is_file():
        target.unlink()


def _copy_to_new_inode(path: str) -> None:
    """Give ``path`` its own inode, with the same bytes, before it is changed in place."""
    source = Path(path)
    if not source.is_file() or source.is_symlink():
        return
    copy = source.with_name(f".{source.name}.camvault-copy")
    shutil.copyfile(source, copy, follow_symlinks=False)
    copy.replace(source)
