"""Small transcodes: an H.264 MP4 a browser can start playing at once, at a width and bitrate asked for.

``encode_plan`` decides the encoder settings from the source's size and the settings (pure: the
settings are data). ``transcode`` reads one local file with the same FFmpeg restrictions as the
probe (only the ``file`` protocol and camera demuxers, a pixel limit), scales every decodable
frame to the plan's size, encodes it with libx264 at the asked bitrate, keeps the sound as AAC
(or drops it) and writes an MP4 whose index comes first (``faststart``).

Bad content raises ``TranscodeError`` (retrying cannot help); a file that cannot be read raises
``MediaReadError`` (try again later). It never touches the object store or the catalog.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from camvault.media.probe import MediaLimits, MediaReadError, container_options, decoder_options

VIDEO_CODEC = "libx264"
AUDIO_CODEC = "aac"
PIXEL_FORMAT = "yuv420p"  # what every browser decodes
DEFAULT_RATE = Fraction(25)

_BITRATE_RE = re.compile(r"(\d+(?:\.\d+)?)([kKmM]?)")


class TranscodeError(Exception):
    """The file was read but cannot be transcoded; the message says why."""


@dataclass(frozen=True)
class TranscodeSettings:
    """What a small version should be."""

    width: int = 640
    bitrate: int = 600_000  # video bits per second
    audio: bool = True  # keep the sound as AAC; False drops it
    audio_bitrate: int = 64_000
    max_seconds: float = 600.0  # wall-clock budget for one clip
    limits: MediaLimits = field(default_factory=MediaLimits)

    def __post_init__(self) -> None:
        if self.width < 16 or self.width % 2:
            raise ValueError(f"width must be even and at least 16, not {self.width}")
        if self.bitrate < 10_000:
            raise ValueError(f"bitrate must be at least 10k bits per second, not {self.bitrate}")


@dataclass(frozen=True)
class EncodePlan:
    """Encoder settings for one clip, as data."""

    width: int
    height: int
    video_codec: str
    pixel_format: str
    video_bitrate: int
    video_options: dict[str, str]
    audio_codec: str | None
    audio_bitrate: int
    muxer_options: dict[str, str]


@dataclass(frozen=True)
class TranscodeResult:
    """What ``transcode`` wrote."""

    path: Path
    width: int
    height: int
    frames: int
    size: int
    seconds: float  # wall-clock time it took


def parse_bitrate(text: str) -> int:
    """Bits per second from ``600k``, ``1.5M`` or ``600000``; ValueError otherwise."""
    match = _BITRATE_RE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"bitrate {text!r}: use bits per second, e.g. 600k or 1.5M")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[match[2].lower()]
    return round(float(match[1]) * scale)


def scaled_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """The size of a ``target_width``-wide version of a ``width`` x ``height`` picture: same aspect
    ratio, both sides even (4:2:0), never wider than the source."""
    if width <= 0 or height <= 0:
        raise ValueError(f"picture size {width}x{height} is not positive")
    out_width = max(2, min(target_width, width) // 2 * 2)
    out_height = max(2, (out_width * height + width) // (2 * width) * 2)
    return out_width, out_height


def encode_plan(width: int, height: int, has_audio: bool, settings: TranscodeSettings) -> EncodePlan:
    """Encoder settings for a ``width`` x ``height`` source: H.264 at the asked average bitrate,
    capped by a one-second buffer so short clips keep to it too; AAC when there is sound to keep."""
    out_width, out_height = scaled_size(width, height, settings.width)
    rate = settings.bitrate
    return EncodePlan(
        width=out_width,
        height=out_height,
        video_codec=VIDEO_CODEC,
        pixel_format=PIXEL_FORMAT,
        video_bitrate=rate,
        video_options={
            "preset": "veryfast",
            "profile": "main",
            "maxrate": str(rate),
            "bufsize": str(rate),
        },
        audio_codec=AUDIO_CODEC if has_audio and settings.audio else None,
        audio_bitrate=settings.audio_bitrate,
        muxer_options={"movflags": "+faststart"},
    )


def transcode(source: Path, target: Path, settings: TranscodeSettings) -> TranscodeResult:
    """Write the small version of ``source`` to ``target`` (an MP4)."""
    started = time.monotonic()
    if not source.is_file():
        raise MediaReadError(f"cannot read media file {source}: not a regular file")
    try:
        with av.open(
            "file:" + str(source.absolute()),  # "file:" so that no other protocol is ever used
            mode="r",
            container_options=container_options(settings.limits),
        ) as container:
            frames, plan = _transcode_open(container, target, settings, started)
    except (TranscodeError, MediaReadError):
        raise
    except av.error.FFmpegError as exc:
        raise TranscodeError(f"cannot transcode: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise TranscodeError(f"cannot transcode: {exc}") from exc
    return TranscodeResult(
        path=target,
        width=plan.width,
        height=plan.height,
        frames=frames,
        size=target.stat().st_size,
        seconds=time.monotonic() - started,
    )


def _transcode_open(
    container: InputContainer, target: Path, settings: TranscodeSettings, started: float
) -> tuple[int, EncodePlan]:
    if not container.streams.video:
        raise TranscodeError("cannot transcode: no video stream")
    video_in = container.streams.video[0]
    context = video_in.codec_context
    if context.width * context.height > settings.limits.max_pixels:
        raise TranscodeError(f"cannot transcode: frame {context.width}x{context.height} is too large")
    context.options = decoder_options(settings.limits)
    audio_in = container.streams.audio[0] if container.streams.audio else None
    plan = encode_plan(context.width or 2, context.height or 2, audio_in is not None, settings)
    with av.open(str(target), mode="w", format="mp4", options=plan.muxer_options) as output:
        video_out = _video_stream(output, plan, video_in.average_rate or DEFAULT_RATE)
        audio_out = _audio_stream(output, plan) if plan.audio_codec else None
        streams = [video_in] + ([audio_in] if audio_out is not None and audio_in is not None else [])
        frames = 0
        for packet in container.demux(streams):
            if time.monotonic() - started > settings.max_seconds:
                raise TranscodeError(
                    f"cannot transcode: gave up after the time limit of {settings.max_seconds:g} s"
                )
            for frame in _decode(packet):
                if isinstance(frame, VideoFrame):
                    output.mux(video_out.encode(_scaled(frame, plan, frames)))
                    frames += 1
                elif audio_out is not None:
                    frame.pts = None  # the encoder numbers its own samples
                    output.mux(audio_out.encode(frame))
        if frames == 0:
            raise TranscodeError("cannot transcode: no decodable video frame")
        output.mux(video_out.encode(None))
        if audio_out is not None:
            output.mux(audio_out.encode(None))
    return frames, plan


def _video_stream(output: OutputContainer, plan: EncodePlan, rate: Fraction) -> VideoStream:
    stream = output.add_stream(plan.video_codec, rate=rate)
    assert isinstance(stream, VideoStream)
    stream.width = plan.width
    stream.height = plan.height
    stream.pix_fmt = plan.pixel_format
    stream.bit_rate = plan.video_bitrate
    stream.options = dict(plan.video_options)
    return stream


def _audio_stream(output: OutputContainer, plan: EncodePlan) -> AudioStream:
    stream = output.add_stream(plan.audio_codec or AUDIO_CODEC)
    assert isinstance(stream, AudioStream)
    stream.bit_rate = plan.audio_bitrate
    return stream


def _decode(packet: Any) -> list[Any]:
    """The frames ``packet`` completes; none for a damaged packet (later ones may still decode)."""
    try:
        return list(packet.decode())
    except av.error.FFmpegError:
        return []


def _scaled(frame: VideoFrame, plan: EncodePlan, index: int) -> VideoFrame:
    scaled = frame.reformat(width=plan.width, height=plan.height, format=plan.pixel_format)
    if frame.pts is None or frame.time_base is None:
        scaled.pts, scaled.time_base = index, Fraction(1, 25)
    else:
        scaled.pts, scaled.time_base = frame.pts, frame.time_base
    return scaled
