"""A ladder's thumbnail for ``reports/index.html``: the top of its PNG, small, as a data: URI.

The index page allows images from ``data:`` URIs only (its Content-Security-Policy), so the
thumbnail travels inside the page.  It is cut from the PNG the run has already drawn (Pillow
comes with matplotlib), and kept small: a 64-colour palette, a few kilobytes.
"""

from __future__ import annotations

import base64
import io
import struct
from typing import Any, Final

WIDTH: Final = 240
"""The thumbnail's width in pixels."""
ASPECT: Final = 0.75
"""Its height at most this times its width: the top of a tall ladder."""
COLOURS: Final = 64
"""The palette (the ladders use a handful of flat colours; antialiasing needs a few more)."""
DATA_PNG: Final = "data:image/png;base64,"
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"


def thumbnail_png(png: bytes, width: int = WIDTH, pixels: Any = None) -> bytes:
    """The top of the ladder in ``png``, ``width`` pixels wide, as PNG bytes.

    ``pixels``: the same image as an RGBA array (the Agg canvas the PNG was written from), used
    instead of decoding ``png`` when its size is the PNG's.

    Raises:
        ValueError: ``png`` is not an image Pillow can read.
    """
    from PIL import Image, UnidentifiedImageError

    size = png_size(png)
    if pixels is not None and size is not None and tuple(pixels.shape[1::-1]) == size:
        full_width, full_height = size
        top = Image.fromarray(pixels[:min(full_height, int(full_width * ASPECT))], "RGBA")
    else:
        try:
            with Image.open(io.BytesIO(png)) as image:
                image.load()
                full_width, full_height = image.size
                top = image.crop((0, 0, full_width,
                                  min(full_height, int(full_width * ASPECT))))
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"not a readable image: {exc}") from exc
    factor = max(1, top.width // width)
    if factor > 1:  # a fast box filter first, then thumbnail()'s careful one for the rest
        top = top.reduce(factor)
    top.thumbnail((width, int(width * ASPECT) + 1))
    small = top.convert("RGB").quantize(COLOURS)
    out = io.BytesIO()
    small.save(out, "PNG")
    return out.getvalue()


def png_size(png: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG's IHDR chunk, without decoding; ``None`` if not a PNG."""
    if len(png) < 24 or png[:8] != PNG_SIGNATURE or png[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def data_uri(png: bytes) -> str:
    """``png`` as a ``data:image/png;base64,...`` URI."""
    return DATA_PNG + base64.b64encode(png).decode("ascii")


def thumbnail_uri(png: bytes, width: int = WIDTH, pixels: Any = None) -> str:
    """The thumbnail of ``png`` as a data: URI, or ``""`` when ``png`` cannot be read
    (``pixels``: see :func:`thumbnail_png`)."""
    try:
        return data_uri(thumbnail_png(png, width, pixels))
    except ValueError:
        return ""
