"""pcapng timestamps: raw 64-bit counts in an interface's resolution to ns since the epoch."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from tcptrace_viz.arrays import I64

_NS_PER_S: Final = 1_000_000_000
_BINARY: Final = 0x80  # if_tsresol top bit: the rest is a power of 2, not of 10


def raw_to_ns(raw: npt.NDArray[np.uint64], tsresol: int,
              tsoffset: int = 0) -> I64:
    """Convert timestamps counted in units of ``if_tsresol`` to ns, adding ``if_tsoffset`` s.

    Arithmetic wraps instead of failing on absurd values: the file is untrusted and a wrong
    timestamp is better than no packet.
    """
    raw = raw.astype(np.uint64)
    exponent = tsresol & 0x7F
    if tsresol & _BINARY:
        seconds = raw >> np.uint64(exponent) if exponent < 64 else np.zeros_like(raw)
        mask = np.uint64((1 << min(exponent, 64)) - 1) if exponent < 64 else np.uint64(2**64 - 1)
        frac = raw & mask
        drop = max(0, exponent - 30)
        frac = frac >> np.uint64(drop) if drop < 64 else np.zeros_like(raw)
        frac_ns = (frac * np.uint64(_NS_PER_S)) >> np.uint64(exponent - drop)
        ns = seconds * np.uint64(_NS_PER_S) + frac_ns
    elif exponent == 9:
        ns = raw
    elif exponent < 9:
        ns = raw * np.uint64(10 ** (9 - exponent))
    elif exponent - 9 < 20:
        ns = raw // np.uint64(10 ** (exponent - 9))
    else:
        ns = np.zeros_like(raw)
    if tsoffset:
        ns = ns + np.uint64((tsoffset * _NS_PER_S) % 2**64)
    return ns.view(np.int64)
