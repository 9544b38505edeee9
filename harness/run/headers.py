"""Image facts read from file headers, before any pixel is decoded: size, PNG bit depth, the pixel limit."""

from __future__ import annotations

import contextlib
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from sr_harness import HarnessError


class DataError(HarnessError, ValueError):
    """Bad input data; the message is one line naming the file and the fix (harness.data re-exports it)."""


def png_bit_depth(data: bytes) -> int | None:
    head = data[:25]
    if len(head) == 25 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return head[24]
    return None


def header_size(path: Path, source=None) -> tuple[int, int]:
    """(width, height) from the file header, without decoding pixels (the pixel limit is ours, not Pillow's)."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # Pillow's bomb check raises or warns; _check_pixels gives one clear line
    try:
        with (open(path, "rb") if source is None else contextlib.nullcontext(source)) as fh, Image.open(fh) as img:
            return img.size
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise DataError(f"{path}: unreadable image header; re-export it as an 8-bit PNG") from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def check_pixels(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if w * h > max_pixels:
        raise DataError(f"{path}: {w} x {h} image has {w * h:,} pixels, over the limit of {max_pixels:,}; "
                        "pass --max-pixels N to allow it, or use a smaller image")
