"""What a scenario's steps work with: addresses, logged system calls and bounded waits.

Every step a scenario takes goes through this context, so each call lands in the syscall log
with its side, and every wait is for a kernel event (poll readiness, a TCP state, a socket-table
entry) with a deadline and a sentence saying what did not happen.
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Callable, Collection
from typing import Any

from tcptrace_viz.errors import ScenarioError
from tcptrace_viz.kernel.process import child_exit_status, die_with_parent
from tcptrace_viz.kernel.raw_tcp import RawTcp
from tcptrace_viz.kernel.sockettable import (
    SocketEntry,
    TableRead,
    read_socket_table,
    wait_for_no_socket,
    wait_for_socket,
)
from tcptrace_viz.kernel.syscalls import (
    POLLRDHUP,
    SyscallLog,
    pack_linger,
    poll_flags_to_str,
    tcp_state_of,
)
from tcptrace_viz.tcp import tcp_flags_to_str
from tcptrace_viz.vocabulary import socket_endpoint

DEFAULT_TIMEOUT_S = 5.0
SERVER_PORT = 5555
UNUSED_PORT = 5556  # connect-refused: nobody listens here


class ScenarioContext:
    """The environment one scenario run executes in (inside the capture's namespace)."""

    def __init__(self, name: str, family: int, client_host: str, server_host: str,
                 timeout_s: float = DEFAULT_TIMEOUT_S, sample_states: bool = True,
                 params: dict[str, int | float | str] | None = None) -> None:
        self.name = name
        self.family = family
        self.client_host = client_host
        self.server_host = server_host
        self.server_port = SERVER_PORT
        self.timeout_s = timeout_s
        self.log = SyscallLog(sample_states)
        self.params: dict[str, int | float | str] = dict(params or {})
        """The scenario's parameter values (its defaults, or what ``--set`` gave)."""
        self.facts: dict[str, Any] = {}
        """What the steps want the report to show (bytes accepted vs delivered, a note...):
        the Trace's ``meta.facts``."""
        self._open: list[socket.socket] = []
        self._raw: list[RawTcp] = []
        self.tables: list[TableRead] = []
        """The socket-table reads the steps waited on, with their time: what the table listed
        during the run (a TIME_WAIT that an RST then ended) for the states table."""
        self._affinity: set[int] = set()

    # --- sockets -------------------------------------------------------------------------------
    def tcp_socket(self) -> socket.socket:
        """A new TCP socket of the run's family, closed automatically at the end of the run."""
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        self._open.append(sock)
        return sock

    def listen(self, rcvbuf: int | None = None) -> socket.socket:
        """The server's listening socket on the run's address and port (logged as listen)."""
        listener = self.tcp_socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf is not None:  # inherited by accepted sockets; must precede listen()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        listener.bind((self.server_host, self.server_port))
        self.call("server", "listen", listener.listen, 8, shown_args="8", show=lambda _: "0")
        return listener

    def connect(self, port: int | None = None) -> socket.socket:
        """A client socket connected to the server (or to ``port``); logged as connect."""
        client = self.tcp_socket()
        client.bind((self.client_host, 0))
        address = (self.server_host, port or self.server_port)
        self.call("client", "connect", client.connect, address,
                  shown_args=socket_endpoint(address), show=lambda _: "0")
        return client

    def accept(self, listener: socket.socket) -> socket.socket:
        """The server's end of the next connection (waits for it, bounded)."""
        self.wait_readable(listener, "the server", "an incoming connection")
        result = self.call("server", "accept", listener.accept, shown_args="",
                           show=lambda pair: f"fd {pair[0].fileno()}")
        if result is None:
            raise ScenarioError(f"{self.name}: accept() failed")
        accepted: socket.socket = result[0]
        self._open.append(accepted)
        return accepted

    def connected_pair(self, rcvbuf: int | None = None) -> tuple[socket.socket, socket.socket]:
        """Listen, connect and accept: ``(client, server)`` sockets, both ESTABLISHED."""
        listener = self.listen(rcvbuf)
        client = self.connect()
        server = self.accept(listener)
        self.log.watch(client, "client")
        self.log.watch(server, "server")
        self.close_quietly(listener)
        return client, server

    # --- logged calls --------------------------------------------------------------------------
    def call(self, side: str, name: str, function: Callable[..., Any], *args: Any,
             shown_args: str | None = None, show: Callable[[Any], str] = str,
             sock: socket.socket | None = None) -> Any:
        """Run one system call and log it (see :meth:`SyscallLog.call`): ``sock`` names the
        socket it is about when ``function`` is not one of that socket's methods."""
        return self.log.call(side, name, function, *args, shown_args=shown_args, show=show,
                             sock=sock)

    def send(self, side: str, sock: socket.socket, data: bytes,
             flags: int = socket.MSG_NOSIGNAL) -> int | None:
        """``send()``: MSG_NOSIGNAL by default so EPIPE is returned, not raised as SIGPIPE."""
        shown = repr(data if len(data) <= 16 else data[:8] + b"...")
        if len(data) > 16:
            shown += f" ({len(data)} bytes)"
        if flags & socket.MSG_NOSIGNAL:
            shown += ", MSG_NOSIGNAL"
        result: int | None = self.call(side, "send", sock.send, data, flags, shown_args=shown)
        return result

    def recv(self, side: str, sock: socket.socket, size: int = 65536) -> bytes | None:
        """``recv()``; logged as the byte count, ``0`` meaning the peer's FIN."""
        result: bytes | None = self.call(side, "recv", sock.recv, size, shown_args=str(size),
                                         show=lambda data: str(len(data)))
        return result

    def close(self, side: str, sock: socket.socket) -> None:
        """``close()``, logged."""
        self.call(side, "close", sock.close, shown_args="", show=lambda _: "0")

    def shutdown(self, side: str, sock: socket.socket, how: int = socket.SHUT_WR) -> None:
        """``shutdown()``, logged."""
        names = {socket.SHUT_RD: "SHUT_RD", socket.SHUT_WR: "SHUT_WR",
                 socket.SHUT_RDWR: "SHUT_RDWR"}
        self.call(side, "shutdown", sock.shutdown, how, shown_args=names[how], show=lambda _: "0")

    def set_linger_zero(self, side: str, sock: socket.socket) -> None:
        """``setsockopt(SO_LINGER, {on, 0 s})``: close() will send RST, not FIN."""
        self.call(side, "setsockopt", sock.setsockopt, socket.SOL_SOCKET, socket.SO_LINGER,
                  pack_linger(True, 0), shown_args="SO_LINGER {1, 0}", show=lambda _: "0")

    def poll(self, side: str, sock: socket.socket, events: int, what: str) -> int:
        """``poll()`` until ``sock`` is ready (bounded); logged with the flags by name.

        With ``events`` 0 the call waits for what poll always reports: POLLERR and POLLHUP.
        """
        poller = select.poll()
        poller.register(sock, events)
        wanted = poll_flags_to_str(events) if events else "POLLERR|POLLHUP"

        def poll_once() -> int:
            ready = poller.poll(int(self.timeout_s * 1000))
            return ready[0][1] if ready else 0

        mask: int = self.call(side, "poll", poll_once, shown_args=wanted, show=poll_flags_to_str,
                              sock=sock)
        if not mask:
            raise ScenarioError(f"{self.name}: the {side} waited {self.timeout_s:.0f} s for "
                                f"{what} and it never came")
        return mask

    def wait_fin(self, side: str, sock: socket.socket) -> int:
        """Poll until the peer's FIN (or RST) has arrived: POLLIN|POLLRDHUP."""
        return self.poll(side, sock, select.POLLIN | POLLRDHUP, "the peer's FIN")

    def wait_error(self, side: str, sock: socket.socket) -> int:
        """Poll until the socket reports the peer's RST (POLLERR/POLLHUP), bounded."""
        return self.poll(side, sock, 0, "the peer's RST")

    # --- unlogged waits ------------------------------------------------------------------------
    def wait_readable(self, sock: socket.socket, who: str, what: str) -> None:
        """Wait until ``sock`` is readable, without logging (bounded)."""
        ready, _, _ = select.select([sock], [], [], self.timeout_s)
        if not ready:
            raise ScenarioError(f"{self.name}: {who} waited {self.timeout_s:.0f} s for {what}")

    def wait_state(self, sock: socket.socket, states: Collection[str], what: str) -> str:
        """Poll ``TCP_INFO`` until ``sock`` is in one of ``states`` (bounded)."""
        deadline = time.monotonic() + self.timeout_s
        pause = 0.0001
        while True:
            state = tcp_state_of(sock)
            if state in states:
                return state
            if time.monotonic() > deadline:
                raise ScenarioError(f"{self.name}: timed out waiting for {what} "
                                    f"(socket still in {state or 'no state'})")
            time.sleep(pause)  # polling the kernel's state, bounded by the deadline
            pause = min(pause * 2, 0.01)

    def wait_socket_table(self, predicate: Callable[[SocketEntry], bool],
                          what: str) -> SocketEntry:
        """Wait until the namespace's socket table has a matching entry (bounded)."""
        return wait_for_socket(predicate, f"{self.name}: {what}", self.timeout_s, self.tables)

    def wait_socket_gone(self, predicate: Callable[[SocketEntry], bool], what: str) -> None:
        """Wait until no entry of the socket table matches any more (bounded): a FIN_WAIT2
        that timed out, a TIME_WAIT that an RST killed."""
        wait_for_no_socket(predicate, f"{self.name}: {what}", self.timeout_s, self.tables)

    # --- hand-made segments --------------------------------------------------------------------
    def raw_tcp(self) -> RawTcp:
        """Raw sockets for this run: ``.seen`` holds every TCP segment the namespace receives
        from now on (open it before connecting to learn the sequence numbers), and
        :meth:`inject` sends through it.  Closed at the end of the run.

        The run is pinned to one CPU from here on: the kernel then handles each segment this
        process sends, and every answer it draws, to the end before the process runs again,
        so when ``raw.wait_for`` returns an answer, TCP has already acted on it."""
        raw = RawTcp(self.family)
        if not self._raw:
            self._affinity = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {min(self._affinity)})
        self._raw.append(raw)
        return raw

    def socket_table(self) -> list[SocketEntry]:
        """The namespace's socket table now (``/proc/net/tcp`` and ``tcp6``)."""
        ts_ns = time.time_ns()
        table = read_socket_table()
        self.tables.append((ts_ns, table))
        return table

    def inject(self, side: str, raw: RawTcp, *, sport: int, dport: int, seq: int, ack: int,
               flags: int, shown_args: str | None = None) -> int | None:
        """Send one hand-made segment (no options, no payload) as no socket would (an old
        duplicate): from the server's address when ``sport`` is :attr:`server_port`, from the
        client's otherwise, to the other one.  Logged as ``inject`` on ``side``'s lane (its
        args: the flags, then ``shown_args``); returns the bytes sent.  The ladder labels the
        segment ``injected``; the kernel counts it as received, never as sent."""
        src, dst = ((self.server_host, self.client_host) if sport == self.server_port
                    else (self.client_host, self.server_host))
        sent: int | None = self.call(
            side, "inject", raw.send, src, dst, sport, dport, seq, ack, flags,
            # the flags first: the report tells the injected segment by them
            shown_args=f"[{tcp_flags_to_str(flags)}]" + (f" {shown_args}" if shown_args else ""))
        return sent

    # --- end of run ----------------------------------------------------------------------------
    def close_quietly(self, sock: socket.socket) -> None:
        """Close without logging (a listener that is no longer needed)."""
        sock.close()

    def cleanup(self) -> None:
        """Close every socket the run opened (after the capture has stopped)."""
        for sock in self._open:
            if sock.fileno() >= 0:
                sock.close()
        self._open.clear()
        for raw in self._raw:
            raw.close()
        if self._raw:
            os.sched_setaffinity(0, self._affinity)
        self._raw.clear()


class ChildProcess:
    """A forked helper process of a scenario (one side of ``question``, the victim of SIGPIPE)."""

    def __init__(self, pid: int, reader: int, started_ns: int) -> None:
        self.pid = pid
        self.reader = reader
        self.started_ns = started_ns


def fork_child(context: ScenarioContext, body: Callable[[], None],
               restore_sigpipe: bool = False) -> ChildProcess:
    """Run ``body`` in a forked process whose syscall records flow back to ``context.log``."""
    import pickle
    import signal as signal_module

    reader, writer = os.pipe()
    started = time.time_ns()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            os.close(reader)
            die_with_parent(parent)
            if restore_sigpipe:
                signal_module.signal(signal_module.SIGPIPE, signal_module.SIG_DFL)
            first = len(context.log.records)

            def flush() -> None:
                data = pickle.dumps(context.log.records[first:])
                os.write(writer, len(data).to_bytes(8, "little") + data)
                del context.log.records[first:]

            context.log.on_record = flush
            body()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(writer)
    return ChildProcess(pid, reader, started)


def join_child(context: ScenarioContext, child: ChildProcess, fatal_call: tuple[str, str, str]
               | None = None) -> tuple[int, str]:
    """Wait (bounded) for ``child``; merge its syscall records; return (exit code, signal)."""
    import pickle

    from tcptrace_viz.kernel.syscalls import SyscallRecord

    pidfd = os.pidfd_open(child.pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], context.timeout_s)
        if not ready:
            os.kill(child.pid, 9)
            os.waitpid(child.pid, 0)
            raise ScenarioError(f"{context.name}: a child process did not finish within "
                                f"{context.timeout_s:.0f} s and was killed")
    finally:
        os.close(pidfd)
    _, status = os.waitpid(child.pid, 0)
    ended = time.time_ns()
    with os.fdopen(child.reader, "rb") as stream:
        data = stream.read()
    while data:
        size = int.from_bytes(data[:8], "little")
        for record in pickle.loads(data[8:8 + size]):
            context.log.add(record)
        data = data[8 + size:]
    code, signal_name = child_exit_status(status)
    if signal_name and fatal_call is not None:
        side, call, args = fatal_call
        context.log.add(SyscallRecord(child.started_ns, side, call, args, "", "", signal_name,
                                      ended - child.started_ns))
    return code, signal_name
