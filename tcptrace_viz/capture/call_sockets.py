"""Which connection a traced program's socket is, from the kernel's own state changes.

The syscall tracepoints name an fd, never an address.  The state tracer names addresses, and
the thread whose call made a change in process context: ``connect()`` moves its socket CLOSE
-> SYN_SENT and ``listen()`` CLOSE -> LISTEN inside the call, on the caller's thread.  Two
kernel facts fill the gaps: the move to SYN_SENT comes before the kernel picks the socket's
own port (the socket's next move, to ESTABLISHED or to CLOSE when refused, names it), and
``accept()`` hands out a listener's connections in the order they reached ESTABLISHED.
"""

from __future__ import annotations

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
    """Looks up sockets' addresses in the state tracer's events (see the module doc)."""

    def __init__(self, states: Iterable[KernelEvent]) -> None:
        moves = _moves(states)
        self.in_process = [event for event in moves if not event.softirq]
        self.established = [(event.ts_ns, *state_endpoints(event)) for event in moves
                            if event.fields.get("oldstate") == "TCP_SYN_RECV"
                            and event.fields.get("newstate") == "TCP_ESTABLISHED"]
        self.from_syn_sent = [event for event in moves
                              if event.fields.get("oldstate") == "TCP_SYN_SENT"]
        self.claimed: set[str] = set()

    def made_by(self, thread: int, start_ns: int, end_ns: int | None,
                new: str) -> tuple[str, str] | None:
        """The addresses of the move to ``new`` that ``thread`` made between ``start_ns``
        and ``end_ns`` (None: the call never returned)."""
        end = end_ns if end_ns is not None else start_ns + NOT_RETURNED_NS
        for event in self.in_process:
            if (event.pid == thread and start_ns <= event.ts_ns <= end
                    and event.fields.get("newstate") == new):
                local, remote = state_endpoints(event)
                if new == "TCP_SYN_SENT" and local.endswith(":0"):
                    local = self._bound_port(local, remote, event.ts_ns)
                return local, remote
        return None

    def _bound_port(self, local: str, remote: str, after_ns: int) -> str:
        host = local.rpartition(":")[0]
        for event in self.from_syn_sent:
            mine, theirs = state_endpoints(event)
            if (event.ts_ns >= after_ns and theirs == remote and mine.rpartition(":")[0] == host
                    and mine not in self.claimed):
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
