"""The names a traced program's system calls are written with: flags, options, results.

The syscall tracepoints give every argument as a number; these tables turn the ones a reader
of a TCP teardown needs into their names (``SHUT_WR``, ``MSG_NOSIGNAL``, ``SO_LINGER``,
``TCP_USER_TIMEOUT``) and a return value into the table's ``ret``/``errno`` pair.
"""

from __future__ import annotations

import re
import socket

from tcptrace_viz.kernel.syscalls import errno_name

VALUE = re.compile(r"\w+: (0x[0-9a-fA-F]+|-?\d+)")
SOCK_STREAM, SOCK_TYPE_MASK, SOCK_CLOEXEC = 1, 0xF, 0x80000
F_DUPFD, F_SETFD, F_DUPFD_CLOEXEC, FD_CLOEXEC = 0, 2, 1030, 1
SOL_SOCKET = 1
SOCKET_OPTIONS = {2: "SO_REUSEADDR", 4: "SO_ERROR", 9: "SO_KEEPALIVE", 13: "SO_LINGER",
                  15: "SO_REUSEPORT"}
"""The socket-level options that change or tell how a connection opens and ends."""
RESTART_ERRNOS = {512, 513, 514, 516}
"""The kernel's internal "restart the call" codes: the program sees EINTR (or a restart)."""
FAMILIES: dict[int, str] = {int(socket.AF_INET): "AF_INET", int(socket.AF_INET6): "AF_INET6"}
SHUT_HOW = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}
MSG_FLAGS = {0x1: "MSG_OOB", 0x2: "MSG_PEEK", 0x40: "MSG_DONTWAIT", 0x100: "MSG_WAITALL",
             0x4000: "MSG_NOSIGNAL", 0x8000: "MSG_MORE"}
TCP_OPTIONS = {1: "TCP_NODELAY", 2: "TCP_MAXSEG", 3: "TCP_CORK", 4: "TCP_KEEPIDLE",
               5: "TCP_KEEPINTVL", 6: "TCP_KEEPCNT", 7: "TCP_SYNCNT", 8: "TCP_LINGER2",
               9: "TCP_DEFER_ACCEPT", 10: "TCP_WINDOW_CLAMP", 11: "TCP_INFO",
               12: "TCP_QUICKACK", 13: "TCP_CONGESTION", 18: "TCP_USER_TIMEOUT",
               23: "TCP_FASTOPEN", 25: "TCP_NOTSENT_LOWAT"}
SEND_CALLS = {"sendto": 2, "write": 2, "sendmsg": -1, "writev": -1, "sendmmsg": -1}
"""Calls that write to their first argument's fd: the position of the byte count (-1: none)."""
RECV_CALLS = {"recvfrom": 2, "read": 2, "recvmsg": -1, "readv": -1, "recvmmsg": -1}
FD_CALLS = {"bind", "listen", "connect", "shutdown", "close", "setsockopt", "getsockopt",
            *SEND_CALLS, *RECV_CALLS}
WAIT_CALLS = {"poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait",
              "epoll_pwait2"}
INVISIBLE = ("not visible to the tracepoints: the bytes sent and received, the addresses given "
             "to bind() and connect() (taken from the kernel's state changes instead), the "
             "values setsockopt() sets, and socket work done without a system call of its own "
             "(io_uring)")


def flag_names(value: int, names: dict[int, str]) -> str:
    """``0x4040`` with :data:`MSG_FLAGS` -> ``MSG_DONTWAIT|MSG_NOSIGNAL``."""
    return "|".join(name for bit, name in names.items() if value & bit)


def option_name(level: int, name: int) -> str:
    """The option's name; ``""`` for one that is not about TCP's opening and closing."""
    if level == SOL_SOCKET:
        return SOCKET_OPTIONS.get(name, "")
    if level == socket.IPPROTO_TCP:
        return TCP_OPTIONS.get(name, f"IPPROTO_TCP {name}")
    return ""


def wait_text(name: str, args: list[int]) -> str:
    """A poll, select or epoll wait's arguments as words."""
    if name.startswith("epoll") and len(args) > 3:
        return f"epfd {args[0]}, timeout {args[3]} ms"
    if name == "poll" and len(args) > 2:
        return f"{args[1]} fds, timeout {args[2]} ms"
    return f"{args[1]} fds" if name == "ppoll" and len(args) > 1 else f"{args[0]} fds"


def call_result(ret: int | None) -> tuple[str, str]:
    """A raw return value as the table's ``(ret, errno)``; ``("", "")`` when the call never
    returned."""
    if ret is None:
        return "", ""
    if -4095 <= ret < 0:
        code = -ret
        return "", "EINTR" if code in RESTART_ERRNOS else errno_name(code)
    return str(ret), ""
