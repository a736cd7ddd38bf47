"""Which connection a traced program's socket is, from the kernel's own state changes.

The syscall tracepoints name an fd, never an address.  The state tracer names addresses, and
the thread whose call made a change in process context: ``connect()`` moves its socket CLOSE
-> SYN_SENT and ``listen()`` CLOSE -> LISTEN inside the call, on the caller's thread.  Two
kernel facts fill the gaps: the move to SYN_SENT comes before the kernel picks the socket's
own port (the socket's next move, to ESTABLISHED or to CLOSE when refused, names it), and
``accept()`` hands out a listener's connections in the order they reached ESTABLISHED.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from tcptrace_viz.capture.tracefs import KernelEvent
from tcptrace_viz.vocabulary import endpoint

NOT_RETURNED_NS = 10**9
"""How far past its start a call that never returned is searched for its state change."""


def state_endpoints(event: KernelEvent) -> tuple[str, str]:
    """An ``inet_sock_set_state`` event's own and peer ``addr:port``."""
    fields = event.fields
    v6 = fields.get("family") == "AF_INET6"
    return (endpoint(fields.get("saddrv6" if v6 else "saddr", ""), fields.get("sport", "0")),
            endpoint(fields.get("daddrv6" if v6 else "daddr", ""), fields.get("dport", "0")))


def _moves(states: Iterable[KernelEvent]) -> list[KernelEvent]:
    return [event for event in states if event.event == "inet_sock_set_state"]


class SocketAddresses:
    """Looks up sockets' addresses in the state tracer's events (see the module doc).

    Each event's addresses are spelled once, and the events are indexed by the thread that
    made them and by the peer, so a program of many connections costs no more per call than
    a program of one."""

    def __init__(self, states: Iterable[KernelEvent]) -> None:
        moves = [(event, *state_endpoints(event)) for event in _moves(states)]
        self.by_thread: dict[int, list[tuple[KernelEvent, str, str]]] = {}
        for move in moves:
            if not move[0].softirq:
                self.by_thread.setdefault(move[0].pid, []).append(move)
        self.established = [(event.ts_ns, local, remote) for event, local, remote in moves
                            if event.fields.get("oldstate") == "TCP_SYN_RECV"
                            and event.fields.get("newstate") == "TCP_ESTABLISHED"]
        self.from_syn_sent: dict[str, list[tuple[int, str]]] = {}
        for event, local, remote in moves:
            if event.fields.get("oldstate") == "TCP_SYN_SENT":
                self.from_syn_sent.setdefault(remote, []).append((event.ts_ns, local))
        self.claimed: set[str] = set()

    def made_by(self, thread: int, start_ns: int, end_ns: int | None,
                new: str) -> tuple[str, str] | None:
        """The addresses of the move to ``new`` that ``thread`` made between ``start_ns``
        and ``end_ns`` (None: the call never returned)."""
        end = end_ns if end_ns is not None else start_ns + NOT_RETURNED_NS
        own = self.by_thread.get(thread, [])
        first = bisect.bisect_left(own, start_ns, key=lambda move: move[0].ts_ns)
        for event, local, remote in own[first:]:
            if event.ts_ns > end:
                break
            if event.fields.get("newstate") == new:
                if new == "TCP_SYN_SENT" and local.endswith(":0"):
                    return self._bound_port(local, remote, event.ts_ns), remote
                return local, remote
        return None

    def _bound_port(self, local: str, remote: str, after_ns: int) -> str:
        host = local.rpartition(":")[0]
        for ts_ns, mine in self.from_syn_sent.get(remote, []):
            if ts_ns >= after_ns and mine.rpartition(":")[0] == host and mine not in self.claimed:
                self.claimed.add(mine)
                return mine
        return local

    def accept_queue(self, listener: str) -> list[tuple[int, str, str]]:
        """The connections of the listener at ``listener`` in the order they reached
        ESTABLISHED: ``(ns, local, remote)``."""
        host, _, port = listener.rpartition(":")
        wildcard = host in ("0.0.0.0", "[::]")
        return [(ts, local, remote) for ts, local, remote in self.established
                if local.rpartition(":")[2] == port
                and (wildcard or local.rpartition(":")[0] == host)]
