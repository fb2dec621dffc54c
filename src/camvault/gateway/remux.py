"""``.mkv`` and ``.avi`` clips copied into MP4, streams untouched (no re-encoding).

Browsers play MP4; many cameras record Matroska or AVI. Remuxing copies the compressed
packets into a new container, so it is fast and lossless. When a stream cannot go into MP4
(e.g. a codec MP4 does not carry) or the file is damaged, the remux fails and the caller keeps
the original file: a clip is never lost to a conversion.

It decides only the container conversion; it never decides names or publishes anything.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import av

__all__ = ["remux_to_mp4"]

log = logging.getLogger("camvault.gateway")


def remux_to_mp4(source: Path) -> Path | None:
    """Write ``source`` as ``NAME.mp4`` beside it and return that path, or None if it cannot be.

    The MP4 is written to a temporary name, fsynced and renamed into place; on failure nothing
    is left behind and ``source`` is untouched.
    """
    target = source.with_suffix(".mp4")
    partial = source.with_name(f".{target.name}.remux")
    try:
        _copy_streams(source, partial)
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        partial.replace(target)
    except (av.FFmpegError, OSError, ValueError) as exc:
        log.warning("kept %s as uploaded: cannot remux it to MP4 (%s)", source.name, exc)
        partial.unlink(missing_ok=True)
        return None
    return target


def _copy_streams(source: Path, target: Path) -> None:
    with av.open(str(source)) as given, av.open(str(target), "w", format="mp4") as output:
        mapping: dict[int, Any] = {}
        for stream in given.streams:
            if stream.type in ("video", "audio"):
                mapping[stream.index] = output.add_stream_from_template(stream)
        if not any(stream.type == "video" for stream in given.streams):
            raise ValueError("no video stream")
        timing = _DecodeTimes()
        packets = 0
        for packet in given.demux(*[given.streams[index] for index in mapping]):
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            for ready in timing.ready(packet):
                ready.stream = mapping[ready.stream.index]
                output.mux(ready)
                packets += 1
        for ready in timing.rest():
            ready.stream = mapping[ready.stream.index]
            output.mux(ready)
            packets += 1
        if not packets:
            raise ValueError("no packets")


class _DecodeTimes:
    """Fills in the decode times Matroska does not store, which MP4 requires.

    A Matroska demuxer reports no DTS for the first packets of a stream with B-frames. They are
    held until the first known DTS, then numbered backwards from it one packet duration apart,
    as FFmpeg's own remuxer does; a stream that never reports a DTS has none to reorder, so
    its DTS is its PTS.
    """

    def __init__(self) -> None:
        self._held: dict[int, list[Any]] = {}
        self._last: dict[int, tuple[int, int]] = {}

    def ready(self, packet: Any) -> list[Any]:
        index = packet.stream.index
        held = self._held.setdefault(index, [])
        if packet.dts is None and index not in self._last:
            held.append(packet)
            return []
        if packet.dts is None:
            last, step = self._last[index]
            packet.dts = last + step
        step = packet.duration or 1
        for back, early in enumerate(reversed(held), start=1):
            early.dts = packet.dts - back * step
        self._last[index] = (packet.dts, step)
        ready = [*held, packet]
        held.clear()
        return ready

    def rest(self) -> list[Any]:
        rest = []
        for held in self._held.values():
            for packet in held:
                packet.dts = packet.pts
                rest.append(packet)
            held.clear()
        return rest
