"""Text columns built one str per row: payload previews and timestamp-option texts.

A Python ``str`` per packet is unavoidable for an ``object`` text column, and making it is most
of the reader's remaining cost.  ``_speedups.c`` makes them in C; the functions here fall back to
numpy and Python (same results, about 3x slower) when the extension was not built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np

from tcptrace_viz.arrays import I64, U8, U64, Obj
from tcptrace_viz.pcap.speedups import compiled_function

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


compiled_payload_texts = compiled_function("payload_texts")
compiled_timestamp_texts = compiled_function("timestamp_texts")
COMPILED = compiled_payload_texts is not None and compiled_timestamp_texts is not None
"""True when the compiled twins run (built, and not switched off)."""
_payload_texts: Callable[[U8, I64, int], list[str]] = (compiled_payload_texts
                                                       or python_payload_texts)
_timestamp_texts: Callable[[U64], list[str]] = compiled_timestamp_texts or python_timestamp_texts


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
