"""Start a user's program in the calling process's namespace, and end its whole process tree.

The process that runs a program (a capture worker, inside the run's network namespace) becomes
a *child subreaper*: whatever the program forks and then abandons is re-parented to it instead
of to init, so it can find every descendant (:func:`descendants`) and end them all
(:func:`end_tree`) before its namespace goes.  A program starts *gated*
(:func:`launch`): forked, then held before ``exec`` until the caller has told the syscall
tracer its pid, so its first system call is already traced.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import os
import select
import signal
import time
from collections.abc import Callable

from tcptrace_viz.errors import ScenarioError

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
GRACE_S = 2.0
"""How long a program asked to stop (SIGTERM, SIGINT) has before it is killed."""


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(option, value, 0, 0, 0)


def become_subreaper() -> None:
    """Orphans among this process's descendants become its children (see the module doc)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


@dataclasses.dataclass
class Launched:
    """A program started by :func:`launch`."""

    argv: list[str]
    pid: int
    status: int | None = None
    """Its ``waitpid`` status once it has ended."""


def launch(argv: list[str], before_exec: Callable[[int], None]) -> Launched:
    """Fork, call ``before_exec(pid)`` while the child waits, then let it exec ``argv``.

    The child gets the default handling of every signal (Python ignores SIGPIPE, and a
    program killed by SIGPIPE must be) and dies with this process.  ScenarioError, in one
    sentence, when ``argv`` cannot be executed.
    """
    gate_read, gate_write = os.pipe()
    error_read, error_write = os.pipe2(os.O_CLOEXEC)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child, until exec
        try:
            os.close(gate_write)
            os.close(error_read)
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD,
                           signal.SIGALRM):
                signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            signal.setitimer(signal.ITIMER_REAL, 0)
            _prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
            if os.getppid() != parent or os.read(gate_read, 1) != b"g":
                os._exit(127)
            os.close(gate_read)
            os.execvp(argv[0], argv)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.write(error_write, str(exc.errno or 0).encode())
        finally:
            os._exit(127)
    os.close(gate_read)
    os.close(error_write)
    try:
        before_exec(pid)
        os.write(gate_write, b"g")
    finally:
        os.close(gate_write)
    with os.fdopen(error_read, "rb") as errors:
        failed = errors.read()  # end of file: exec succeeded (the pipe closes on exec)
    program = Launched(argv, pid)
    if failed:
        _, program.status = os.waitpid(pid, 0)
        code = int(failed.decode() or 0)
        raise ScenarioError(f"cannot run {argv[0]}: {os.strerror(code)}")
    return program


def exit_words(status: int) -> str:
    """``"exited with status 0"``, ``"killed by SIGPIPE"``."""
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.WEXITSTATUS(status)}"


def exit_code(status: int) -> int:
    """The shell's number for a ``waitpid`` status: the exit status, or 128 + the signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait_any(programs: list[Launched], wake: int, timeout_s: float | None) -> bool:
    """Wait until one of ``programs`` ends (its status is set), ``wake`` is readable or
    ``timeout_s`` passes; True when one ended.  Other children that end are reaped."""
    handles = {os.pidfd_open(program.pid): program for program in programs
               if program.status is None}
    try:
        ready, _, _ = select.select([*handles, wake], [], [], timeout_s)
    finally:
        for handle in handles:
            os.close(handle)
    running = sum(program.status is None for program in programs)
    reap(programs)
    return sum(program.status is None for program in programs) < running or bool(
        set(ready) & set(handles))


def reap(programs: list[Launched]) -> None:
    """Reap every child that has ended (orphans re-parented to this subreaper included),
    noting the status of each of ``programs`` among them."""
    by_pid = {program.pid: program for program in programs}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return
        if pid in by_pid and by_pid[pid].status is None:
            by_pid[pid].status = status


def descendants(root: int) -> list[int]:
    """Every living process below ``root``, read from ``/proc``."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def signal_all(pids: list[int], signum: int) -> None:
    """Send ``signum`` to each of ``pids`` that still exists."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def end_tree(programs: list[Launched], signum: int = signal.SIGTERM,
             grace_s: float = GRACE_S) -> None:
    """End every program not yet ended and every other descendant of this process: ``signum``
    first, SIGKILL to what is left after ``grace_s``; all reaped."""
    deadline = time.monotonic() + grace_s
    signal_all([program.pid for program in programs if program.status is None], signum)
    signal_all([pid for pid in descendants(os.getpid())
                if pid not in {program.pid for program in programs}], signum)
    while (left := descendants(os.getpid())) and time.monotonic() < deadline:
        _wait_for_one(left[0], deadline - time.monotonic())
        reap(programs)
    while left := descendants(os.getpid()):
        signal_all(left, signal.SIGKILL)
        _wait_for_one(left[0], GRACE_S)
        reap(programs)
    reap(programs)


def _wait_for_one(pid: int, timeout_s: float) -> None:
    """Block until process ``pid`` ends or ``timeout_s`` passes."""
    try:
        handle = os.pidfd_open(pid)
    except OSError:
        return  # already gone
    try:
        select.select([handle], [], [], max(timeout_s, 0.0))
    finally:
        os.close(handle)
