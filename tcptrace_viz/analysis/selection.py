"""Choosing what one ladder or report shows: one connection of a trace, and its timeline.

A trace read from a user's capture may hold many connections; a ladder draws one.  States are
matched to the connection by their addresses; syscalls by the socket they name, else by time.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.model import STATE_COLUMNS, Trace, conform
from tcptrace_viz.vocabulary import endpoint

if TYPE_CHECKING:
    from collections.abc import Iterator

SPAN_MARGIN_NS: Final = 50_000_000
"""Syscalls this close to a connection's packets belong to it (multi-connection traces)."""


@dataclasses.dataclass(frozen=True)
class Selection:
    """The part of a Trace one ladder (or report) shows."""

    trace: Trace
    """A Trace holding only the selected connection's rows (the source trace when all fit)."""
    origin_ns: int
    """What ``t`` counts from: the drawn connection's first event, or with ``absolute_time``
    the full trace's first (so times match the capture file's, as Wireshark counts them)."""
    connections: tuple[int, ...]
    """All connection indexes in the source trace."""
    connection: int | None
    """The connection shown, or None when the trace has at most one."""
    why: str = ""
    """Why this connection was chosen, when the caller named none (``it was reset ...``)."""
    capture_origin_ns: int = 0
    """The full trace's first event (``origin_ns`` with ``absolute_time``)."""

    @property
    def note(self) -> str:
        """Which connection is shown, when there is a choice, and why."""
        if self.connection is None or len(self.connections) < 2:
            return ""
        because = f": {self.why}" if self.why else ""
        return (f"Connection {self.connection} of {len(self.connections):,} shown{because} "
                f"(choose another with --connection N); times count from {self.time_origin}"
                + ("" if self.time_origin.startswith("the") else
                   " (--absolute-time: from the capture's)"))

    @property
    def time_origin(self) -> str:
        """What ``t`` counts from, in words (``its first event``)."""
        if len(self.connections) < 2 or self.origin_ns == self.capture_origin_ns:
            return "the first event of the capture"
        return "its first event"


def rows_of(frame: pd.DataFrame) -> Iterator[Any]:
    """The frame's rows as namedtuples (typed loosely: columns are known by the schema)."""
    return frame.itertuples(index=False)


def bare_endpoint(text: str) -> str:
    """An endpoint without IPv6 brackets, so ``[::1]:5555`` and ``::1:5555`` compare equal."""
    return text.replace("[", "").replace("]", "")


def select(trace: Trace, connection: int | None = None, *,
           absolute_time: bool = False) -> Selection:
    """Pick one connection out of ``trace``; its times count from its own first event (from
    the trace's with ``absolute_time``).

    With ``connection=None`` a trace with several connections shows the most telling one
    (:func:`tcptrace_viz.analysis.triage.most_telling`: a reset, a refusal, retransmissions...),
    and the note says why.  States are matched to the connection by their addresses; syscalls
    by their socket's (:func:`connection_calls`) when there is more than one connection.

    Raises:
        BadInputError: ``connection`` is not one of the trace's connections.
    """
    packets = trace.packets
    if trace.whole is not None:  # some connections of a big capture: the table names them all
        conns = tuple(int(c) for c in trace.whole.connections["conn"])
    else:
        conns = tuple(sorted(int(c) for c in pd.unique(packets["conn"]))) if len(packets) else ()
    if connection is not None and connection not in conns:
        available = ", ".join(str(c) for c in conns) or "none"
        raise BadInputError(f"connection {connection} is not in this trace "
                            f"(connections: {available}).")
    if len(conns) <= 1:
        return Selection(trace, trace.origin_ns, conns, connection,
                         capture_origin_ns=trace.origin_ns)
    why = ""
    if connection is None:
        from tcptrace_viz.analysis.connection_table import capture_connections
        from tcptrace_viz.analysis.triage import capture_fin_resent, most_telling

        picked = most_telling(capture_connections(trace), resent=capture_fin_resent(trace))
        chosen, why = picked if picked is not None else (conns[0], "")
    else:
        chosen = connection
    pkts = packets[packets["conn"] == chosen].reset_index(drop=True)
    tuples = {(bare_endpoint(endpoint(r.src, r.sport)),
               bare_endpoint(endpoint(r.dst, r.dport)))
              for r in rows_of(pkts[["src", "sport", "dst", "dport"]].drop_duplicates())}
    states = trace.states
    if trace.meta.state_source == "inferred" and len(pkts):
        # Inferred from the packets: inferred again from this connection's alone, so another
        # connection on the same 4-tuple lends it none (and one past the first
        # MAX_INFERRED_CONNECTIONS, inferred at load, gets its own).
        from tcptrace_viz.analysis.states import infer_all_states

        states = conform(infer_all_states(pkts, [chosen]), STATE_COLUMNS)
        states = states.sort_values("ts_ns", kind="stable").reset_index(drop=True)  # as built
        states["t"] = (states["ts_ns"] - trace.origin_ns).astype("float64") / 1e9
    elif len(states):
        keep = [(bare_endpoint(str(loc)), bare_endpoint(str(rem))) in tuples
                for loc, rem in zip(states["local"], states["remote"], strict=True)]
        states = states[np.asarray(keep, dtype=bool)].reset_index(drop=True)
    moments = {moment.ts_ns for moment in trace.meta.key_moments if moment.kind == "syscall"}
    syscalls = connection_calls(trace.syscalls, pkts, tuples, moments)
    sub = Trace(pkts, states.copy(), syscalls.copy(), dataclasses.replace(trace.meta))
    origin = trace.origin_ns
    return Selection(sub, origin if absolute_time else sub.origin_ns, conns, chosen, why,
                     capture_origin_ns=origin)


def connection_calls(syscalls: pd.DataFrame, packets: pd.DataFrame,
                     tuples: set[tuple[str, str]], moments: set[int] | None = None
                     ) -> pd.DataFrame:
    """The rows of ``syscalls`` about the connection of ``packets`` (its ``(local, remote)``
    endpoint pairs, both ways, in ``tuples``).

    A call that names its socket's connection belongs to the one it names; one on a socket
    with only its own endpoint (a listener, an unconnected socket) to a connection on that
    port during the connection's packets (with :data:`SPAN_MARGIN_NS` either side); a call
    naming no socket (an old capture, a wait on several) by that time alone.  A call that
    returned at one of ``moments`` (a scenario's key moments: its lesson spans connections,
    as a second client filling an accept queue) is kept whichever connection it names."""
    if not len(syscalls) or not len(packets):
        return syscalls
    lo = int(packets["ts_ns"].min()) - SPAN_MARGIN_NS
    hi = int(packets["ts_ns"].max()) + SPAN_MARGIN_NS
    during = ((syscalls["ts_ns"] >= lo) & (syscalls["ts_ns"] <= hi)).to_numpy()
    local = [bare_endpoint(str(text)) for text in syscalls["local"]]
    remote = [bare_endpoint(str(text)) for text in syscalls["remote"]]
    ports = {pair[0].rpartition(":")[2] for pair in tuples}
    keep = np.zeros(len(syscalls), dtype=bool)
    for row, (own, peer) in enumerate(zip(local, remote, strict=True)):
        port = own.rpartition(":")[2]
        if own and peer:
            keep[row] = (own, peer) in tuples
        elif own and port != "0":
            keep[row] = bool(during[row]) and port in ports
        else:
            keep[row] = bool(during[row])
    if moments:
        returned = (syscalls["ts_ns"].to_numpy(dtype=np.int64)
                    + np.maximum(syscalls["duration_ns"].to_numpy(dtype=np.int64), 0))
        keep |= np.isin(returned, np.fromiter(moments, dtype=np.int64))
    return syscalls[keep].reset_index(drop=True)


def timeline(selection: Selection, limit: int | None = None) -> pd.DataFrame:
    """``Trace.timeline(limit)`` of the selection, with ``t`` counted from the full trace's
    start."""
    table = selection.trace.timeline(limit)
    table["t"] = (table["ts_ns"] - selection.origin_ns).astype("float64") / 1e9
    return table
