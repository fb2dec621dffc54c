"""What a camera's upload path means: publish it, wait for its rename, or ignore it.

Cameras upload in their own folder layouts (Foscam ``MDAlarm_…``, Hikvision
``CAM_01_2016…_MOTION.jpg``, Dahua ``2024-01-02/001/jpg/13/05/07[M][0@0][0].jpg``, Reolink
``Front_00_20240102130507.mp4``); the capture-time patterns in :mod:`camvault.domain.capture`
read them from the path relative to the camera's FTP home, which is therefore the upload's
``source_path``. This module decides, from the name alone:

- ``publish``: a clip or snapshot under its final name;
- ``temporary``: a name a client writes before renaming it (Dahua ``.mp4_``, ``.tmp``, ``.part``,
  lftp's ``.in.NAME`` and other hidden names); published when renamed to a final name;
- ``ignore``: index files and other sidecars (``.idx``, ``.txt``, ``.xml``), never published.

It never performs I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from camvault.domain.keys import kind_for_filename

__all__ = ["Disposition", "UploadName", "classify", "remuxable", "source_path"]

Disposition = Literal["publish", "temporary", "ignore"]

TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".temp", ".upload", ".crdownload")
"""Suffixes clients append while a file is being written (compared case-insensitively)."""

REMUX_SUFFIXES = (".mkv", ".avi")
"""Clip containers remuxed to MP4 (streams copied, never re-encoded) before publishing."""


@dataclass(frozen=True)
class UploadName:
    """One upload path, relative to the camera's home, and what to do with it."""

    source_path: str
    disposition: Disposition

    @property
    def filename(self) -> str:
        return PurePosixPath(self.source_path).name


def source_path(relative: str) -> str:
    """The camera's path for an upload, POSIX, without a leading ``/`` (its home is the root)."""
    return str(PurePosixPath("/", relative)).lstrip("/")


def _is_temporary(name: str) -> bool:
    lowered = name.lower()
    if lowered.startswith("."):  # lftp's ".in.NAME", rsync-like ".NAME.XXXX", hidden work files
        return True
    if lowered.endswith("_"):  # Dahua writes "clip.mp4_" and renames it to "clip.mp4"
        return True
    return lowered.endswith(TEMPORARY_SUFFIXES)


def classify(relative: str) -> UploadName:
    """Classify the upload at ``relative`` (a path inside the camera's home)."""
    path = source_path(relative)
    name = PurePosixPath(path).name
    if _is_temporary(name):
        return UploadName(path, "temporary")
    if kind_for_filename(name) is None:
        return UploadName(path, "ignore")
    return UploadName(path, "publish")


def remuxable(relative: str) -> bool:
    """True for clip containers that are copied into MP4 before publishing."""
    return PurePosixPath(relative).suffix.lower() in REMUX_SUFFIXES
