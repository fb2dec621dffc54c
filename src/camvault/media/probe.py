"""Media facts and a thumbnail from one bounded read of a clip or a snapshot, with PyAV.

``analyse`` decides whether a file is playable (it has a video stream and at least one decodable
frame), what it is (container, duration, size, codecs) and, from the same open of the file, makes
its JPEG thumbnail. Bad content never raises: an empty, corrupt, truncated, oversized or too slow
file, a wrong format or one without video becomes ``ProbeResult.unplayable`` with a reason a
person can act on. A file that cannot be read at all (missing, no permission, a directory or
other non-regular file, too many open files, an I/O error) says nothing about its content and
raises ``MediaReadError`` instead, so the caller retries later rather than cataloging a good clip
as unplayable for ever. The read is bounded in time (``max_seconds``), work (``max_packets``),
memory (``max_pixels``, checked before any frame is decoded) and, while FFmpeg works out the
streams, bytes (``probe_bytes``) and stream time (``probe_seconds``).

Only the file itself is read: FFmpeg may use the ``file`` protocol alone and only the demuxers
cameras write (no playlists, no concat scripts, no image-sequence patterns), so a hostile upload
cannot make the probe open other files or the network.

It never transcodes, never writes files and never touches the object store or the catalog:
callers pass a local path in and store what comes out.
"""

from __future__ import annotations

import errno
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import av
import av.logging
from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from camvault.domain.model import MediaAnalysis, MediaInfo, ProbeResult
from camvault.media.thumbnail import encode_thumbnail

# The demuxers camvault lets FFmpeg use: what IP cameras record, and still images.
SUPPORTED_DEMUXERS: tuple[str, ...] = (
    "mov",  # MP4 / MOV / 3GP (FFmpeg's "mov,mp4,m4a,3gp,3g2,mj2")
    "matroska",  # MKV and WebM
    "avi",
    "mpegts",
    "mpeg",  # MPEG-PS, what some Hikvision recorders call .mp4
    "flv",
    "asf",
    "h264",  # raw Annex B .264 files
    "hevc",  # raw .265 files
    "mjpeg",  # raw MJPEG streams
    "dhav",  # Dahua .dav
    "image2",  # a still image opened by its file name
    "jpeg_pipe",  # a JPEG recognised by its content
    "png_pipe",
)
STILL_IMAGE_DEMUXERS = frozenset({"image2", "jpeg_pipe", "png_pipe"})

# Errors PyAV raises for bad content; read failures (below) and anything else propagate.
_BAD_INPUT_ERRORS = (av.error.FFmpegError, ValueError)

# What FFmpeg reports with these errno values is about reading the file, not about its content.
# (PyAV raises them as classes that are both FFmpegError and OSError: av.error.FileNotFoundError,
# av.error.PermissionError, av.error.OSError for EIO or EMFILE, ...)
_READ_FAILURE_ERRNOS = frozenset(
    {
        errno.ENOENT,
        errno.EACCES,
        errno.EPERM,
        errno.EISDIR,
        errno.ENOTDIR,
        errno.ELOOP,
        errno.ENAMETOOLONG,
        errno.EMFILE,
        errno.ENFILE,
        errno.EIO,
        errno.ENXIO,
        errno.ENODEV,
        errno.ESTALE,
        errno.EAGAIN,
        errno.EINTR,
        errno.ETIMEDOUT,
        errno.EBUSY,
    }
)


class MediaReadError(OSError):
    """The file could not be read, for a reason outside its content: try again later.

    The message names the file; ``errno`` is the operating system's when there is one.
    """


@dataclass(frozen=True)
class MediaLimits:
    """How much one analysis may cost."""

    max_seconds: float = 10.0  # wall-clock budget for one analysis
    max_pixels: int = 8192 * 8192  # refuse to decode larger frames (memory bound)
    max_packets: int = 600  # demux at most this many packets looking for the first decodable frame
    thumbnail_width: int = 320
    probe_bytes: int = 5_000_000  # FFmpeg's "probesize": bytes read to find the streams (its default)
    probe_seconds: float = 5.0  # FFmpeg's "analyzeduration": stream time read to find them

    def __post_init__(self) -> None:
        if not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be positive, not {self.max_seconds}")
        if self.max_pixels < 1:
            raise ValueError(f"max_pixels must be at least 1, not {self.max_pixels}")
        if self.max_packets < 1:
            raise ValueError(f"max_packets must be at least 1, not {self.max_packets}")
        if self.thumbnail_width < 2 or self.thumbnail_width % 2:
            raise ValueError(f"thumbnail_width must be even and at least 2: {self.thumbnail_width}")
        if self.probe_bytes < 32:
            raise ValueError(f"probe_bytes must be at least 32 (FFmpeg's minimum), not {self.probe_bytes}")
        if not self.probe_seconds > 0:
            raise ValueError(f"probe_seconds must be positive, not {self.probe_seconds}")


DEFAULT_LIMITS = MediaLimits()


def container_options(limits: MediaLimits = DEFAULT_LIMITS) -> dict[str, str]:
    """Demuxer settings: read this one local file with a camera format, nothing else, and look
    at no more than ``probe_bytes`` / ``probe_seconds`` of it to find its streams."""
    return {
        "protocol_whitelist": "file",
        "format_whitelist": ",".join(SUPPORTED_DEMUXERS),
        "pattern_type": "none",  # image2: a name like "clip%03d.jpg" is one file, not a sequence
        "probesize": str(limits.probe_bytes),
        "analyzeduration": str(round(limits.probe_seconds * 1_000_000)),  # microseconds
    }


def decoder_options(limits: MediaLimits) -> dict[str, str]:
    """Decoder settings: the pixel limit again, for streams that do not declare their size."""
    return {"max_pixels": str(limits.max_pixels)}


class _Unplayable(Exception):
    """The file was read but cannot be played; the message is the reason."""


@dataclass(frozen=True)
class _FirstFrame:
    stream: VideoStream
    frame: VideoFrame


def analyse(
    path: Path, *, limits: MediaLimits = DEFAULT_LIMITS, want_thumbnail: bool = True
) -> MediaAnalysis:
    """Probe ``path`` and, if it is playable and ``want_thumbnail``, make its JPEG thumbnail.

    Never raises for bad content: a corrupt, empty, truncated, oversized or too slow file, a
    wrong format or one without video gives ``ProbeResult.unplayable(reason)`` and no thumbnail.

    Raises ``MediaReadError`` (an ``OSError``) when the file cannot be read: missing, no
    permission, a directory or another non-regular file, too many open files, an I/O error.
    """
    _quiet_libav_logs()
    deadline = time.monotonic() + limits.max_seconds
    if _regular_file_size(path) == 0:
        return _unplayable("not a media file: the file is empty")
    try:
        with av.open(
            _file_url(path),
            mode="r",
            container_options=container_options(limits),
            metadata_errors="replace",
        ) as container:
            first = _first_frame(container, limits, deadline)
            info = _media_info(container, first)
            thumbnail = _thumbnail(first.frame, limits) if want_thumbnail else None
    except _Unplayable as exc:
        return _unplayable(str(exc))
    except OSError as exc:
        if _is_read_failure(exc):
            raise _read_error(path, exc) from exc
        return _unplayable(_failure_reason(path, exc))
    except _BAD_INPUT_ERRORS as exc:
        return _unplayable(_failure_reason(path, exc))
    return MediaAnalysis(probe=ProbeResult(playable=True, media=info), thumbnail_jpeg=thumbnail)


def _regular_file_size(path: Path) -> int:
    """The size of the regular file at ``path``; MediaReadError when there is none to read.

    A FIFO, socket or device is refused here: FFmpeg would block on a FIFO or read a device
    without end, and none of them is an uploaded clip.
    """
    try:
        facts = path.stat()
    except OSError as exc:
        raise _read_error(path, exc) from exc
    if stat.S_ISDIR(facts.st_mode):
        raise MediaReadError(errno.EISDIR, f"cannot read media file {path}: it is a directory")
    if not stat.S_ISREG(facts.st_mode):
        raise MediaReadError(f"cannot read media file {path}: {_kind(facts.st_mode)}, not a regular file")
    return facts.st_size


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


def _is_read_failure(exc: OSError) -> bool:
    """True when ``exc`` is about reading the file rather than about what it contains.

    An OSError raised outside FFmpeg always is; one FFmpeg reports (PyAV makes its errors both
    FFmpegError and OSError) only for the errno values in ``_READ_FAILURE_ERRNOS``.
    """
    if not isinstance(exc, av.error.FFmpegError):
        return True
    return exc.errno in _READ_FAILURE_ERRNOS


def _read_error(path: Path, exc: OSError) -> MediaReadError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return MediaReadError(exc.errno, f"cannot read media file {path}: {reason}")


def _quiet_libav_logs() -> None:
    """Keep libav from writing about corrupt input to stderr.

    PyAV's default level (``None``) drops every libav message without calling back into Python,
    which is also what keeps decoder threads from contending for the GIL. This re-installs that
    silent callback in case something restored libav's own stderr logger. A level someone chose
    on purpose (a developer debugging with ``VERBOSE``) is left alone: PyAV then sends messages
    to Python logging, not to stderr.
    """
    if av.logging.get_level() is None:
        av.logging.set_level(None)


def _file_url(path: Path) -> str:
    # "file:" stops FFmpeg from reading a name such as "http:…" or "concat:…" as a protocol.
    return "file:" + str(path.absolute())


def _unplayable(reason: str) -> MediaAnalysis:
    return MediaAnalysis(probe=ProbeResult.unplayable(reason), thumbnail_jpeg=None)


def _first_frame(container: InputContainer, limits: MediaLimits, deadline: float) -> _FirstFrame:
    """Demux until the first decodable video frame, within the packet and time budgets."""
    stream = _video_stream(container, limits)
    packets = 0
    for packet in container.demux():
        packets += 1
        if packets > limits.max_packets:
            raise _Unplayable(
                f"truncated: no decodable video frame in the first {limits.max_packets} packets"
            )
        if time.monotonic() > deadline:
            raise _Unplayable(
                f"gave up after the time limit of {limits.max_seconds:g} s without a decodable video frame"
            )
        if packet.stream.index != stream.index:
            continue
        frame = _decode(stream, packet)
        if frame is not None:
            return _FirstFrame(stream=stream, frame=frame)
    raise _Unplayable("truncated: the file ends before the first decodable video frame")


def _video_stream(container: InputContainer, limits: MediaLimits) -> VideoStream:
    """The first video stream, checked against the pixel limit and set up to decode one frame."""
    if not container.streams.video:
        raise _Unplayable("no video stream")
    stream = container.streams.video[0]
    context = stream.codec_context
    if context.width * context.height > limits.max_pixels:
        raise _Unplayable(
            f"frame {context.width}x{context.height} exceeds the pixel limit ({limits.max_pixels} pixels)"
        )
    context.options = decoder_options(limits)
    context.thread_count = 1  # one frame is all we decode; no decoder thread pool
    context.skip_frame = "NONKEY"  # the first keyframe is the thumbnail; skip the rest unread
    try:
        context.open()
    except _BAD_INPUT_ERRORS as exc:
        if isinstance(exc, OSError) and _is_read_failure(exc):
            raise  # analyse turns it into MediaReadError
        raise _Unplayable(f"cannot decode {context.name} video: {_detail(exc)}") from exc
    return stream


def _decode(stream: VideoStream, packet: Packet[Stream]) -> VideoFrame | None:
    """The first frame ``packet`` completes, or ``None`` (more input needed, or a damaged packet)."""
    try:
        frames = stream.decode(packet)
    except av.error.FFmpegError:
        return None  # a damaged packet; a later keyframe may still decode
    return frames[0] if frames else None


def _media_info(container: InputContainer, first: _FirstFrame) -> MediaInfo:
    context = first.stream.codec_context
    audio = container.streams.audio
    still = container.format.name in STILL_IMAGE_DEMUXERS
    return MediaInfo(
        duration=None if still else _duration(container, first.stream),
        width=context.width or first.frame.width,
        height=context.height or first.frame.height,
        video_codec=context.name,
        audio_codec=audio[0].codec_context.name if audio else None,
        container=container.format.name,
    )


def _duration(container: InputContainer, stream: VideoStream) -> float | None:
    """Seconds: the container's duration, else the video stream's; ``None`` when unknown."""
    seconds: float | None = None
    if container.duration is not None:
        seconds = container.duration / av.time_base
    elif stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    if seconds is None or seconds <= 0:
        return None
    return round(seconds, 3)


def _thumbnail(frame: VideoFrame, limits: MediaLimits) -> bytes | None:
    """The JPEG thumbnail; ``None`` if this frame cannot be scaled or encoded (still playable)."""
    try:
        return encode_thumbnail(frame, limits.thumbnail_width)
    except (av.error.FFmpegError, ValueError):
        return None


def _failure_reason(path: Path, exc: BaseException) -> str:
    """A person's reason for a file that was read but could not be opened as media."""
    if isinstance(exc, av.error.InvalidDataError):
        if _is_mp4_without_index(path):
            return "truncated: MP4 without its moov index (the upload or recording was cut short)"
        return "not a media file: invalid data found when processing input"
    if isinstance(exc, av.error.ArgumentError):
        return "not a media file: not a camera video or image format"
    return f"not a media file: {_detail(exc)}"


def _detail(exc: BaseException) -> str:
    """The error without the file name FFmpeg appends (the caller knows which file it was)."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _is_mp4_without_index(path: Path) -> bool:
    """True for a file that starts like an MP4 (an ``ftyp`` box) but has no ``moov`` box."""
    boxes = _top_level_mp4_boxes(path)
    return bool(boxes) and boxes[0] == "ftyp" and "moov" not in boxes


def _top_level_mp4_boxes(path: Path, limit: int = 64) -> list[str]:
    """The types of the first ``limit`` top-level ISO-BMFF boxes, reading headers only."""
    types: list[str] = []
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            offset = 0
            while offset + 8 <= size and len(types) < limit:
                handle.seek(offset)
                header = handle.read(16)
                box_size = int.from_bytes(header[:4], "big")
                types.append(header[4:8].decode("latin-1"))
                if box_size == 1 and len(header) == 16:
                    box_size = int.from_bytes(header[8:16], "big")  # 64-bit "largesize"
                if box_size < 8:
                    break  # 0 means "to the end of the file"; below 8 is not a box
                offset += box_size
    except OSError:
        return []
    return types
