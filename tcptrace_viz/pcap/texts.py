"""Text columns built one str per row: payload previews and timestamp-option texts.

A Python ``str`` per packet is unavoidable for an ``object`` text column, and making it is most
of the reader's remaining cost.  ``_speedups.c`` makes them in C; the functions here fall back to
numpy and Python (same results, about 3x slower) when the extension was not built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

from tcptrace_viz.pcap.speedups import NO_EXTENSIONS_ENV, compiled_allowed

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Obj = npt.NDArray[np.object_]

_PRINTABLE: Final = np.where((np.arange(256) >= 0x20) & (np.arange(256) < 0x7F),
                             np.arange(256), ord(".")).astype(np.uint8)


def python_payload_texts(matrix: U8, lengths: I64, width: int) -> list[str]:
    """Each row's first ``lengths`` bytes (clamped to 0..width) as text, '.' for unprintables."""
    if width <= 0:
        raise ValueError("width must be positive")
    if matrix.size != len(lengths) * width:
        raise ValueError("matrix must hold len(lengths) * width bytes")
    rows = matrix.reshape(-1, width)
    text = _PRINTABLE[rows]
    text[np.arange(width)[None, :] >= lengths[:, None]] = 0  # trailing NULs are dropped
    out: list[str] = np.ascontiguousarray(text).view(f"S{width}").reshape(-1).astype(
        f"U{width}").tolist()
    return out


def python_timestamp_texts(keys: U64) -> list[str]:
    """``nop,nop,TS val V ecr E`` for each key ``V << 32 | E``."""
    if keys.dtype != np.uint64:
        raise ValueError("keys must be a contiguous, aligned array of uint64")
    return [f"nop,nop,TS val {key >> 32} ecr {key & 0xFFFFFFFF}" for key in keys.tolist()]


try:
    if not compiled_allowed():  # TCPTRACE_VIZ_NO_EXTENSIONS is set
        raise ImportError(NO_EXTENSIONS_ENV)
    from tcptrace_viz.pcap._speedups import payload_texts as compiled_payload_texts
    from tcptrace_viz.pcap._speedups import timestamp_texts as compiled_timestamp_texts
except ImportError:  # built without a C compiler, or switched off
    COMPILED = False
    _payload_texts: Callable[[U8, I64, int], list[str]] = python_payload_texts
    _timestamp_texts: Callable[[U64], list[str]] = python_timestamp_texts
else:
    COMPILED = True
    _payload_texts = compiled_payload_texts
    _timestamp_texts = compiled_timestamp_texts


def payload_texts(matrix: U8, lengths: I64) -> Obj:
    """Printable text of each row of ``matrix`` (``(n, width)`` bytes), ``lengths`` long.

    Lengths are clamped to 0..width; bytes outside printable ASCII show as '.'.
    """
    width = matrix.shape[1]
    out = np.empty(len(matrix), dtype=object)
    if len(matrix):
        out[:] = _payload_texts(np.ascontiguousarray(matrix),
                                np.require(lengths, np.int64, ["C", "A"]), width)
    return out


def timestamp_texts(keys: U64) -> Obj:
    """``nop,nop,TS val V ecr E`` for each key ``V << 32 | E``."""
    out = np.empty(len(keys), dtype=object)
    if len(keys):
        out[:] = _timestamp_texts(np.require(keys, np.uint64, ["C", "A"]))
    return out
