"""JPEG thumbnails from one decoded video frame, with PyAV's own mjpeg encoder.

Decides the thumbnail's size (the requested width, the source's aspect ratio, an even height)
and the encoder settings. It never opens files, never decodes a container and never needs
Pillow: a frame goes in, JPEG bytes come out.
"""

from __future__ import annotations

from fractions import Fraction

import av
from av.video.frame import VideoFrame

# Full-range 4:2:0 is what the mjpeg encoder takes and what every browser displays.
THUMBNAIL_PIXEL_FORMAT = "yuvj420p"


def thumbnail_height(width: int, height: int, thumbnail_width: int) -> int:
    """The height of a ``thumbnail_width``-wide thumbnail of a ``width`` by ``height`` picture.

    It keeps the aspect ratio and is rounded to the nearest even number, halves up, and is at
    least 2 (4:2:0 chroma needs even sizes).
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"picture size {width}x{height} is not positive")
    if thumbnail_width < 2 or thumbnail_width % 2:
        raise ValueError(f"thumbnail width {thumbnail_width} must be even and at least 2")
    # floor(x / 2 + 1/2) * 2 with x = thumbnail_width * height / width, in integers.
    return max(2, (thumbnail_width * height + width) // (2 * width) * 2)


def encoder_options() -> dict[str, str]:
    """mjpeg encoder settings: the quantiser stays in the high-quality range."""
    return {"qmin": "2", "qmax": "8"}


def encode_thumbnail(frame: VideoFrame, thumbnail_width: int) -> bytes:
    """Scale ``frame`` to ``thumbnail_width`` wide and encode it as one baseline JPEG."""
    width = thumbnail_width
    height = thumbnail_height(frame.width, frame.height, thumbnail_width)
    scaled = frame.reformat(width=width, height=height, format=THUMBNAIL_PIXEL_FORMAT)
    scaled.pts = 0
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width = width
    encoder.height = height
    encoder.pix_fmt = THUMBNAIL_PIXEL_FORMAT
    encoder.time_base = Fraction(1, 1)
    encoder.options = encoder_options()
    packets = [*encoder.encode(scaled), *encoder.encode(None)]
    return b"".join(bytes(packet) for packet in packets)
