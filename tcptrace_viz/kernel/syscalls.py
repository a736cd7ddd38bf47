"""Record what each system call of a scenario returned: value, errno name, signal, timing.

Every scenario step goes through :meth:`SyscallLog.call`, which times the call on the realtime
clock (the packets' clock), turns an ``OSError`` into its errno name (``EPIPE``, not 32) and
keeps going: a failing call is an observation, not a crash.  When tracefs cannot be used, the log
also samples the TCP state of the sockets it watches after each call (the fallback state
source): ``TCP_INFO`` while the program holds the socket, then the namespace's socket table,
where the kernel keeps a closed connection until it is done (FIN_WAIT2, LAST_ACK, TIME_WAIT...),
until the connection is gone.
"""

from __future__ import annotations

import dataclasses
import errno as errno_module
import select
import socket
import struct
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tcptrace_viz.kernel.sockettable import read_socket_table
from tcptrace_viz.tcp import TCP_STATES
from tcptrace_viz.vocabulary import socket_endpoint

T = TypeVar("T")

POLL_FLAGS: dict[int, str] = {
    select.POLLIN: "POLLIN", select.POLLPRI: "POLLPRI", select.POLLOUT: "POLLOUT",
    select.POLLERR: "POLLERR", select.POLLHUP: "POLLHUP", select.POLLNVAL: "POLLNVAL",
    0x2000: "POLLRDHUP",  # not exported by the select module
}
POLLRDHUP = 0x2000
TCP_INFO_STATE_OFFSET = 0  # struct tcp_info starts with __u8 tcpi_state


def poll_flags_to_str(mask: int) -> str:
    """``0x2001`` -> ``"POLLIN|POLLRDHUP"``; ``0`` -> ``"0"`` (timed out)."""
    names = [name for bit, name in POLL_FLAGS.items() if mask & bit]
    return "|".join(names) if names else "0"


def errno_name(code: int | None) -> str:
    """``32`` -> ``"EPIPE"``."""
    if code is None:
        return "EUNKNOWN"
    return errno_module.errorcode.get(code, f"E{code}")


def tcp_state_of(sock: socket.socket) -> str:
    """The kernel's TCP state of ``sock`` right now, from ``TCP_INFO`` (``""`` if closed)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    except OSError:
        return ""
    return TCP_STATES.get(info[TCP_INFO_STATE_OFFSET], "")


@dataclasses.dataclass
class SyscallRecord:
    """One row of the syscalls table (see ``model.SYSCALL_COLUMNS``)."""

    ts_ns: int
    side: str
    call: str
    args: str
    ret: str
    errno: str
    signal: str
    duration_ns: int
    pid: int = 0
    """The calling process, when the kernel's tracepoints saw the call (``run``)."""
    comm: str = ""
    local: str = ""
    """The socket's own endpoint, when known: which connection the call was about."""
    remote: str = ""
    """Its peer's endpoint (``""`` for a listener or a socket not yet connected)."""
    signal_action: str = ""
    """What ``signal`` did: ``killed``, ``handled``, ``ignored``, ``""`` not known."""


@dataclasses.dataclass
class SampledState:
    """A state change noticed by sampling ``TCP_INFO`` after a call."""

    ts_ns: int
    side: str
    local: str
    remote: str
    old: str
    new: str


class SyscallLog:
    """The syscalls of one run, in call order, plus sampled socket states."""

    def __init__(self, sample_states: bool = True) -> None:
        self.sample_states = sample_states
        """Sample states after each call; off when tracefs traces them (fewer extra calls
        between a scenario's own, so its timing stays as close to the program's as can be)."""
        self.records: list[SyscallRecord] = []
        self.sampled: list[SampledState] = []
        self._watched: list[tuple[socket.socket, str, str, str]] = []
        self._last_state: dict[int, str] = {}
        self._endpoints: dict[int, tuple[socket.socket, str, str]] = {}
        self.on_record: Callable[[], None] | None = None
        """Called after each new record (a forked child streams its records to its parent)."""

    def watch(self, sock: socket.socket, side: str) -> None:
        """Sample ``sock``'s TCP state after every call from now on."""
        try:
            local = socket_endpoint(sock.getsockname())
            remote = socket_endpoint(sock.getpeername())
        except OSError:
            local, remote = socket_endpoint(sock.getsockname()), ""
        self._watched.append((sock, side, local, remote))
        self._sample()

    def call(self, side: str, name: str, function: Callable[..., T], *args: Any,
             shown_args: str | None = None, show: Callable[[T], str] = str,
             sock: socket.socket | None = None) -> T | None:
        """Run ``function(*args)``, record the outcome (``show(result)``; ``0`` for a
        ``None``, as a socket method returns for a call that returned 0) and return its result
        (None on error).

        The row names the socket the call is about (``sock``, else the socket whose method
        ``function`` is; for ``accept`` the socket it returned), so a ladder of one connection
        of several shows its own calls."""
        owner = sock if sock is not None else getattr(function, "__self__", None)
        about = owner if isinstance(owner, socket.socket) else None
        before = self._addresses(about) if about is not None else ("", "")
        start = time.time_ns()
        started = time.perf_counter_ns()
        result: T | None = None
        ret, err = "", ""
        try:
            result = function(*args)
            # a socket method that returns None (setsockopt, bind, shutdown...) returned 0
            ret = "0" if result is None and show is str else show(result)
        except OSError as exc:
            err = errno_name(exc.errno)
        duration = time.perf_counter_ns() - started
        text = shown_args if shown_args is not None else ", ".join(repr(arg) for arg in args)
        if isinstance(result, tuple) and result and isinstance(result[0], socket.socket):
            local, remote = self._addresses(result[0])  # accept(): the new connection's
        elif about is not None:
            local, remote = before if before[1] else self._addresses(about)
        else:
            local, remote = "", ""
        self.records.append(SyscallRecord(start, side, name, text, ret, err, "", duration,
                                          local=local, remote=remote))
        self._sample()
        if self.on_record is not None:
            self.on_record()
        return result

    def _addresses(self, sock: socket.socket) -> tuple[str, str]:
        """``sock``'s own and peer endpoints (peer ``""`` until connected), asked of the kernel
        until both are known, remembered for after ``close()``."""
        known = self._endpoints.get(id(sock))
        if known is not None and known[0] is sock and (known[2] or sock.fileno() < 0):
            return known[1], known[2]
        if sock.fileno() < 0:
            return "", ""
        try:
            local = socket_endpoint(sock.getsockname())
        except OSError:
            return "", ""
        try:
            remote = socket_endpoint(sock.getpeername())
        except OSError:
            remote = ""
        self._endpoints[id(sock)] = (sock, local, remote)
        return local, remote

    def add(self, record: SyscallRecord) -> None:
        """Add a record made elsewhere (a child process, a signal)."""
        self.records.append(record)

    def _sample(self) -> None:
        if not self.sample_states:
            return
        now = time.time_ns()
        table: dict[tuple[str, str], str] | None = None
        for sock, side, local, remote in self._watched:
            if sock.fileno() >= 0:
                state = tcp_state_of(sock)
            elif remote and self._last_state.get(id(sock)) != "CLOSE":
                # closed by the program; the kernel may still be closing it
                if table is None:
                    table = {(entry.local, entry.remote): entry.state
                             for entry in read_socket_table()}
                state = table.get((local, remote), "CLOSE")
            else:
                continue
            previous = self._last_state.get(id(sock), "")
            if state and state != previous:
                self.sampled.append(SampledState(now, side, local, remote, previous, state))
                self._last_state[id(sock)] = state


def pack_linger(on: bool, seconds: int) -> bytes:
    """``struct linger`` for ``SO_LINGER``."""
    return struct.pack("ii", int(on), seconds)
