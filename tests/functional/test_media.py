"""Probing and thumbnails on real files made by real encoders (tests/support/media.py)."""

from __future__ import annotations

import errno
import io
import json
import os
import resource
import stat
import tempfile
from pathlib import Path

import av
import av.logging
import pytest

from camvault.domain.model import MediaAnalysis
from camvault.media.probe import MediaLimits, MediaReadError, analyse, container_options
from camvault.media.thumbnail import thumbnail_height
from tests.support.media import make_clip, make_corrupt, make_jpeg, make_png

pytestmark = pytest.mark.functional


def decode_jpeg(data: bytes) -> av.VideoFrame:
    """Decode JPEG bytes back with PyAV; fails the test if they are not a JPEG image."""
    assert data[:2] == b"\xff\xd8", "a JPEG starts with the SOI marker FFD8"
    assert data[-2:] == b"\xff\xd9", "a JPEG ends with the EOI marker FFD9"
    with av.open(io.BytesIO(data), mode="r", format="jpeg_pipe") as image:
        assert image.streams.video[0].codec_context.name == "mjpeg"
        return next(image.decode(video=0))


def assert_playable(analysis: MediaAnalysis) -> None:
    assert analysis.probe.playable, analysis.probe.reason
    assert analysis.probe.reason is None
    assert analysis.probe.media is not None


def assert_unplayable(analysis: MediaAnalysis, *fragments: str) -> None:
    assert not analysis.probe.playable
    assert analysis.probe.media is None
    assert analysis.thumbnail_jpeg is None
    reason = analysis.probe.reason
    assert reason is not None
    for fragment in fragments:
        assert fragment in reason, f"{fragment!r} not in reason {reason!r}"


def open_fds() -> set[str]:
    return {entry.name for entry in Path("/proc/self/fd").iterdir()}


# --- playable clips and snapshots ------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "fps"), [(2.0, 10), (1.5, 25), (4.0, 8)])
def test_h264_mp4_facts_and_thumbnail(tmp_path: Path, seconds: float, fps: int) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=seconds, width=320, height=240, fps=fps)

    analysis = analyse(clip)

    assert_playable(analysis)
    media = analysis.probe.media
    assert media is not None
    assert media.duration is not None
    assert abs(media.duration - seconds) <= 0.15
    assert (media.width, media.height) == (320, 240)
    assert media.video_codec == "h264"
    assert media.audio_codec is None
    assert media.container is not None and "mp4" in media.container
    assert analysis.thumbnail_jpeg is not None
    thumbnail = decode_jpeg(analysis.thumbnail_jpeg)
    assert (thumbnail.width, thumbnail.height) == (320, 240)


def test_thumbnail_keeps_the_aspect_ratio_with_an_even_height(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "wide.mp4", seconds=1.0, width=640, height=272)

    analysis = analyse(clip, limits=MediaLimits(thumbnail_width=200))

    assert_playable(analysis)
    assert analysis.thumbnail_jpeg is not None
    thumbnail = decode_jpeg(analysis.thumbnail_jpeg)
    assert thumbnail.width == 200
    assert thumbnail.height == 86  # 200 * 272 / 640 = 85: the nearest even, halves up
    assert thumbnail.height % 2 == 0


def test_portrait_clip_thumbnail(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "portrait.mp4", seconds=1.0, width=240, height=320)

    analysis = analyse(clip)

    assert_playable(analysis)
    media = analysis.probe.media
    assert media is not None and (media.width, media.height) == (240, 320)
    assert analysis.thumbnail_jpeg is not None
    thumbnail = decode_jpeg(analysis.thumbnail_jpeg)
    assert (thumbnail.width, thumbnail.height) == (320, 426)


def test_thumbnail_shows_the_first_frame_content(tmp_path: Path) -> None:
    # The generator's first frame is a diagonal ramp: the thumbnail's top-left corner is dark,
    # further right it is bright. A grey or black placeholder image would fail this.
    clip = make_clip(tmp_path / "ramp.mp4", seconds=1.0, width=320, height=240)

    analysis = analyse(clip)

    assert analysis.thumbnail_jpeg is not None
    luma = decode_jpeg(analysis.thumbnail_jpeg).planes[0]
    row = bytes(luma)[: luma.width]
    assert row[4] < 40
    assert row[200] > 160


def test_without_thumbnail(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0)

    analysis = analyse(clip, want_thumbnail=False)

    assert_playable(analysis)
    assert analysis.thumbnail_jpeg is None


@pytest.mark.parametrize(
    ("name", "codec", "container_fragment", "video_codec"),
    [
        ("clip.mkv", "libx264", "matroska", "h264"),
        ("clip.avi", "libx264", "avi", "h264"),
        ("mjpeg.avi", "mjpeg", "avi", "mjpeg"),
        ("clip.ts", "libx264", "mpegts", "h264"),
        ("hevc.mp4", "libx265", "mp4", "hevc"),
    ],
)
def test_other_containers_and_codecs(
    tmp_path: Path, name: str, codec: str, container_fragment: str, video_codec: str
) -> None:
    clip = make_clip(tmp_path / name, seconds=2.0, width=320, height=240, codec=codec)

    analysis = analyse(clip)

    assert_playable(analysis)
    media = analysis.probe.media
    assert media is not None
    assert media.container is not None and container_fragment in media.container
    assert media.video_codec == video_codec
    assert media.duration is not None and abs(media.duration - 2.0) <= 0.15
    assert (media.width, media.height) == (320, 240)
    assert analysis.thumbnail_jpeg is not None
    assert decode_jpeg(analysis.thumbnail_jpeg).width == 320


def test_clip_with_audio_reports_the_audio_codec(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "talk.mp4", seconds=2.0, audio=True)

    analysis = analyse(clip)

    assert_playable(analysis)
    media = analysis.probe.media
    assert media is not None
    assert media.audio_codec == "aac"
    assert media.video_codec == "h264"
    assert media.duration is not None and abs(media.duration - 2.0) <= 0.15


def test_jpeg_snapshot(tmp_path: Path) -> None:
    snapshot = make_jpeg(tmp_path / "snap.jpg", width=640, height=480)

    analysis = analyse(snapshot)

    assert_playable(analysis)
    media = analysis.probe.media
    assert media is not None
    assert media.duration is None
    assert (media.width, media.height) == (640, 480)
    assert media.video_codec == "mjpeg"
    assert analysis.thumbnail_jpeg is not None
    thumbnail = decode_jpeg(analysis.thumbnail_jpeg)
    assert (thumbnail.width, thumbnail.height) == (320, 240)


def test_jpeg_snapshot_without_extension(tmp_path: Path) -> None:
    snapshot = make_jpeg(tmp_path / "snapshot", width=320, height=180)

    analysis = analyse(snapshot)

    assert_playable(analysis)
    media = analysis.probe.media
    assert media is not None
    assert media.duration is None
    assert media.video_codec == "mjpeg"
    assert (media.width, media.height) == (320, 180)


def test_png_snapshot(tmp_path: Path) -> None:
    image = make_png(tmp_path / "snap.png", width=64, height=48)

    analysis = analyse(image)

    assert_playable(analysis)
    media = analysis.probe.media
    assert media is not None
    assert media.duration is None
    assert media.video_codec == "png"
    assert (media.width, media.height) == (64, 48)
    assert analysis.thumbnail_jpeg is not None
    thumbnail = decode_jpeg(analysis.thumbnail_jpeg)
    assert (thumbnail.width, thumbnail.height) == (320, 240)


def test_file_name_that_looks_like_a_protocol_is_read_as_a_file(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "http:camera.mp4", seconds=1.0)

    assert_playable(analyse(clip))


# --- bad input: unplayable with a reason, never an exception ---------------------------------


def test_truncated_mp4(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "full.mp4")
    broken = make_corrupt(tmp_path / "cut.mp4", from_clip=clip, mode="truncate")
    assert 0 < broken.stat().st_size < clip.stat().st_size

    assert_unplayable(analyse(broken), "truncated", "moov")


def test_garbage_bytes(tmp_path: Path) -> None:
    broken = make_corrupt(tmp_path / "noise.mp4", mode="garbage")

    assert_unplayable(analyse(broken), "not a media file")


def test_header_only_mp4(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "full.mp4")
    broken = make_corrupt(tmp_path / "header.mp4", from_clip=clip, mode="header-only")
    with av.open(str(broken)) as header:  # the header alone opens: the streams are declared
        assert header.streams.video[0].codec_context.name == "h264"

    assert_unplayable(analyse(broken), "truncated", "ends before the first decodable video frame")


def test_header_only_matroska(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "full.mkv")
    broken = make_corrupt(tmp_path / "header.mkv", from_clip=clip, mode="header-only")

    assert_unplayable(analyse(broken), "decodable video frame")


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")

    assert_unplayable(analyse(empty), "not a media file", "empty")


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("camera 3: motion at the gate\n" * 200)

    assert_unplayable(analyse(text), "not a media file")


# --- a file that cannot be read is not "unplayable": analyse raises so the caller retries ----


def test_nonexistent_path_raises(tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    with pytest.raises(MediaReadError) as raised:
        analyse(missing)
    assert raised.value.errno == errno.ENOENT
    assert str(missing) in str(raised.value)
    assert isinstance(raised.value, OSError)


def test_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(MediaReadError, match="is a directory") as raised:
        analyse(tmp_path)
    assert raised.value.errno == errno.EISDIR
    assert str(tmp_path) in str(raised.value)


def test_path_through_a_file_raises(tmp_path: Path) -> None:
    # ENOTDIR: fails for root too (a file used as a folder)
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0)
    with pytest.raises(MediaReadError) as raised:
        analyse(clip / "inside.mp4")
    assert raised.value.errno == errno.ENOTDIR


def test_fifo_raises_without_blocking(tmp_path: Path) -> None:
    # Opening a FIFO with no writer would block FFmpeg for ever; it is not an upload anyway.
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    with pytest.raises(MediaReadError, match="a FIFO, not a regular file"):
        analyse(fifo)


def test_too_many_open_files_raises(tmp_path: Path) -> None:
    # A real EMFILE from FFmpeg's own open(2) (PyAV raises av.error.OSError, which is both an
    # FFmpegError and an OSError): the file is fine, the process is out of descriptors.
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0)
    assert_playable(analyse(clip))
    lowest_free = os.dup(0)
    os.close(lowest_free)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
    try:
        with pytest.raises(MediaReadError) as raised:
            analyse(clip)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert raised.value.errno == errno.EMFILE
    assert str(clip) in str(raised.value)
    assert isinstance(raised.value.__cause__, av.error.FFmpegError)
    assert_playable(analyse(clip))  # the same file, once descriptors are free again


NOBODY = 65534


def analyse_without_root(path: Path) -> dict[str, object]:
    """``analyse(path)`` as a user without root's power to read any file: in this process when
    it is not root, else in a forked child that drops to uid/gid 65534. What it raised, if any."""
    if os.geteuid() != 0:
        return _outcome(path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write_end, json.dumps(_outcome(path)).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read()
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0, "the unprivileged child failed"
    outcome: dict[str, object] = json.loads(report)
    return outcome


def _outcome(path: Path) -> dict[str, object]:
    try:
        analysis = analyse(path)
    except Exception as exc:
        return {"raised": type(exc).__name__, "errno": getattr(exc, "errno", None), "message": str(exc)}
    return {"raised": None, "playable": analysis.probe.playable, "reason": analysis.probe.reason}


def test_permission_denied_raises() -> None:
    # stat(2) works (the folder is searchable), open(2) fails with EACCES inside FFmpeg.
    with tempfile.TemporaryDirectory(prefix="camvault-eacces-") as name:
        folder = Path(name)
        folder.chmod(stat.S_IRWXU | stat.S_IXGRP | stat.S_IXOTH)  # others may only search it
        clip = make_clip(folder / "clip.mp4", seconds=1.0)
        assert_playable(analyse(clip))
        clip.chmod(0)
        try:
            outcome = analyse_without_root(clip)
        finally:
            clip.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert outcome["raised"] == "MediaReadError", outcome
    assert outcome["errno"] == errno.EACCES
    assert f"cannot read media file {clip}: Permission denied" in str(outcome["message"])


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    audio = tmp_path / "sound.m4a"
    with av.open(str(audio), mode="w", format="mp4") as output:
        stream = output.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.planes[0].update(bytes(4 * 1024))
        frame.sample_rate = 16000
        for index in range(8):
            frame.pts = index * 1024
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))

    assert_unplayable(analyse(audio), "no video stream")


def test_playlist_pointing_at_other_files_is_refused(tmp_path: Path) -> None:
    # An HLS playlist is the classic way to make FFmpeg read files it was not given.
    make_clip(tmp_path / "segment.ts", seconds=1.0)
    playlist = tmp_path / "upload.m3u8"
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nsegment.ts\n#EXT-X-ENDLIST\n")

    assert_unplayable(analyse(playlist), "not a media file")


def test_damaged_first_keyframe_decodes_from_the_next_keyframe(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "full.mp4", keyframe_interval=5)
    damaged = make_corrupt(tmp_path / "damaged.mp4", from_clip=clip, mode="damaged-keyframe")

    analysis = analyse(damaged)

    assert_playable(analysis)
    assert analysis.thumbnail_jpeg is not None
    assert decode_jpeg(analysis.thumbnail_jpeg).width == 320


def test_damaged_single_keyframe_clip(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "full.mp4")  # one keyframe: the encoder's GOP is longer
    damaged = make_corrupt(tmp_path / "damaged.mp4", from_clip=clip, mode="damaged-keyframe")

    assert_unplayable(analyse(damaged), "decodable video frame")


# --- limits ---------------------------------------------------------------------------------


def test_pixel_limit_is_checked_before_decoding(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0, width=320, height=240)

    refused = analyse(clip, limits=MediaLimits(max_pixels=320 * 240 - 1))
    accepted = analyse(clip, limits=MediaLimits(max_pixels=320 * 240))

    assert_unplayable(refused, "frame 320x240 exceeds the pixel limit")
    assert_playable(accepted)


def test_pixel_limit_applies_to_snapshots(tmp_path: Path) -> None:
    snapshot = make_jpeg(tmp_path / "snap.jpg", width=640, height=480)

    assert_unplayable(
        analyse(snapshot, limits=MediaLimits(max_pixels=100_000)),
        "640x480 exceeds the pixel limit",
    )


def test_packet_limit(tmp_path: Path) -> None:
    # The first keyframe is damaged; the next one is 5 packets later.
    damaged = make_corrupt(tmp_path / "damaged.mp4", mode="damaged-keyframe")

    stopped = analyse(damaged, limits=MediaLimits(max_packets=3))
    enough = analyse(damaged, limits=MediaLimits(max_packets=30))

    assert_unplayable(stopped, "no decodable video frame in the first 3 packets")
    assert_playable(enough)


def bytes_read_by_this_process() -> int:
    """``rchar`` of /proc/self/io: every byte this process has read through read(2) and kin."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def bytes_read_by_analyse(path: Path, limits: MediaLimits) -> int:
    before = bytes_read_by_this_process()
    assert_playable(analyse(path, limits=limits))
    return bytes_read_by_this_process() - before


def test_probe_limits_bound_how_much_ffmpeg_reads_to_find_the_streams(tmp_path: Path) -> None:
    # MPEG-TS declares no codec parameters up front: FFmpeg reads packets until it has them, and
    # more to estimate the frame rate, up to probesize bytes / analyzeduration of stream time.
    clip = make_clip(tmp_path / "clip.ts", seconds=4.0, width=640, height=480, fps=25, keyframe_interval=1)
    options = container_options(MediaLimits(probe_bytes=1_000_000, probe_seconds=2.5))
    assert (options["probesize"], options["analyzeduration"]) == ("1000000", "2500000")

    unlimited = bytes_read_by_analyse(clip, MediaLimits(probe_bytes=50_000_000, probe_seconds=100))
    few_bytes = bytes_read_by_analyse(clip, MediaLimits(probe_bytes=32))
    short_time = bytes_read_by_analyse(clip, MediaLimits(probe_seconds=0.04))

    assert few_bytes + 50_000 < unlimited
    assert short_time + 50_000 < unlimited


def test_time_limit(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0)

    analysis = analyse(clip, limits=MediaLimits(max_seconds=1e-9))

    assert_unplayable(analysis, "time limit")


@pytest.mark.parametrize(
    "bad",
    [
        {"max_seconds": 0.0},
        {"max_pixels": 0},
        {"max_packets": 0},
        {"thumbnail_width": 321},
        {"thumbnail_width": 0},
        {"probe_bytes": 31},
        {"probe_seconds": 0.0},
    ],
)
def test_limits_are_validated(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        MediaLimits(**bad)  # type: ignore[arg-type]


def test_thumbnail_height_rounding() -> None:
    assert thumbnail_height(1920, 1080, 320) == 180
    assert thumbnail_height(640, 480, 320) == 240
    assert thumbnail_height(640, 272, 200) == 86  # exactly 85: halves round up
    assert thumbnail_height(240, 320, 320) == 426  # 426.7
    assert thumbnail_height(1000, 3, 320) == 2  # never zero
    with pytest.raises(ValueError, match="not positive"):
        thumbnail_height(0, 480, 320)


# --- processing goes on ---------------------------------------------------------------------


def test_a_corrupt_file_does_not_stop_the_next_good_one(tmp_path: Path) -> None:
    good = make_clip(tmp_path / "good.mp4", seconds=1.0)
    corrupt = [
        make_corrupt(tmp_path / "cut.mp4", from_clip=good, mode="truncate"),
        make_corrupt(tmp_path / "noise.mp4", mode="garbage"),
        make_corrupt(tmp_path / "header.mp4", from_clip=good, mode="header-only"),
        make_corrupt(tmp_path / "damaged.mp4", from_clip=good, mode="damaged-keyframe"),
    ]

    for broken in corrupt:
        assert_unplayable(analyse(broken))
        after = analyse(good)
        assert_playable(after)
        assert after.thumbnail_jpeg is not None


def test_corrupt_input_writes_nothing_to_stderr(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # Even if something restored libav's own logger (which writes straight to fd 2), analysing
    # corrupt input stays quiet. The same decode through plain PyAV does write to fd 2 then.
    damaged = make_corrupt(tmp_path / "damaged.mp4", mode="damaged-keyframe")
    noise = make_corrupt(tmp_path / "noise.mp4", mode="garbage")
    av.logging.restore_default_callback()
    try:
        with av.open(str(damaged)) as container, pytest.raises(av.error.InvalidDataError):
            next(container.decode(video=0))
        assert "Invalid NAL unit size" in capfd.readouterr().err

        assert_playable(analyse(damaged))
        assert_unplayable(analyse(noise), "not a media file")

        assert capfd.readouterr().err == ""
        assert av.logging.get_level() is None
    finally:
        av.logging.set_level(None)  # PyAV's silent default, for the tests that follow


def test_no_file_descriptor_leaks_across_50_analyses(tmp_path: Path) -> None:
    good = make_clip(tmp_path / "good.mp4", seconds=1.0, audio=True)
    files = [
        good,
        make_jpeg(tmp_path / "snap.jpg"),
        make_corrupt(tmp_path / "cut.mp4", from_clip=good, mode="truncate"),
        make_corrupt(tmp_path / "noise.mp4", mode="garbage"),
        make_corrupt(tmp_path / "header.mp4", from_clip=good, mode="header-only"),
        make_corrupt(tmp_path / "damaged.mp4", mode="damaged-keyframe"),
    ]
    unreadable = [tmp_path / "missing.mp4", tmp_path, good / "inside.mp4"]
    analyse(good)  # warm up: lazily loaded codec libraries may open files once
    before = open_fds()

    results = [analyse(files[i % len(files)]) for i in range(50)]
    results.append(analyse(good, limits=MediaLimits(max_packets=1, max_pixels=10)))
    for i in range(15):
        with pytest.raises(MediaReadError):
            analyse(unreadable[i % len(unreadable)])

    assert open_fds() == before
    assert sum(result.probe.playable for result in results) > 0
    assert sum(not result.probe.playable for result in results) > 0
