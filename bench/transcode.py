"""How fast small transcodes are on this machine, against real time.

    .venv/bin/python -m bench.transcode [--clips N] [--seconds S]

Makes N camera-like clips (1280x720, 15 fps, moving picture, AAC sound) of S seconds each, makes the
small version of each with the settings camvault uses by default ([transcode] width 640, bitrate 600k)
and prints, per clip and in total, the wall-clock time against the clip's own duration. The reference
is real time: one transcode thread keeps up with a camera that records without pause while the
"realtime factor" (clip seconds per second spent) stays above 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.support.media import make_clip

from camvault.media.transcode import TranscodeSettings, transcode


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    settings = TranscodeSettings()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} CPUs, load {load}")
    spent = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(args.clips):
            clip = make_clip(
                Path(tmp) / f"clip{number}.mp4",
                seconds=args.seconds,
                width=1280,
                height=720,
                fps=15,
                audio=True,
            )
            started = time.monotonic()
            result = transcode(clip, Path(tmp) / f"small{number}.mp4", settings)
            took = time.monotonic() - started
            spent += took
            rate = result.size * 8 / args.seconds / 1000
            print(
                f"clip {number}: {args.seconds:g} s 1280x720 -> {result.width}x{result.height}, "
                f"{rate:.0f} kbit/s, {took:.2f} s ({args.seconds / took:.1f}x real time)"
            )
    total = args.clips * args.seconds
    print(f"total: {total:g} s of video in {spent:.2f} s: {total / spent:.1f}x real time")


if __name__ == "__main__":
    main()
