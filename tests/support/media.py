"""Test media made on the fly with PyAV: clips, snapshots and broken files (no blobs in the repo).

Every frame has moving content (a diagonal luma ramp that shifts each frame, a chroma tint that
changes with it) so encoders produce real motion and P/B frames. Frames are built from bytes,
so numpy is not needed. A 2-second 320x240 H.264 clip takes well under a second.
"""

from __future__ import annotations

import math
import random
from array import array
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

CorruptMode = Literal["truncate", "garbage", "header-only", "damaged-keyframe"]

# File extension → FFmpeg muxer name.
MUXERS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
    ".ts": "mpegts",
}
AUDIO_RATE = 16000
AUDIO_SAMPLES_PER_FRAME = 1024  # the AAC frame size


def make_clip(
    path: Path,
    *,
    seconds: float = 2.0,
    width: int = 320,
    height: int = 240,
    fps: int = 10,
    codec: str = "libx264",
    container: str | None = None,
    audio: bool = False,
    keyframe_interval: int | None = None,
) -> Path:
    """Write a clip of ``seconds`` at ``fps``: H.264 in MP4 unless told otherwise.

    ``container`` is an FFmpeg muxer name; by default it follows the extension (.mp4, .mkv,
    .avi, .mov, .ts). ``audio`` adds an AAC tone. ``keyframe_interval`` caps the GOP length
    (the encoder's default otherwise).
    """
    if width % 2 or height % 2:
        raise ValueError(f"width and height must be even for 4:2:0 video: {width}x{height}")
    muxer = container or MUXERS.get(path.suffix.lower(), "mp4")
    frame_count = max(1, round(seconds * fps))
    with av.open(str(path), mode="w", format=muxer) as output:
        video = output.add_stream(codec, rate=fps)
        assert isinstance(video, VideoStream), f"{codec} is not a video encoder"
        video.width = width
        video.height = height
        video.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "libx265":
            video.options = {"x265-params": "log-level=error"}
        if keyframe_interval is not None:
            video.codec_context.gop_size = keyframe_interval
        sound = None
        if audio:
            sound = output.add_stream("aac", rate=AUDIO_RATE, layout="mono")
            assert isinstance(sound, AudioStream)
        samples_written = 0
        for index in range(frame_count):
            frame = moving_frame(width, height, index)
            if frame.format.name != video.pix_fmt:
                frame = frame.reformat(format=video.pix_fmt)
            frame.pts = index
            output.mux(video.encode(frame))
            if sound is not None:
                until = round((index + 1) * AUDIO_RATE / fps)
                while samples_written < until:
                    output.mux(sound.encode(tone_frame(samples_written)))
                    samples_written += AUDIO_SAMPLES_PER_FRAME
        output.mux(video.encode(None))
        if sound is not None:
            output.mux(sound.encode(None))
    return path


def make_jpeg(path: Path, *, width: int = 640, height: int = 480) -> Path:
    """Write a real baseline JPEG made by PyAV's mjpeg encoder."""
    path.write_bytes(encode_still(moving_frame(width, height, 3), "mjpeg", "yuvj420p"))
    return path


def make_png(path: Path, *, width: int = 64, height: int = 48) -> Path:
    """Write a real PNG made by PyAV's png encoder."""
    path.write_bytes(encode_still(moving_frame(width, height, 5), "png", "rgb24"))
    return path


def make_corrupt(path: Path, *, from_clip: Path | None = None, mode: CorruptMode) -> Path:
    """Write a broken file at ``path``.

    ``truncate``: the first 40 % of a clip (an upload cut short; an MP4 loses its moov index).
    ``garbage``: 64 KiB of pseudo-random bytes. ``header-only``: the container header without
    any media data (for MP4 every top-level box but ``mdat``; otherwise the bytes before the
    first packet). ``damaged-keyframe``: the clip with its first video packet overwritten by
    garbage, so only a later keyframe can decode (packet positions come from the demuxer; use an
    MP4 or AVI source: in Matroska it also breaks the block structure).

    Without ``from_clip`` an H.264 MP4 (2 s, 10 fps, a keyframe every 5 frames) is made first.
    """
    if mode == "garbage":
        path.write_bytes(random.Random(20161018).randbytes(64 * 1024))
        return path
    if from_clip is None:
        from_clip = make_clip(path, container="mp4", keyframe_interval=5)
    data = from_clip.read_bytes()
    if mode == "truncate":
        broken = data[: len(data) * 2 // 5]
    elif mode == "header-only":
        broken = _header_only(data, from_clip)
    elif mode == "damaged-keyframe":
        broken = _damage_first_video_packet(data, from_clip)
    else:
        raise ValueError(f"unknown corruption mode {mode!r}")
    path.write_bytes(broken)
    return path


def moving_frame(width: int, height: int, index: int) -> VideoFrame:
    """A yuv420p frame: a diagonal luma ramp shifted by ``index``, tinted by ``index``."""
    frame = VideoFrame(width, height, "yuv420p")
    ramp = bytes(range(256)) * ((width + height) // 256 + 2)
    luma = frame.planes[0]
    padding = bytes(luma.line_size - width)
    rows = []
    for row in range(height):
        start = (row + index * 8) % 256
        rows.append(ramp[start : start + width] + padding)
    luma.update(b"".join(rows))
    for plane, value in ((frame.planes[1], 128), (frame.planes[2], (64 + index * 12) % 256)):
        plane.update(bytes([value]) * (plane.line_size * plane.height))
    return frame


def tone_frame(first_sample: int) -> AudioFrame:
    """One AAC-sized mono float frame of a 440 Hz tone starting at ``first_sample``."""
    samples = array(
        "f",
        (
            0.3 * math.sin(2 * math.pi * 440 * (first_sample + i) / AUDIO_RATE)
            for i in range(AUDIO_SAMPLES_PER_FRAME)
        ),
    )
    frame = AudioFrame(format="fltp", layout="mono", samples=AUDIO_SAMPLES_PER_FRAME)
    frame.planes[0].update(samples.tobytes())
    frame.sample_rate = AUDIO_RATE
    frame.pts = first_sample
    frame.time_base = Fraction(1, AUDIO_RATE)
    return frame


def encode_still(frame: VideoFrame, codec: str, pix_fmt: str) -> bytes:
    """Encode one frame as a stand-alone image (JPEG with mjpeg, PNG with png)."""
    encoder = av.CodecContext.create(codec, "w")
    assert isinstance(encoder, VideoCodecContext), f"{codec} is not a video encoder"
    encoder.width = frame.width
    encoder.height = frame.height
    encoder.pix_fmt = pix_fmt
    encoder.time_base = Fraction(1, 1)
    image = frame.reformat(format=pix_fmt)
    image.pts = 0
    return b"".join(bytes(packet) for packet in [*encoder.encode(image), *encoder.encode(None)])


def mp4_boxes(data: bytes) -> list[tuple[str, bytes]]:
    """The top-level ISO-BMFF boxes of ``data`` as (type, whole box bytes)."""
    boxes = []
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        elif size == 0:
            size = len(data) - offset
        if size < 8:
            break
        boxes.append((kind, data[offset : offset + size]))
        offset += size
    return boxes


def _header_only(data: bytes, clip: Path) -> bytes:
    boxes = mp4_boxes(data)
    if boxes and boxes[0][0] == "ftyp":
        return b"".join(box for kind, box in boxes if kind != "mdat")
    return data[: _first_video_packet(clip)[0]]


def _damage_first_video_packet(data: bytes, clip: Path) -> bytes:
    position, size = _first_video_packet(clip)
    noise = random.Random(position).randbytes(size)
    return data[:position] + noise + data[position + size :]


def _first_video_packet(clip: Path) -> tuple[int, int]:
    """(byte offset, size) of the first video packet of ``clip``."""
    with av.open(str(clip)) as source:
        for packet in source.demux(video=0):
            if packet.pos is not None and packet.size:
                return packet.pos, packet.size
    raise ValueError(f"{clip} has no video packet with a known position")
