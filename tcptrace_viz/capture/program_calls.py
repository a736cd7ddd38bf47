"""A traced program's socket system calls as rows of the syscalls table, each fd named.

Input: the syscall, fork, exec and signal events of the program's process tree
(:class:`~tcptrace_viz.capture.call_tracer.SyscallTracer`) and the kernel's TCP state changes
(:class:`~tcptrace_viz.capture.tracefs.KernelTracer`), both on the packets' clock.

Each process's file descriptors are followed from the calls themselves: ``socket()`` (TCP only:
``AF_INET``/``AF_INET6`` and ``SOCK_STREAM``), ``accept()``, ``dup*``/``fcntl(F_DUPFD)``, ``close``,
``close_range``, fork (the child inherits a copy) and exec (close-on-exec fds go).  A call on an
fd that is not such a socket (a file, a pipe, a UDP or Unix socket) is not a row.

Which connection an fd is comes from what the kernel did inside its ``connect()`` or
``listen()``, and from its listener's accept queue
(:class:`~tcptrace_viz.capture.call_sockets.SocketAddresses`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from tcptrace_viz.capture.call_signals import attach_signals
from tcptrace_viz.capture.call_sockets import SocketAddresses
from tcptrace_viz.capture.call_words import (
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_SETFD,
    FAMILIES,
    FD_CALLS,
    FD_CLOEXEC,
    MSG_FLAGS,
    RECV_CALLS,
    SEND_CALLS,
    SHUT_HOW,
    SOCK_CLOEXEC,
    SOCK_STREAM,
    SOCK_TYPE_MASK,
    VALUE,
    WAIT_CALLS,
    call_result,
    flag_names,
    option_name,
    wait_text,
)
from tcptrace_viz.capture.tracefs import KernelEvent
from tcptrace_viz.kernel.syscalls import SyscallRecord


@dataclasses.dataclass
class Sock:
    """What an fd refers to: one TCP socket (shared by its dups and by forked children)."""

    role: str = ""
    """``client`` (it connected), ``server`` (it listens or was accepted), ``""`` unknown."""
    local: str = ""
    remote: str = ""
    queue: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)
    """A listener's connections that reached ESTABLISHED: (ns, local, remote), oldest first."""


WAIT_UNKNOWN: Sock = Sock()
"""What a wait on several sockets is about until :func:`_woken_for` says (the tracepoints show
the fds it waited on only as a pointer)."""


@dataclasses.dataclass
class _Call:
    enter: KernelEvent
    name: str
    args: list[int]
    ret: int | None = None
    exit_ns: int | None = None
    signal: str = ""
    signal_action: str = ""


@dataclasses.dataclass
class _Row:
    call: _Call
    sock: Sock
    fd: int
    text: str
    """The arguments, without the socket's addresses (added once they are known)."""
    about: Sock | None = None
    """The socket whose connection the call is about, when not ``sock``: the connection an
    ``accept()`` took; a bare ``Sock()`` when that is not known (a wait on several)."""


@dataclasses.dataclass
class ProgramCalls:
    """The rows and what a reader needs to know about them."""

    records: list[SyscallRecord]
    sides: tuple[str, str]
    fds: list[str]
    """One line per socket fd: which process, which fd, which connection."""
    unfinished: int
    """Calls still running when the trace ended (or whose process was killed inside them)."""
    client_endpoints: set[str]


def _number(text: str) -> int:
    value = int(text, 16) if text.startswith("0x") else int(text)
    return value - (1 << 64) if value >= 1 << 63 else value


class _Follower:
    """Walks the events in time order, keeping each process's fd table."""

    def __init__(self, states: Iterable[KernelEvent]) -> None:
        self.tables: dict[int, dict[int, Sock]] = {}
        self.cloexec: dict[int, set[int]] = {}
        self.tgid: dict[int, int] = {}
        self.rows: list[_Row] = []
        self.calls: list[_Call] = []
        self.addresses = SocketAddresses(states)
        self.programs: dict[int, str] = {}
        """Each process's program, as it was exec'd (the kernel's comm keeps 15 bytes)."""

    def table(self, tid: int) -> dict[int, Sock]:
        return self.tables.setdefault(self.tgid.get(tid, tid), {})

    def fork(self, event: KernelEvent) -> None:
        parent = int(event.fields.get("pid", "0"))
        child = int(event.fields.get("child_pid", "0"))
        source = self.tgid.get(parent, parent)
        self.tables[child] = dict(self.tables.get(source, {}))
        self.cloexec[child] = set(self.cloexec.get(source, set()))
        if source in self.programs:
            self.programs[child] = self.programs[source]

    def exec(self, event: KernelEvent) -> None:
        process = self.tgid.get(event.pid, event.pid)
        self.programs[process] = event.fields.get("filename", "").rpartition("/")[2]
        table = self.tables.get(process, {})
        for fd in self.cloexec.pop(process, set()):
            table.pop(fd, None)

    def finish(self, call: _Call) -> None:
        """A call that returned (or never did): update the fd table, keep its row."""
        name, args, ret = call.name, call.args, call.ret
        table = self.table(call.enter.pid)
        process = self.tgid.get(call.enter.pid, call.enter.pid)
        ok = ret is not None and ret >= 0
        fd = args[0] if args else -1
        if name == "socket":
            if (len(args) >= 2 and args[0] in FAMILIES
                    and args[1] & SOCK_TYPE_MASK == SOCK_STREAM):
                text = f"{FAMILIES[args[0]]}, SOCK_STREAM"
                if ok and ret is not None:
                    table[ret] = Sock()
                    if args[1] & SOCK_CLOEXEC:
                        self.cloexec.setdefault(process, set()).add(ret)
                    self.rows.append(_Row(call, table[ret], ret, text))
            return
        if name in ("dup", "dup2", "dup3") or (name == "fcntl" and len(args) >= 2
                                                and args[1] in (F_DUPFD, F_DUPFD_CLOEXEC)):
            if ok and ret is not None and fd in table:
                table[ret] = table[fd]
            return
        if name == "fcntl":
            if len(args) >= 3 and args[1] == F_SETFD and fd in table:
                marks = self.cloexec.setdefault(process, set())
                (marks.add if args[2] & FD_CLOEXEC else marks.discard)(fd)
            return
        if name == "close_range":
            last = args[1] if len(args) > 1 else fd
            for number in [number for number in table if fd <= number <= last]:
                del table[number]
            return
        if name in ("accept", "accept4"):
            listener = table.get(fd)
            if listener is None:
                return
            accepted = Sock("server")
            self._take_from_queue(listener, accepted, call)
            if ok and ret is not None:
                table[ret] = accepted
                if name == "accept4" and len(args) > 3 and args[3] & SOCK_CLOEXEC:
                    self.cloexec.setdefault(process, set()).add(ret)
            self.rows.append(_Row(call, listener, fd, f"fd {fd}", accepted))
            return
        if name in ("sendfile64", "splice"):
            out = args[1 if name == "sendfile64" else 2] if len(args) > 2 else -1
            target = out if name == "splice" else (args[0] if args else -1)
            if target in table:
                self.rows.append(_Row(call, table[target], target, f"fd {target}"))
            return
        if name in WAIT_CALLS:
            if table and ret != 0:
                sock = next(iter(table.values()))
                only = len({id(held) for held in table.values()}) == 1
                self.rows.append(_Row(call, sock, -1, wait_text(name, args),
                                      None if only else WAIT_UNKNOWN))
            return
        if name not in FD_CALLS or fd not in table:
            return
        if name in ("setsockopt", "getsockopt") and (len(args) < 3 or not option_name(args[1],
                                                                                args[2])):
            return  # IPV6_V6ONLY, SO_RCVBUF...: not about how the connection ends
        sock = table[fd]
        self.rows.append(_Row(call, sock, fd, self._text(call, sock)))
        if name == "close" and ok:
            del table[fd]
            self.cloexec.get(process, set()).discard(fd)

    def _text(self, call: _Call, sock: Sock) -> str:
        name, args = call.name, call.args
        fd = args[0]
        if name == "connect":
            sock.role = "client"
            found = self.addresses.made_by(call.enter.pid, call.enter.ts_ns, call.exit_ns,
                                           "TCP_SYN_SENT")
            if found:
                sock.local, sock.remote = found
        elif name == "listen":
            sock.role = "server"
            found = self.addresses.made_by(call.enter.pid, call.enter.ts_ns, call.exit_ns,
                                           "TCP_LISTEN")
            if found:
                sock.local = found[0]
                sock.queue = self.addresses.accept_queue(sock.local)
            return f"fd {fd}, backlog {args[1]}" if len(args) > 1 else f"fd {fd}"
        elif name == "shutdown" and len(args) > 1:
            return f"fd {fd}, {SHUT_HOW.get(args[1], str(args[1]))}"
        elif name in ("setsockopt", "getsockopt") and len(args) > 2:
            return f"fd {fd}, {option_name(args[1], args[2])}"
        position = SEND_CALLS.get(name, RECV_CALLS.get(name, -1))
        if position > 0 and len(args) > position:
            flags = flag_names(args[3], MSG_FLAGS) if name in ("sendto", "recvfrom") \
                and len(args) > 3 else ""
            return f"fd {fd}, {args[position]} bytes" + (f", {flags}" if flags else "")
        return f"fd {fd}"

    def _take_from_queue(self, listener: Sock, accepted: Sock, call: _Call) -> None:
        end = (call.exit_ns if call.exit_ns is not None else call.enter.ts_ns) + 1000
        if listener.queue and listener.queue[0][0] <= end:
            _, accepted.local, accepted.remote = listener.queue.pop(0)


def follow_calls(calls: Iterable[KernelEvent], states: Iterable[KernelEvent],
                 until_ns: int) -> ProgramCalls:
    """The syscalls table's rows of a traced program (see the module doc)."""
    follower = _Follower(states)
    running: dict[int, _Call] = {}
    signals: list[KernelEvent] = []
    for event in calls:
        if event.tgid:
            follower.tgid[event.pid] = event.tgid
        name = event.event
        if name == "sched_process_fork":
            follower.fork(event)
        elif name == "sched_process_exec":
            follower.exec(event)
        elif name in ("signal_generate", "signal_deliver"):
            signals.append(event)
        elif name.startswith("sys_") and not event.returned:
            running[event.pid] = _Call(event, name[4:], [
                _number(value) for value in VALUE.findall(event.body)])
        elif name.startswith("sys_") and event.pid in running:
            call = running.pop(event.pid)
            call.ret, call.exit_ns = _number(event.body.strip()), event.ts_ns
            follower.finish(call)
    for call in running.values():  # never returned
        follower.finish(call)
    attach_signals([row.call for row in follower.rows], signals)
    return _records(follower, until_ns)


def _name(event: KernelEvent, programs: dict[int, str]) -> str:
    """The calling process's name: its program's file name where the kernel's 15-byte comm
    is the start of it, else the comm (a thread's own name, a process that set its own)."""
    program = programs.get(event.tgid or event.pid, "")
    return program if program.startswith(event.comm) else event.comm


def _side_names(rows: list[_Row], programs: dict[int, str]) -> tuple[str, str]:
    comms: dict[str, str] = {}
    for row in rows:
        if row.sock.role and row.sock.role not in comms:
            comms[row.sock.role] = _name(row.call.enter, programs) or "program"
    client, server = comms.get("client", ""), comms.get("server", "")
    if client and server and client != server:
        return client, server
    return "client", "server"  # one program plays both (its name is in the report)


def _woken_for(rows: list[_Row]) -> None:
    """A wait on several sockets (``poll``, ``epoll_wait``...) is taken to be about the socket
    its thread used next (Python's ``recv`` with a timeout polls its own fd, an event loop
    serves the fd that woke it), else the one it used last."""
    last: dict[int, _Row] = {}
    waiting: dict[int, list[_Row]] = {}
    for row in rows:
        thread = row.call.enter.pid
        if row.about is WAIT_UNKNOWN:
            waiting.setdefault(thread, []).append(row)
            continue
        if row.fd < 0:
            continue
        for wait in waiting.pop(thread, []):
            wait.sock, wait.about = row.sock, None
        last[thread] = row
    for thread, waits in waiting.items():
        for wait in waits:
            if thread in last:
                wait.sock, wait.about = last[thread].sock, None
            else:
                wait.about = Sock()


def _records(follower: _Follower, until_ns: int) -> ProgramCalls:
    rows = sorted(follower.rows, key=lambda row: row.call.enter.ts_ns)
    _woken_for(rows)
    programs = follower.programs
    sides = _side_names(rows, programs)
    role_of_process: dict[int, str] = {}
    for row in rows:
        if row.sock.role:
            role_of_process.setdefault(follower.tgid.get(row.call.enter.pid, 0), row.sock.role)
    records, fds, seen = [], [], set()
    for row in rows:
        call, sock = row.call, row.sock
        process = follower.tgid.get(call.enter.pid, call.enter.pid)
        role = sock.role or role_of_process.get(process, "client")
        text = row.text
        if call.name == "connect" and sock.remote:
            text += f", {sock.remote}"
        elif call.name == "bind" and sock.local:
            text += f", {sock.local}"
        if call.exit_ns is None:
            text += " [no return seen]"
        ret, err = call_result(call.ret)
        end = call.exit_ns if call.exit_ns is not None else until_ns
        about = row.about or sock
        records.append(SyscallRecord(call.enter.ts_ns, sides[role == "server"], call.name, text,
                                     ret, err, call.signal, max(end - call.enter.ts_ns, 0),
                                     process, _name(call.enter, programs),
                                     about.local, about.remote, call.signal_action))
        key = (process, row.fd, id(sock))
        if row.fd >= 0 and key not in seen and (sock.local or sock.remote):
            seen.add(key)
            where = f"{sock.local} -> {sock.remote}" if sock.remote else f"{sock.local} (listening)"
            fds.append(f"pid {process} ({_name(call.enter, programs)}) fd {row.fd}: {where}")
    clients = {row.sock.local for row in rows if row.sock.role == "client" and row.sock.local}
    unfinished = sum(row.call.exit_ns is None for row in rows)
    return ProgramCalls(records, sides, fds, unfinished, clients)
