"""Read the namespace's TCP socket table (``/proc/net/tcp`` and ``tcp6``).

The ``inet_sock_set_state`` tracepoint never reports TIME_WAIT: the full socket goes to CLOSE
and a separate time-wait socket takes its place.  The socket table still lists it, with state
06, which is how a run learns which side holds TIME_WAIT.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import struct
import time
from collections.abc import Callable

from tcptrace_viz.errors import ScenarioError
from tcptrace_viz.tcp import TCP_STATES
from tcptrace_viz.vocabulary import endpoint


@dataclasses.dataclass(frozen=True)
class SocketEntry:
    """One row of the socket table."""

    local: str
    """``addr:port`` (IPv6 in brackets)."""
    remote: str
    state: str
    """TCP state name (``TIME_WAIT``)."""


def _address(hex_text: str) -> str:
    address_hex, port_hex = hex_text.split(":")
    raw = bytes.fromhex(address_hex)
    # The kernel prints each 32-bit word in host byte order.
    words = struct.unpack(f"<{len(raw) // 4}I", raw)
    packed = struct.pack(f">{len(words)}I", *words)
    return endpoint(ipaddress.ip_address(packed), int(port_hex, 16))


def read_socket_table() -> list[SocketEntry]:
    """Every TCP socket of the calling process's network namespace."""
    entries = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path, encoding="ascii") as handle:
                lines = handle.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            state = TCP_STATES.get(int(fields[3], 16), fields[3])
            entries.append(SocketEntry(_address(fields[1]), _address(fields[2]), state))
    return entries


TableRead = tuple[int, list[SocketEntry]]
"""One read of the socket table: when (``time.time_ns()``) and every entry it listed."""


def wait_for_socket(predicate: Callable[[SocketEntry], bool], what: str,
                    timeout_s: float, seen: list[TableRead] | None = None) -> SocketEntry:
    """Poll the socket table until an entry satisfies ``predicate``; ScenarioError on timeout.

    ``seen`` gets the read that satisfied it."""
    ts_ns, table = _poll_table(lambda table: any(predicate(entry) for entry in table),
                               f"waiting for {what}", timeout_s)
    if seen is not None:
        seen.append((ts_ns, table))
    return next(entry for entry in table if predicate(entry))


def wait_for_no_socket(predicate: Callable[[SocketEntry], bool], what: str,
                       timeout_s: float, seen: list[TableRead] | None = None) -> None:
    """Poll the socket table until no entry satisfies ``predicate`` (a TIME_WAIT killed, a
    FIN_WAIT2 ended); ScenarioError on timeout.  ``seen`` gets the read that showed it."""
    read = _poll_table(lambda table: not any(predicate(entry) for entry in table),
                       f"waiting for {what} to end", timeout_s)
    if seen is not None:
        seen.append(read)


def _poll_table(done: Callable[[list[SocketEntry]], bool], waiting_for: str,
                timeout_s: float) -> TableRead:
    deadline = time.monotonic() + timeout_s
    pause = 0.0002
    while True:
        ts_ns = time.time_ns()
        table = read_socket_table()
        if done(table):
            return ts_ns, table
        if time.monotonic() > deadline:
            raise ScenarioError(f"timed out after {timeout_s:.0f} s {waiting_for}")
        time.sleep(pause)  # polling the kernel's table, bounded by the deadline
        pause = min(pause * 2, 0.01)


def family_name(family: int) -> str:
    """``AF_INET`` -> ``"ipv4"``."""
    return "ipv6" if family == socket.AF_INET6 else "ipv4"
