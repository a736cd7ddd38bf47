"""Fixed-width byte windows at many offsets of one buffer, and big-endian fields from them.

The decoders never loop over packets: they gather a ``(packets, width)`` matrix of bytes that
start at each packet's header and read fields as columns.  Callers pad the buffer with
``PAD`` zero bytes so a window that starts near the end never reads outside it.  The copy is
done by ``_speedups.c`` when it was built (one memcpy a row), by numpy otherwise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Final

import numpy as np

from tcptrace_viz.arrays import I64, U8
from tcptrace_viz.pcap.speedups import compiled_function

PAD: Final = 256  # zero bytes the buffer must carry after its last record



def python_gather(buf: U8, starts: I64, width: int, out: U8) -> None:
    """Fill ``out`` (``len(starts) * width`` bytes) with the windows, using numpy alone."""
    if width <= 0:
        raise ValueError("width must be positive")
    if out.size != len(starts) * width:
        raise ValueError("out must hold len(starts) * width bytes")
    if np.shares_memory(out, buf):
        raise ValueError("out must not overlap data")
    if not len(starts):
        return
    if not buf.flags.c_contiguous:
        buf = np.ascontiguousarray(buf)
    if int(starts.min()) < 0 or int(starts.max()) > len(buf) - width:
        raise IndexError(f"a {width}-byte window lies outside the {len(buf)}-byte buffer")
    # Rows of a sliding-window view: numpy copies width bytes per row, with no index matrix.
    # (Built directly: numpy's sliding_window_view costs ~30 us of checks per call.)
    windows = np.ndarray(shape=(len(buf) - width + 1, width), dtype=np.uint8, buffer=buf,
                         strides=(1, 1))
    out.reshape(len(starts), width)[:] = windows[starts]  # (np.take would copy all windows)


compiled_gather = compiled_function("gather")
COMPILED = compiled_gather is not None
"""True when the compiled twins run (built, and not switched off)."""
_gather: Callable[[U8, I64, int, U8], None] = compiled_gather or python_gather


def gather(buf: U8, starts: I64, width: int) -> U8:
    """The ``width`` bytes at each offset in ``starts``, as a ``(len(starts), width)`` matrix.

    Raises IndexError when a window does not lie inside ``buf``.
    """
    if width <= 0 or not len(starts):
        return np.zeros((len(starts), max(width, 0)), dtype=np.uint8)
    out = np.empty((len(starts), width), dtype=np.uint8)
    _gather(np.ascontiguousarray(buf), np.require(starts, np.int64, ["C", "A"]), width, out)
    return out


@functools.lru_cache(maxsize=256)
def _field_dtype(fmt: str, col: int, width: int) -> np.dtype[np.void]:
    return np.dtype({"names": ["v"], "formats": [fmt], "offsets": [col], "itemsize": width})


def field(mat: U8, col: int, fmt: str) -> I64:
    """The ``fmt`` field (e.g. ``">u4"``) at byte column ``col`` of each row, as int64.

    A structured view reads it in place: no per-byte shifting and or-ing.
    """
    mat = np.ascontiguousarray(mat)
    view = mat.reshape(-1).view(_field_dtype(fmt, col, mat.shape[1]))
    out: I64 = view["v"].astype(np.int64)
    return out


def be16(mat: U8, col: int) -> I64:
    """Unsigned big-endian 16-bit field at byte column ``col`` of each row."""
    return field(mat, col, ">u2")


def be32(mat: U8, col: int) -> I64:
    """Unsigned big-endian 32-bit field at byte column ``col`` of each row."""
    return field(mat, col, ">u4")
