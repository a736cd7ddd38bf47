"""A big capture: its connections found shard by shard, the drawn ones' packets loaded alone.

``report`` and ``connections`` open a user's capture with :func:`open_capture`.  A file of up to
:data:`HOLD_ROWS` TCP segments is read into one Trace, as ``read_capture`` reads it.  A bigger
one is spread by 4-tuple over shard files in a private temporary folder while it is read
(``pcap.shards``); each shard is then annotated and tabled on its own, which gives the very
connections the whole file would (a connection never spans two shards), renumbered in the
order of their first packet across all shards.  What the command holds is the connection
table; the packets of the connections it draws are loaded from their shards afterwards
(:meth:`OpenCapture.with_packets_of`).  Memory grows with the shard size and the number of
connections, not with the file.  The folder is removed when the capture is closed, Ctrl-C
included.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from tcptrace_viz.errors import BadInputError, TcptraceVizError
from tcptrace_viz.model import Trace
from tcptrace_viz.shard_tables import annotated_shard, connections_by_shard
from tcptrace_viz.whole_capture import WholeCapture

if TYPE_CHECKING:
    from tcptrace_viz.pcap.reader import PcapReadResult

HOLD_ROWS: Final = 250_000
"""TCP segments held in memory before a capture is spread over shards.  Past this, shards are
leaner and as quick: a million-segment report takes half the memory spread, in about the same
time (states are inferred for the drawn connections only); see ``benchmarks/README.md``."""
ROWS_PER_SHARD: Final = 125_000
"""About how many segments each shard gets."""

_Status = Callable[[str], None]


class OpenCapture:
    """A capture opened for ``report`` or ``connections`` (a context manager: close it)."""

    def __init__(self, trace: Trace, shards: list[Path] | None = None,
                 places: pd.DataFrame | None = None, folder: Path | None = None) -> None:
        self.trace = trace
        """The whole Trace, or for a spread capture one holding no packets, only
        ``trace.whole`` (every connection)."""
        self._shards = shards or []
        self._places = places  # by global connection: its shard and its number there
        self._folder = folder

    def __enter__(self) -> OpenCapture:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Remove the shard files."""
        if self._folder is not None:
            remove_folder(self._folder)
            self._folder = None

    @property
    def spread(self) -> bool:
        """True when the capture was too big to hold and was read shard by shard."""
        return self._places is not None

    def with_packets_of(self, connections: Iterable[int],
                        status: _Status | None = None) -> Trace:
        """The Trace with the packets (and inferred states) of ``connections``: the whole
        Trace when it was held whole, else these connections' rows loaded from their shards."""
        if self._places is None:
            return self.trace
        from tcptrace_viz.analysis import infer_all_states

        wanted = sorted({int(conn) for conn in connections} & set(self._places.index))
        (status or _quiet)(f"loading the packets of {len(wanted):,} connection"
                           + ("s" if len(wanted) != 1 else ""))
        places = self._places.loc[wanted]
        parts = [_numbered_shard(self._shards[int(str(shard))], rows)
                 for shard, rows in places.groupby("shard", sort=True)]
        packets = (pd.concat(parts, ignore_index=True) if parts
                   else annotated_shard(None))
        order = np.lexsort((packets["frame"].to_numpy(), packets["ts_ns"].to_numpy()))
        packets = packets.iloc[order].reset_index(drop=True)
        trace = Trace.build(packets=packets, states=infer_all_states(packets, wanted),
                            meta=self.trace.meta)
        trace.whole = self.trace.whole
        for frame in (trace.packets, trace.states, trace.syscalls):
            frame["t"] = (frame["ts_ns"] - trace.origin_ns).astype("float64") / 1e9
        return trace


class SpreadPackets:
    """Every packet of a capture spread over shards, a shard at a time (for ``export``)."""

    def __init__(self, shards: list[Path], places: pd.DataFrame) -> None:
        self._shards, self._places = shards, places

    @property
    def connections(self) -> int:
        """Connections in the capture."""
        return len(self._places)

    def frames(self) -> Iterator[pd.DataFrame]:
        """Each shard's packets, annotated, their connections numbered as in the whole file
        (rows in file order within a shard; a connection's rows all in one frame)."""
        for shard, rows in self._places.groupby("shard", sort=True):
            yield _numbered_shard(self._shards[int(str(shard))], rows)


def spread_packets(result: PcapReadResult, status: _Status | None = None) -> SpreadPackets:
    """The packets of ``result`` (read with a ``Spread`` into shards), shard by shard."""
    places = connections_by_shard(result.shards, result.rows, status or _quiet)[1]
    return SpreadPackets(result.shards, places)


def _numbered_shard(path: Path, places: pd.DataFrame) -> pd.DataFrame:
    """The annotated rows of the connections ``places`` names in the shard at ``path``, with
    their whole-file connection numbers (``places``: index the global number, ``local``)."""
    packets = annotated_shard(path)
    global_of = pd.Series(places.index.to_numpy(), index=places["local"].to_numpy())
    kept = packets[packets["conn"].isin(global_of.index)].copy()
    kept["conn"] = global_of.loc[kept["conn"].to_numpy()].to_numpy()
    return kept


def _quiet(_text: str) -> None:
    return None


def open_capture(path: Path, reading: Callable[[int, int], None] | None = None,
                 status: _Status | None = None, *, hold: int | None = None,
                 rows_per_shard: int | None = None) -> OpenCapture:
    """Open a capture folder or a capture file; a file of more than ``hold`` TCP segments
    (default :data:`HOLD_ROWS`) is read shard by shard (``rows_per_shard`` each, default
    :data:`ROWS_PER_SHARD`).  ``reading(bytes_done, bytes_total)`` and
    ``status(text)`` report on the work as ``store.read_capture``'s do.

    Raises:
        BadInputError: the path does not exist or holds nothing usable.
        TcptraceVizError: the shards cannot be written (no room in the temporary folder).
    """
    from tcptrace_viz.pcap.reader import read_pcap
    from tcptrace_viz.pcap.shards import Spread
    from tcptrace_viz.pcap.trace_block import find_trace_document
    from tcptrace_viz.store import capture_folder_of, read_capture, trace_of_file

    if not path.exists():
        raise BadInputError(f"{path} does not exist")
    found = find_trace_document(path)
    if capture_folder_of(path) is not None or found.document is not None:
        # A capture folder, or this project's own pcapng, which carries its whole Trace
        # (traced states, system calls): read whole, as read_capture reads it.
        return OpenCapture(read_capture(path, reading, status))
    folder = private_folder()
    try:
        result = read_pcap(path, reading, Spread(folder, hold or HOLD_ROWS,
                                                 rows_per_shard or ROWS_PER_SHARD))
        if not result.shards:
            remove_folder(folder)
            return OpenCapture(trace_of_file(path, result, status))
        table, places = connections_by_shard(result.shards, result.rows, status or _quiet)
        capture = OpenCapture(_table_only_trace(path, result, table, places, found.problem),
                              result.shards, places, folder)
        _start_with_the_states(capture)
    except BaseException:
        remove_folder(folder)
        raise
    return capture


def _start_with_the_states(capture: OpenCapture) -> None:
    """Count time from the first event, as a Trace held whole does: a connection's inferred
    states begin up to 2 ns before its first packet, so those of the connections starting that
    close to the capture's first packet (and among those whose states are inferred) may come
    first."""
    from tcptrace_viz.analysis.states import INFERRED_LEAD_NS
    from tcptrace_viz.store import MAX_INFERRED_CONNECTIONS

    whole = capture.trace.whole
    assert whole is not None
    table = whole.connections
    early = table["conn"][(table["first_ts_ns"] <= whole.origin_ns + INFERRED_LEAD_NS)
                          & (table["conn"] < MAX_INFERRED_CONNECTIONS)]
    states = capture.with_packets_of(early.tolist()).states
    if len(states):
        origin = min(whole.origin_ns, int(states["ts_ns"].min()))
        capture.trace.whole = dataclasses.replace(whole, origin_ns=origin)


_PREFIX: Final = "tcptrace-viz-shards-"
_LOCK_NAME: Final = ".in-use"
_locks: dict[Path, IO[bytes]] = {}  # each folder's lock, held until the folder is removed


def private_folder() -> Path:
    """A new private temporary folder for a big capture's shards; remove it with
    :func:`remove_folder`.

    It holds a lock file, locked (``flock``) while the folder is in use: the folders of a
    process killed outright (SIGKILL, power loss), whose lock the kernel has released, are
    removed by the next process to make one, and never those of a live process, even one in
    another PID namespace sharing the temporary folder."""
    try:
        folder = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        lock = (folder / _LOCK_NAME).open("wb")
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        raise TcptraceVizError(f"no temporary folder can be made for a big capture's shards: "
                               f"{error.strerror or error} (set TMPDIR to a writable folder)"
                               ) from None
    _locks[folder] = lock
    for stale in folder.parent.glob(f"{_PREFIX}*"):
        if stale != folder and _abandoned(stale):
            shutil.rmtree(stale, ignore_errors=True)
    return folder


def remove_folder(folder: Path) -> None:
    """Remove a folder :func:`private_folder` made, and let go of its lock."""
    shutil.rmtree(folder, ignore_errors=True)
    lock = _locks.pop(folder, None)
    if lock is not None:
        lock.close()


def _abandoned(folder: Path) -> bool:
    """True when no process holds ``folder``'s lock (one just being made has no lock file yet:
    left alone)."""
    try:
        with (folder / _LOCK_NAME).open("rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # locked by a live process, or no lock file yet, or not ours to open
        return False
    return True


def _table_only_trace(path: Path, result: PcapReadResult, table: pd.DataFrame,
                      places: pd.DataFrame, block_problem: str) -> Trace:
    from tcptrace_viz.store import file_meta

    trace = Trace.build(meta=file_meta(path, result, block_problem))
    resent = frozenset(int(conn) for conn in places.index[places["resent"].to_numpy()])
    trace.whole = WholeCapture(table, resent, int(table["first_ts_ns"].min()))
    return trace
