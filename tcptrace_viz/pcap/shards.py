"""Decoded rows set aside on disk, spread by connection, when a capture is too big to hold.

A :class:`ShardSink` takes the reader's batches like a ``ColumnSink``.  Up to ``hold`` rows it
keeps them in memory (most captures end there, and are read exactly as without it); past that
(or once the reader expects more than that) it writes every row so far, and each later batch,
into one of several shard files (Arrow IPC
streams) chosen by a hash of the row's unordered 4-tuple.  Both directions of a 4-tuple, and so
every connection on it, land in the same shard, so each shard can be analysed on its own and
gives the same connections as the whole file would (see ``big_capture``).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from tcptrace_viz.errors import TcptraceVizError
from tcptrace_viz.pcap.column_arrays import ColumnSink, TextPool
from tcptrace_viz.pcap.decode_columns import DECODED_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

_PORT_MIX: Final = np.uint64(0x9E3779B97F4A7C15)  # spreads ports over all 64 bits
_SPREAD_ROWS: Final = 1 << 16  # rows converted for the shard files at once


@dataclasses.dataclass(frozen=True)
class Spread:
    """When and how widely a reader spreads its rows over shard files."""

    folder: Path
    """Where the shard files go (the caller creates it and removes it)."""
    hold: int
    """Rows kept in memory before spreading begins."""
    rows_per_shard: int
    """About how many rows each shard should get (from the reader's estimate of the total)."""
    most_shards: int = 256
    """At most this many shard files (each is an open file while the capture is read)."""


def shard_numbers(columns: dict[str, np.ndarray], shards: int) -> np.ndarray:
    """Each row's shard: a hash of its two ``(address, port)`` endpoints, in either order."""
    def endpoint_hash(address: str, port: str) -> np.ndarray:
        hashed: np.ndarray = pd.util.hash_array(np.asarray(columns[address], dtype=object))
        mixed: np.ndarray = hashed ^ (columns[port].astype(np.uint64) * _PORT_MIX)
        return mixed

    both = endpoint_hash("src", "sport") + endpoint_hash("dst", "dport")  # the same either way
    numbers: np.ndarray = (both % np.uint64(shards)).astype(np.int64)
    return numbers


class ShardSink:
    """A ``ColumnSink`` that spreads its rows over shard files once they pass ``spread.hold``."""

    def __init__(self, spread: Spread) -> None:
        self.size = 0
        """Rows written so far (in memory or in the shard files)."""
        self._spread = spread
        self._memory: ColumnSink | None = ColumnSink()
        self._writers: list[Any] = []
        self._files: list[Path] = []

    def append(self, columns: dict[str, np.ndarray], expected_total: int = 0) -> None:
        """Take one batch; ``expected_total`` is the reader's estimate of all the rows."""
        count = len(columns["frame"])
        self.size += count
        if self._memory is None:
            self._write(columns)
            return
        # Never grow the in-memory arrays past what they may hold (object columns are written
        # with None when allocated: a ten-million-row estimate would cost 560 MB at once).
        self._memory.append(columns, min(expected_total, self._spread.hold + count))
        # Spread as soon as the reader expects more than ``hold`` rows (it extrapolates from
        # the bytes read so far), not only once they have all been held.
        if max(self._memory.size, expected_total) > self._spread.hold:
            held, self._memory = self._memory.finish(), None
            wanted = math.ceil(max(expected_total, self.size) * 1.25 / self._spread.rows_per_shard)
            self._open(min(max(2, wanted), self._spread.most_shards))
            for low in range(0, self.size, _SPREAD_ROWS):
                self._write({name: values[low:low + _SPREAD_ROWS]
                             for name, values in held.items()})

    def finish(self) -> dict[str, np.ndarray]:
        """The rows held in memory (none once spreading began); the shard files are closed."""
        for writer in self._writers:
            writer.close()
        self._writers = []
        if self._memory is not None:
            held, self._memory = self._memory.finish(), None
            return held
        return {name: np.empty(0, dtype=dtype) for name, dtype in DECODED_COLUMNS.items()}

    @property
    def files(self) -> list[Path]:
        """The shard files, empty when every row stayed in memory."""
        return list(self._files)

    def _open(self, shards: int) -> None:
        import pyarrow as pa

        schema = _schema()
        for number in range(shards):
            path = self._spread.folder / f"shard-{number:03d}.arrows"
            try:
                self._writers.append(pa.ipc.new_stream(pa.OSFile(str(path), "wb"), schema))
            except OSError as error:
                raise _no_room(self._spread.folder, error) from None
            self._files.append(path)

    def _write(self, columns: dict[str, np.ndarray]) -> None:
        import pyarrow as pa

        if not len(columns["frame"]):
            return
        numbers = shard_numbers(columns, len(self._writers))
        order = np.argsort(numbers, kind="stable")  # file order kept within each shard
        bounds = np.searchsorted(numbers[order], np.arange(len(self._writers) + 1))
        batch = pa.record_batch([pa.array(columns[name][order]) for name in DECODED_COLUMNS],
                                schema=_schema())
        try:
            for shard, writer in enumerate(self._writers):
                low, high = int(bounds[shard]), int(bounds[shard + 1])
                if high > low:
                    writer.write_batch(batch.slice(low, high - low))
        except OSError as error:
            raise _no_room(self._spread.folder, error) from None


def read_shard(path: Path) -> dict[str, np.ndarray]:
    """The decoded columns of one shard file, in the order they were read from the capture."""
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_stream(source).read_all()
    pool = TextPool()
    columns = {}
    for name, dtype in DECODED_COLUMNS.items():
        values = table.column(name).to_numpy(zero_copy_only=False)
        values = values.astype(dtype, copy=False)
        columns[name] = pool.shared(values) if name == "payload" else values
    return columns


def _schema() -> pa.Schema:
    import pyarrow as pa

    kinds = {"object": pa.string(), "bool": pa.bool_()}
    return pa.schema([(name, kinds.get(dtype) or pa.from_numpy_dtype(np.dtype(dtype)))
                      for name, dtype in DECODED_COLUMNS.items()])


def _no_room(folder: Path, error: OSError) -> TcptraceVizError:
    reason = error.strerror or str(error)
    return TcptraceVizError(f"the capture is too big to hold in memory, and its rows cannot be set "
                         f"aside in {folder}: {reason} (set TMPDIR to a folder with room)")
