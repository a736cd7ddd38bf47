"""Turn tracepoint hits, socket-table reads and samples into rows of the states table.

Three kernel facts shape this module:

- ``sock:inet_sock_set_state`` reports the *full* socket's moves.  When a connection enters
  TIME_WAIT, or is orphaned in FIN_WAIT2 (close() before the peer's FIN), Linux replaces the
  full socket by a timewait mini-socket (``tcp_time_wait()``) and the tracepoint reports the
  full socket's move to CLOSE.  The connection lives on: in FIN_WAIT2 until the peer's FIN,
  then in TIME_WAIT.  No tracepoint reports either; the socket table lists the mini-socket with
  its substate, and the moment it enters TIME_WAIT is the arrival of the peer's FIN.
- A mini-socket that answers a segment with an RST (reason ``TCP_TIMEWAIT_SOCKET``) is removed
  right after (``inet_twsk_deschedule_put()`` in ``tcp_v4_rcv``/``tcp_v6_rcv``).
- ``tcp:tcp_send_reset`` names the reason of each RST the kernel sends, also for ports where no
  socket exists.  The reason belongs to that RST segment (``packets.reason``) and, when the
  sending socket closes with it, to that state change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from tcptrace_viz.capture.tracefs import KernelEvent
from tcptrace_viz.kernel.sockettable import SocketEntry, TableRead
from tcptrace_viz.kernel.syscalls import SampledState
from tcptrace_viz.vocabulary import endpoint, host_of

RESET_NEAR_NS = 5_000_000
"""A reset explains a move to CLOSE of the same socket this close in time (5 ms)."""
MINI_SOCKET_NOTE = "orphaned: a timewait mini-socket holds it on in FIN_WAIT2"
TIME_WAIT_NOTE = "seen in the socket table; entered when the peer's FIN arrived"
TW_RESET_REASON = "TCP_TIMEWAIT_SOCKET"
NO_SOCKET_STATES = ("UNKNOWN", "")
"""``tcp_send_reset``'s state when the kernel resets a segment no socket wanted."""
WINDOW_KEYS = ("_low_ns", "_high_ns")
"""Private row keys: the microsecond a traced change happened in (see ``causality.settle``)."""


@dataclasses.dataclass(frozen=True)
class SentReset:
    """An RST the kernel sent (``tcp:tcp_send_reset``)."""

    ts_ns: int
    local: str
    """The sender's ``addr:port``."""
    remote: str
    reason: str
    """The kernel's reason, e.g. ``TCP_ABORT_ON_LINGER``, ``NO_SOCKET``."""
    state: str
    """The sending socket's state (``TIME_WAIT`` for every mini-socket), ``""`` if none."""


def _state_name(text: str) -> str:
    return text.removeprefix("TCP_")


def _side(local: str, server_port: int) -> str:
    return "server" if local.endswith(f":{server_port}") else "client"


def _row(ts_ns: int, side: str, local: str, remote: str, old: str, new: str, source: str,
         reason: str = "") -> dict[str, Any]:
    return {"ts_ns": ts_ns, "side": side, "local": local, "remote": remote, "old": old,
            "new": new, "source": source, "reason": reason}


def _set_state_row(event: KernelEvent, server_port: int) -> dict[str, Any] | None:
    fields = event.fields
    v6 = fields.get("family") == "AF_INET6"
    local = endpoint(fields.get("saddrv6" if v6 else "saddr", ""), fields.get("sport", "0"))
    remote = endpoint(fields.get("daddrv6" if v6 else "daddr", ""), fields.get("dport", "0"))
    if remote.endswith(":0"):
        return None  # the listening socket's own life (CLOSE -> LISTEN -> CLOSE)
    row = _row(event.ts_ns, _side(local, server_port), local, remote,
               _state_name(fields.get("oldstate", "")), _state_name(fields.get("newstate", "")),
               "tracepoint")
    # The text trace gives microseconds: the change happened somewhere inside this one.
    low = event.ts_ns - (999 if event.softirq else 0)
    row.update(dict(zip(WINDOW_KEYS, (low, low + 999), strict=True)))
    return row


def states_from_events(events: Iterable[KernelEvent], hosts: set[str], server_port: int,
                       until_ns: int) -> tuple[list[dict[str, Any]], list[SentReset]]:
    """States-table rows and sent RSTs of this run's sockets (addresses in ``hosts``).

    A received RST is written on the move to CLOSE it caused; a sent one on the sender's move
    to CLOSE when there is one (SO_LINGER {1, 0}).  Sent resets are also returned, for their
    segments and for the mini-sockets they end (:func:`follow_timewait_sockets`).
    """
    rows: list[dict[str, Any]] = []
    sent: list[SentReset] = []
    received: list[tuple[int, str]] = []
    for event in events:
        if event.ts_ns > until_ns:
            continue
        fields = event.fields
        if event.event == "inet_sock_set_state":
            row = _set_state_row(event, server_port)
            if row and (host_of(row["local"]) in hosts or host_of(row["remote"]) in hosts):
                rows.append(row)
        elif event.event == "tcp_send_reset":
            local, remote = _normal(fields.get("src", "")), _normal(fields.get("dest", ""))
            if host_of(local) in hosts or host_of(remote) in hosts:
                sent.append(SentReset(event.ts_ns, local, remote, fields.get("reason", "?"),
                                      _state_name(fields.get("state", ""))))
        elif event.event == "tcp_receive_reset":
            v6 = fields.get("family") == "AF_INET6"
            local = endpoint(fields.get("saddrv6" if v6 else "saddr", ""),
                             fields.get("sport", "0"))
            if host_of(local) in hosts:
                received.append((event.ts_ns, local))
    for ts_ns, local in received:
        _note_on_close(rows, local, ts_ns, "RST received")
    for reset in sent:
        # a mini-socket's reset: follow_timewait_sockets; one sent for no socket at all (a
        # segment to a closed port) is no socket's move, however close in time to one
        if reset.state not in ("TIME_WAIT", *NO_SOCKET_STATES):
            _note_on_close(rows, reset.local, reset.ts_ns, f"RST sent: {reset.reason}")
    rows.sort(key=lambda row: int(row["ts_ns"]))
    return rows, sent


def _normal(text: str) -> str:
    host, _, port = text.rpartition(":")
    return endpoint(host.strip("[]"), port)


def _note_on_close(rows: list[dict[str, Any]], local: str, ts_ns: int, note: str) -> None:
    """Write ``note`` on the same socket's nearest move to CLOSE (none: the note is dropped;
    a sent reset's reason stays on its segment)."""
    candidates = [row for row in rows if row["local"] == local and row["new"] == "CLOSE"
                  and abs(int(row["ts_ns"]) - ts_ns) < RESET_NEAR_NS]
    if candidates:
        nearest = min(candidates, key=lambda row: abs(int(row["ts_ns"]) - ts_ns))
        nearest["reason"] = f"{nearest['reason']}; {note}" if nearest["reason"] else note


def packet_endpoints(packets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each packet's source and destination as :func:`endpoint` text (the states' spelling)."""

    def spelled(addresses: pd.Series[Any], ports: pd.Series[Any]) -> np.ndarray:
        codes, pairs = pd.factorize(pd.MultiIndex.from_arrays(
            [addresses.astype(str), ports.astype(int)]))
        texts = np.asarray([endpoint(str(host), int(port)) for host, port in pairs],
                           dtype=object)
        return texts[codes] if len(codes) else np.zeros(0, dtype=object)

    return spelled(packets["src"], packets["sport"]), spelled(packets["dst"], packets["dport"])


def _first_fins(packets: pd.DataFrame, ends: tuple[np.ndarray, np.ndarray]
                ) -> dict[tuple[str, str], int]:
    """When the first FIN from each sender to each receiver was captured."""
    if not len(packets):
        return {}
    src, dst = ends
    fins = np.flatnonzero(packets["flags"].str.contains("F", regex=False).to_numpy(dtype=bool))
    ts = packets["ts_ns"].to_numpy()
    first: dict[tuple[str, str], int] = {}
    for index in fins:
        first.setdefault((str(src[index]), str(dst[index])), int(ts[index]))
    return first


def follow_timewait_sockets(rows: list[dict[str, Any]], packets: pd.DataFrame,
                            table: Iterable[SocketEntry], sent: Iterable[SentReset],
                            server_port: int, table_ns: int,
                            tables: Iterable[TableRead] = ()) -> None:
    """Follow each connection the kernel handed to a timewait mini-socket (see module doc).

    The full socket's last traced move (FIN_WAIT2, CLOSING or FIN_WAIT1 -> CLOSE) becomes what
    the connection did: ``-> TIME_WAIT`` when the peer's FIN had arrived (or CLOSING's ACK),
    ``-> FIN_WAIT2`` (orphaned) when it had not, followed by ``FIN_WAIT2 -> TIME_WAIT`` when the
    peer's FIN reached the mini-socket.  A mini-socket's RST ends it (``-> CLOSE``).

    ``table`` is the socket table read at ``table_ns`` (the end of the run), ``tables`` the
    reads the steps made during it: a mini-socket listed after the full socket's CLOSE and
    missing from a later read ended in between (``-> CLOSE``, after the RST it received there,
    if one was captured).
    """
    table = list(table)
    listed = {(entry.local, entry.remote): entry.state for entry in table}
    reads = sorted([*tables, (table_ns, table)], key=lambda read: read[0])
    read_states = [(ts, {(entry.local, entry.remote): entry.state for entry in entries})
                   for ts, entries in reads]
    ends = packet_endpoints(packets)
    fins = _first_fins(packets, ends)
    resets = [reset for reset in sent if reset.state == "TIME_WAIT"]
    last_rows: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        last_rows[(row["local"], row["remote"])] = row
    for (local, remote), last in list(last_rows.items()):
        if last["new"] != "CLOSE" or last["reason"] or last["source"] == "sampled":
            continue
        if last["old"] not in ("FIN_WAIT2", "CLOSING", "FIN_WAIT1"):
            continue
        peer_fin = fins.get((remote, local))
        kill = next((reset for reset in resets if (reset.local, reset.remote) == (local, remote)
                     and reset.ts_ns >= int(last["ts_ns"])), None)
        later = [(ts, states.get((local, remote))) for ts, states in read_states
                 if ts > int(last["ts_ns"])]
        seen = [ts for ts, state in later if state in ("TIME_WAIT", "FIN_WAIT2")]
        if not seen and kill is None:
            continue  # gone without a trace of a mini-socket: the tracepoint's CLOSE stands
        side = str(last["side"])
        if last["old"] == "FIN_WAIT2" and (peer_fin is None or peer_fin > int(last["ts_ns"])):
            last.update(new="FIN_WAIT2", reason=MINI_SOCKET_NOTE)
            state = "FIN_WAIT2"
            if peer_fin is not None and (kill is None or kill.ts_ns > peer_fin):
                rows.append(_row(peer_fin + 1, side, local, remote, "FIN_WAIT2", "TIME_WAIT",
                                 "socket-table", TIME_WAIT_NOTE))
                state = "TIME_WAIT"
        else:
            last.update(new="TIME_WAIT", source="socket-table")
            state = "TIME_WAIT"
        if kill is not None:
            rows.append(_row(kill.ts_ns, side, local, remote, state, "CLOSE", "tracepoint",
                             f"RST sent: {kill.reason}; the timewait socket is removed"))
            continue
        gone = next((ts for ts, found in later if ts > seen[-1] and found is None), None)
        if gone is not None:
            rows.append(_gone_row(packets, ends, seen[-1], gone, side, local, remote, state))
    _add_listed_time_wait(rows, fins, listed, server_port, table_ns)
    rows.sort(key=lambda row: int(row["ts_ns"]))


def _gone_row(packets: pd.DataFrame, ends: tuple[np.ndarray, np.ndarray], listed_ns: int,
              gone_ns: int, side: str, local: str, remote: str, state: str) -> dict[str, Any]:
    """The end of a mini-socket listed at ``listed_ns`` and missing at ``gone_ns``: right after
    the first RST it received in between, else at ``gone_ns``."""
    src, dst = ends
    ts = packets["ts_ns"].to_numpy(dtype=np.int64)
    is_rst = packets["flags"].str.contains("R", regex=False).to_numpy(dtype=bool)
    resets: Any = np.flatnonzero(is_rst & (src == remote) & (dst == local) & (ts > listed_ns)
                                 & (ts < gone_ns)) if len(packets) else []
    if len(resets):
        return _row(int(ts[resets[0]]) + 1, side, local, remote, state, "CLOSE", "socket-table",
                    "ended by the RST it received: the socket table listed it before that "
                    "RST and no longer after it")
    return _row(gone_ns, side, local, remote, state, "CLOSE", "socket-table",
                "no longer in the socket table")


def _add_listed_time_wait(rows: list[dict[str, Any]], fins: dict[tuple[str, str], int],
                          listed: dict[tuple[str, str], str], server_port: int,
                          table_ns: int) -> None:
    """A TIME_WAIT the table lists but no row shows yet (sampling missed it) gets its row, at
    the peer's FIN when it was captured, else when the table was read."""
    shown = {(row["local"], row["remote"]) for row in rows if row["new"] == "TIME_WAIT"}
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        last[(row["local"], row["remote"])] = row
    for (local, remote), state in listed.items():
        if state != "TIME_WAIT" or (local, remote) in shown:
            continue
        peer_fin = fins.get((remote, local))
        previous = last.get((local, remote))
        old = str(previous["new"]) if previous else ""
        if previous and old == "CLOSE":
            old = str(previous["old"])
        rows.append(_row(table_ns if peer_fin is None else peer_fin + 1,
                         _side(local, server_port), local, remote, old, "TIME_WAIT",
                         "socket-table", TIME_WAIT_NOTE))


def packet_reasons(packets: pd.DataFrame, sent: Iterable[SentReset]) -> list[str]:
    """The kernel's reason for each captured RST it sent (``""`` for every other segment).

    Each reset is matched to the first RST from its sender to its receiver captured at or after
    its trace time (within the trace clock's microsecond).
    """
    reasons = [""] * len(packets)
    if not len(packets):
        return reasons
    src, dst = packet_endpoints(packets)
    is_rst = packets["flags"].str.contains("R", regex=False).to_numpy(dtype=bool)
    ts = packets["ts_ns"].to_numpy()
    for reset in sorted(sent, key=lambda item: item.ts_ns):
        for index in np.flatnonzero(is_rst):
            if (not reasons[index] and src[index] == reset.local and dst[index] == reset.remote
                    and int(ts[index]) >= reset.ts_ns - 999):
                reasons[index] = reset.reason
                break
    return reasons


def settle_states(rows: list[dict[str, Any]], packets: pd.DataFrame,
                  syscalls: pd.DataFrame) -> pd.DataFrame:
    """The states table, each traced change placed inside its microsecond between its cause
    and its effect (rows without a window, from the socket table or samples, stay put)."""
    from tcptrace_viz.analysis.causality import settle, state_bounds

    low = [int(row.get(WINDOW_KEYS[0], row["ts_ns"])) for row in rows]
    high = [int(row.get(WINDOW_KEYS[1], row["ts_ns"])) for row in rows]
    states = pd.DataFrame([{key: value for key, value in row.items() if key not in WINDOW_KEYS}
                           for row in rows])
    if not len(states):
        return states
    settled = settle(states, state_bounds(packets, states, syscalls), low, high)
    return settled.sort_values("ts_ns", kind="stable").reset_index(drop=True)


def states_from_samples(samples: Iterable[SampledState]) -> list[dict[str, Any]]:
    """States-table rows from sampling after each call (the fallback without tracefs)."""
    return [_row(sample.ts_ns, sample.side, sample.local, sample.remote, sample.old,
                 sample.new, "sampled") for sample in samples]
