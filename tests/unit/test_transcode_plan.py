"""The small transcode's settings are data: size, bitrate and encoder options from a pure function."""

from __future__ import annotations

import pytest

from camvault.media.transcode import TranscodeSettings, encode_plan, parse_bitrate, scaled_size

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "bits"), [("600k", 600_000), ("1.5M", 1_500_000), ("800000", 800_000), (" 64K ", 64_000)]
)
def test_bitrates(text: str, bits: int) -> None:
    assert parse_bitrate(text) == bits


@pytest.mark.parametrize("text", ["", "fast", "600kb", "-1k", "1,5M"])
def test_bad_bitrates_say_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match=r"use bits per second, e\.g\. 600k"):
        parse_bitrate(text)


@pytest.mark.parametrize(
    ("source", "width", "size"),
    [
        ((1280, 720), 640, (640, 360)),
        ((1920, 1080), 640, (640, 360)),
        ((2560, 1920), 640, (640, 480)),
        ((704, 576), 640, (640, 524)),  # 523.6 rounds to the nearest even height
        ((320, 240), 640, (320, 240)),  # never wider than the source
        ((641, 481), 640, (640, 480)),
    ],
)
def test_small_size_keeps_the_aspect_ratio_with_even_sides(
    source: tuple[int, int], width: int, size: tuple[int, int]
) -> None:
    assert scaled_size(*source, width) == size


def test_plan_encodes_h264_at_the_asked_bitrate_and_keeps_sound_as_aac() -> None:
    plan = encode_plan(1280, 720, True, TranscodeSettings(width=480, bitrate=400_000))
    assert (plan.width, plan.height) == (480, 270)
    assert plan.video_codec == "libx264" and plan.pixel_format == "yuv420p"
    assert plan.video_bitrate == 400_000
    assert plan.video_options["maxrate"] == "400000"
    assert plan.audio_codec == "aac"
    assert plan.muxer_options == {"movflags": "+faststart"}


def test_plan_drops_sound_when_asked_or_absent() -> None:
    assert encode_plan(1280, 720, True, TranscodeSettings(audio=False)).audio_codec is None
    assert encode_plan(1280, 720, False, TranscodeSettings()).audio_codec is None


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="width must be even"):
        TranscodeSettings(width=641)
    with pytest.raises(ValueError, match="bitrate must be at least"):
        TranscodeSettings(bitrate=500)
