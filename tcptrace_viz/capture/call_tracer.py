"""A program's socket system calls, forks, execs and signals, from the kernel's tracepoints.

``tcptrace-viz run`` traces a user's program without ptrace: a second private tracefs instance
enables the ``syscalls:sys_enter_*``/``sys_exit_*`` tracepoints of the calls that touch a
socket, plus ``sched:sched_process_fork``/``exec``/``exit`` and
``signal:signal_generate``/``signal_deliver`` (what a signal did: ignored, handled, killed), and
records only the program's own threads: ``set_event_pid`` holds the program's first pid and the
``event-fork`` option adds every child it forks (threads included) as it is forked, so the
whole process tree is traced from its first instruction and nothing else on the machine is.

Why a second instance: ``set_event_pid`` filters every event of its instance by the task that
was running, and a TCP state change raised in softirq context runs on whatever task the
packet interrupted; the state tracer (:class:`~tcptrace_viz.capture.tracefs.KernelTracer`) must
see those, so it keeps its own unfiltered instance.

The tracepoints give each argument as a number: a buffer or a ``sockaddr`` is only its address
in the program's memory (the report says so).  Which connection an fd is is worked out from the
kernel's state changes (:mod:`tcptrace_viz.capture.program_calls`).
"""

from __future__ import annotations

import os

from tcptrace_viz.capture.tracefs import KernelTracer

CALLS = (
    "socket", "bind", "listen", "connect", "accept", "accept4",
    "sendto", "sendmsg", "sendmmsg", "write", "writev", "sendfile64", "splice",
    "recvfrom", "recvmsg", "recvmmsg", "read", "readv",
    "shutdown", "close", "close_range",
    "poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait", "epoll_pwait2",
    "setsockopt", "getsockopt", "dup", "dup2", "dup3", "fcntl",
)
"""The system calls traced (a kernel without one of them skips it)."""
PROCESS_EVENTS = ("sched/sched_process_fork", "sched/sched_process_exec",
                  "sched/sched_process_exit", "signal/signal_generate",
                  "signal/signal_deliver")
CALL_BUFFER_KB = 16384
"""Per CPU: a 10,000-request loop makes a few hundred thousand events."""


class SyscallTracer(KernelTracer):
    """A private instance recording one process tree's socket calls (see the module doc).

    :meth:`start` (in the run's owner) makes the instance with recording off; :meth:`follow`
    (in the namespace's process, before the program runs) names the program's first process
    and starts recording; :meth:`stop` reads everything back.
    """

    events = tuple(f"syscalls/sys_{way}_{call}" for call in CALLS
                   for way in ("enter", "exit")) + PROCESS_EVENTS
    buffer_kb = CALL_BUFFER_KB
    record_on_start = False

    def _configure(self) -> None:
        self._write("options/event-fork", "1")  # children join the filter as they are forked
        self._write("options/record-tgid", "1")  # each line says its process, not only thread

    def follow(self, pid: int) -> None:
        """Trace process ``pid`` and everything it forks from now on (call before it runs)."""
        # O_APPEND keeps the pids already listed; Python's "a" mode would seek, which tracefs
        # refuses.
        handle = os.open(os.path.join(self.path, "set_event_pid"), os.O_WRONLY | os.O_APPEND)
        try:
            os.write(handle, f"{pid}\n".encode())
        finally:
            os.close(handle)
        self._write("tracing_on", "1")


def calls_available(root: str) -> str:
    """Why this kernel cannot trace system calls ("" when it can): syscall tracepoints need
    ``CONFIG_FTRACE_SYSCALLS``."""
    if not os.path.isdir(os.path.join(root, "events", "syscalls", "sys_enter_connect")):
        return "this kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS is off)"
    return ""
