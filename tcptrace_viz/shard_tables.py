"""The connection table of a capture spread over shard files, each shard tabled on its own.

A shard holds every packet of its 4-tuples (``pcap.shards``), so its connections are tabled
without the others.  The shards are tabled in forked children, as many at once as this process
has CPUs (one at a time, in this process, on a single CPU): each child annotates its shards,
tables their connections and sends the tables back as Arrow.  The parent merges them into one
table, its connections numbered in the order of their first packet across all shards, with a
row per connection saying where its packets are.
"""

from __future__ import annotations

import select
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from tcptrace_viz.analysis.connection_table import CONNECTION_COLUMNS
from tcptrace_viz.errors import TcptraceVizError
from tcptrace_viz.forked import ForkedCall
from tcptrace_viz.kernel.process import usable_cpus

_Status = Callable[[str], None]
_Tabled = tuple[Any, dict[str, str]]  # one shard's table as Arrow (None: no TCP), its dtypes
_TASKS_PER_WORKER: Final = 4  # shards handed out in this many groups per worker (progress)
SHARD_TABLE_S: Final = 600.0
"""How long one group of shards may take to table before the command gives up on it."""


def annotated_shard(path: Path | None) -> pd.DataFrame:
    """The annotated packets of the shard file at ``path`` (none for ``None``), rows in the
    order they were read from the capture, connections numbered within the shard."""
    from tcptrace_viz.analysis import annotate_packets
    from tcptrace_viz.pcap.decode import to_dataframe
    from tcptrace_viz.pcap.decode_columns import DECODED_COLUMNS
    from tcptrace_viz.pcap.shards import read_shard

    columns = (read_shard(path) if path is not None else
               {name: np.empty(0, dtype=dtype) for name, dtype in DECODED_COLUMNS.items()})
    return annotate_packets(to_dataframe(columns))


def connections_by_shard(shards: Sequence[Path], segments: int, status: _Status,
                         workers: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The connection table over all ``shards`` (``segments`` TCP segments in all), numbered in
    the order of each connection's first packet (time, then frame); and, indexed by that
    number, where each connection's packets are (``shard``, its number there ``local``) and
    whether its FIN was sent again (``resent``).  ``workers``: children at once (default: the
    usable CPUs)."""
    tables, dtypes = [], {}
    for table, shard_dtypes in _tabled(shards, segments, status, workers or usable_cpus()):
        if table is not None:
            tables.append(table)
            dtypes = shard_dtypes
    return _merged(tables, dtypes)


def _tabled(shards: Sequence[Path], segments: int, status: _Status,
            workers: int) -> Iterator[_Tabled]:
    """Each shard's table, in shard order, ``workers`` children tabling them at once."""
    def say(done: int) -> None:
        status(f"finding the connections of {segments:,} TCP segments: shard {done} of "
               f"{len(shards)}")

    if workers <= 1 or len(shards) <= 1:
        for number, path in enumerate(shards):
            say(number + 1)
            yield _shard_table(number, path)
        return
    size = max(1, -(-len(shards) // (workers * _TASKS_PER_WORKER)))
    groups = [list(range(low, min(low + size, len(shards))))
              for low in range(0, len(shards), size)]
    _import_the_work()  # once here, not again in every child
    results: dict[int, list[_Tabled]] = {}
    running: dict[int, tuple[int, ForkedCall[list[_Tabled]]]] = {}
    done = 0
    say(0)
    try:
        while groups or running:
            while groups and len(running) < workers:
                group = groups.pop(0)
                call = ForkedCall(_tabler(shards, group), "tabling the connections of a shard")
                running[call.fileno()] = (group[0], call)
            ready = select.select(list(running), [], [], SHARD_TABLE_S)[0]
            if not ready:
                raise TcptraceVizError(f"tabling the connections of a shard took more than "
                                       f"{SHARD_TABLE_S:.0f} s")
            for fd in ready:
                first, call = running.pop(fd)
                results[first] = call.result(SHARD_TABLE_S)
                done += len(results[first])
                say(done)
    finally:
        for _, call in running.values():
            call.close()
    for first in sorted(results):
        yield from results[first]


def _tabler(shards: Sequence[Path], group: list[int]) -> Callable[[], list[_Tabled]]:
    return lambda: [_shard_table(number, shards[number]) for number in group]


def _import_the_work() -> None:
    import pyarrow  # type: ignore[import-untyped]
    import pyarrow.compute  # type: ignore[import-untyped]  # noqa: F401

    from tcptrace_viz.analysis import annotate_packets  # noqa: F401
    from tcptrace_viz.analysis.connection_table import connections  # noqa: F401
    from tcptrace_viz.analysis.triage import fin_resent  # noqa: F401
    from tcptrace_viz.pcap.decode import to_dataframe  # noqa: F401
    from tcptrace_viz.pcap.shards import read_shard  # noqa: F401


def _shard_table(number: int, path: Path) -> _Tabled:
    """Shard ``number``'s connection table (at ``path``), with the first frame of each
    connection, whether its FIN was resent, and where it is (``shard``, ``local``)."""
    from tcptrace_viz.analysis.connection_table import connections
    from tcptrace_viz.analysis.fields import in_time_order
    from tcptrace_viz.analysis.triage import fin_resent

    packets = annotated_shard(path)
    if not len(packets):
        return None, {}
    table = connections(packets)
    firsts = in_time_order(packets).groupby("conn", sort=True)["frame"].first()
    table["first_frame"] = firsts.loc[table["conn"]].to_numpy()
    table["resent"] = table["conn"].isin(fin_resent(packets))
    table["shard"], table["local"] = number, table["conn"]
    return _off_the_heap(table), {str(name): str(dtype) for name, dtype in table.dtypes.items()}


def _off_the_heap(table: pd.DataFrame) -> Any:
    """``table`` as an Arrow table: its texts in a few buffers outside Python's heap.

    Kept as pandas, each shard's thousands of connection texts would sit among the shard's
    freed packet texts and keep their memory from being reused: 1 KB per connection instead
    of 0.4."""
    import pyarrow as pa

    return pa.Table.from_pandas(table, preserve_index=False, nthreads=1)


def _merged(tables: list[Any], dtypes: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Arrow tables of :func:`_off_the_heap` as one connection table, renumbered in the
    order of each connection's first packet (time, then frame), with the dtypes they had
    (texts as ``object``); and where each connection is (its shard and number there)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    joined = pa.concat_tables(tables)
    del tables[:]
    order = np.lexsort((joined.column("first_frame").to_numpy(),
                        joined.column("first_ts_ns").to_numpy()))

    def column(name: str) -> np.ndarray:
        """One column in the new order; in a column of few distinct texts (``close_kind``),
        each made into one shared object."""
        chunked = joined.column(name)
        if (pa.types.is_string(chunked.type) and not chunked.null_count
                and pc.count_distinct(chunked).as_py() * 4 < len(chunked)):
            encoded = chunked.combine_chunks().dictionary_encode()
            texts = encoded.dictionary.to_numpy(zero_copy_only=False)
            shared: np.ndarray = texts[encoded.indices.to_numpy()]
            return shared[order]
        values: np.ndarray = chunked.to_numpy()
        return values[order]

    numbers = np.arange(len(order), dtype=np.int64)
    places = pd.DataFrame({name: column(name) for name in ("shard", "local", "resent")},
                          index=numbers)
    columns = {name: pd.Series(numbers if name == "conn" else column(name), dtype=dtypes[name],
                               copy=False) for name in CONNECTION_COLUMNS}
    return pd.DataFrame(columns, copy=False), places
