"""Fixed-width byte windows at many offsets of one buffer, and big-endian fields from them.

The decoders never loop over packets: they gather a ``(packets, width)`` matrix of bytes that
start at each packet's header and read fields as columns.  Callers pad the buffer with
``PAD`` zero bytes so a window that starts near the end never reads outside it.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

PAD: Final = 256  # zero bytes the buffer must carry after its last record

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]


def gather(buf: U8, starts: I64, width: int) -> U8:
    """The ``width`` bytes at each offset in ``starts``, as a ``(len(starts), width)`` matrix."""
    if width <= 0 or not len(starts):
        return np.zeros((len(starts), max(width, 0)), dtype=np.uint8)
    # Rows of a sliding-window view: numpy copies width bytes per row, with no index matrix.
    out: U8 = sliding_window_view(buf, width)[starts]
    return out


def be16(mat: U8, col: int) -> I64:
    """Unsigned big-endian 16-bit field at byte column ``col`` of each row."""
    return (mat[:, col].astype(np.int64) << 8) | mat[:, col + 1]


def be32(mat: U8, col: int) -> I64:
    """Unsigned big-endian 32-bit field at byte column ``col`` of each row."""
    return ((mat[:, col].astype(np.int64) << 24) | (mat[:, col + 1].astype(np.int64) << 16)
            | (mat[:, col + 2].astype(np.int64) << 8) | mat[:, col + 3])


def uint_le_or_be(mat: U8, col: int, size: int, little: bool) -> I64:
    """Unsigned ``size``-byte field (2, 4 or 8; 8 must be below 2**63) in the given order."""
    cols = mat[:, col:col + size].astype(np.int64)
    order = range(size) if little else range(size - 1, -1, -1)
    out = np.zeros(len(mat), dtype=np.int64)
    for shift, index in enumerate(order):
        out |= cols[:, index] << (8 * shift)
    return out
