"""Decoded columns collected into preallocated, growing arrays.

Keeping each batch's small arrays until a final concatenation would leave the heap riddled
with freed batch-sized holes (glibc keeps them), roughly doubling peak memory; writing every
batch straight into one large array per column avoids both the holes and the copy.
"""

from __future__ import annotations

from typing import Final, Protocol

import numpy as np
import pandas as pd

from tcptrace_viz.pcap.decode_columns import DECODED_COLUMNS

_GROWTH: Final = 1.25  # when the caller's estimate falls short
_SLACK: Final = 2  # final arrays are copied to their exact size when over 1/2 too long
# (below that a view is kept: untouched int pages cost nothing, object slack 8 bytes a row)


class RowSink(Protocol):
    """Where the decoder puts each batch of rows (a ``ColumnSink``, or ``shards.ShardSink``)."""

    size: int

    def append(self, columns: dict[str, np.ndarray], expected_total: int = 0) -> None: ...


class ColumnSink:
    """One array per decoded column, filled batch after batch."""

    def __init__(self, capacity: int = 0) -> None:
        self.size = 0
        """Rows written so far."""
        self._payloads = TextPool()
        self._arrays: dict[str, np.ndarray] = {}
        self._allocate(max(capacity, 0))

    def _allocate(self, capacity: int) -> None:
        for name, dtype in DECODED_COLUMNS.items():
            # Untouched pages cost no memory; object arrays start as None (every row is written).
            new = np.empty(capacity, dtype=dtype)
            old = self._arrays.get(name)
            if old is not None:
                new[:self.size] = old[:self.size]
            self._arrays[name] = new
            del old

    @property
    def capacity(self) -> int:
        """Rows the arrays can hold before growing."""
        return len(self._arrays["frame"])

    def append(self, columns: dict[str, np.ndarray], expected_total: int = 0) -> None:
        """Copy one batch (every column the same length) in after the rows so far.

        ``expected_total`` is the caller's estimate of the final row count: when the arrays
        must grow, they grow to it at once (or by ``_GROWTH`` when it is too small).
        """
        count = len(columns["frame"])
        if self.size + count > self.capacity:
            self._allocate(max(self.size + count, expected_total,
                               int(self.capacity * _GROWTH)))
        for name, values in columns.items():
            self._arrays[name][self.size:self.size + count] = (
                self._payloads.shared(values) if name == "payload" else values)
        self.size += count

    def finish(self) -> dict[str, np.ndarray]:
        """The columns, exactly ``size`` long; the sink must not be used afterwards."""
        out: dict[str, np.ndarray] = {}
        exact = self.capacity - self.size <= self.size // _SLACK
        for name in DECODED_COLUMNS:
            array = self._arrays.pop(name)
            out[name] = array[:self.size] if exact else array[:self.size].copy()
            del array
        return out


class TextPool:
    """One shared ``str`` object for each distinct text seen, batch after batch.

    Payload previews repeat (protocol headers, the same request again): a million-packet
    capture had 440,000 preview objects for 88,000 distinct texts, 25 MB of copies.  Sharing
    them as each batch arrives lets the copies' memory be reused by the next batch.
    """

    def __init__(self, limit: int = 1 << 18) -> None:
        self._texts: dict[object, object] = {}
        self._limit = limit  # distinct texts kept (a capture of all-different ones stops here)

    def shared(self, texts: np.ndarray) -> np.ndarray:
        """``texts`` (an object array of str) with each text the pool's object for it."""
        if not len(texts):
            return texts
        codes, uniques = pd.factorize(texts, use_na_sentinel=False)
        pool = self._texts
        texts_here = uniques.tolist()
        lookup = pool.setdefault if len(pool) < self._limit else pool.get
        objects = list(map(lookup, texts_here, texts_here))
        table = np.empty(len(objects), dtype=object)
        table[:] = objects
        shared: np.ndarray = table[codes]
        return shared
