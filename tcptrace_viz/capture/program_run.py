"""A user's program as the steps of a capture run: started, waited for, ended with its tree.

:func:`program_scenario` makes a :class:`~tcptrace_viz.scenarios.registry.Scenario` whose steps,
run by the capture worker inside the run's namespace, start the program (or a server, then a
client once something listens), wait until it exits or the run is stopped (SIGINT/SIGTERM: the
program gets SIGINT, then the rest of its tree is ended), and record how each program ended in
``ctx.facts`` (``run_programs``, ``run_exit_code``, ``run_exit_status``,
``run_interrupted``).  Without a syscall tracer the namespace's socket table is read every
:data:`SAMPLE_S` meanwhile, so the states are still seen (marked sampled).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from tcptrace_viz.errors import ScenarioError
from tcptrace_viz.kernel import programs
from tcptrace_viz.kernel.sockettable import read_socket_table
from tcptrace_viz.kernel.syscalls import SampledState
from tcptrace_viz.scenarios.registry import Scenario

if TYPE_CHECKING:
    from tcptrace_viz.capture.call_tracer import SyscallTracer
    from tcptrace_viz.scenarios.context import ScenarioContext

SAMPLE_S = 0.002
"""How often the socket table is read when states cannot be traced."""
LISTEN_TIMEOUT_S = 30.0
"""How long the server of ``--server/--client`` has to start listening."""
SETTLE_S = 2.0
"""How long the server has, once the client ended, to close its side of the connections."""
OPEN_STATES = frozenset({"SYN_RECV", "ESTABLISHED", "CLOSE_WAIT"})
"""States in which a socket still waits for its program to close it."""


INTERPRETERS = re.compile(r"(python[\d.]*|pypy[\d.]*|perl|ruby|node|bash|sh|dash|zsh)")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_name(argv: Sequence[str]) -> str:
    """A report name from a command: ``./server`` -> ``server``, ``python3 echo.py`` ->
    ``echo``, ``python3 -m http.server`` -> ``http.server``."""
    name = Path(argv[0]).name
    if INTERPRETERS.fullmatch(name):
        rest = iter(argv[1:])
        for arg in rest:
            if arg == "-m":
                name = next(rest, name)
                break
            if arg == "-c":
                break
            if not arg.startswith("-"):
                name = Path(arg).stem
                break
    return safe_name(name)


def safe_name(name: str) -> str:
    """``name`` as a file stem: runs of other characters become ``-``."""
    cleaned = _UNSAFE.sub("-", name).strip("-.")
    return cleaned or "program"


@dataclasses.dataclass(frozen=True)
class ProgramPlan:
    """What ``tcptrace-viz run`` runs: one command, or a server and then a client."""

    name: str
    command: tuple[str, ...] = ()
    server: tuple[str, ...] = ()
    client: tuple[str, ...] = ()

    @property
    def argvs(self) -> list[tuple[str, tuple[str, ...]]]:
        """(role, argv) in start order."""
        if self.command:
            return [("command", self.command)]
        return [("server", self.server), ("client", self.client)]

    @property
    def side_names(self) -> tuple[str, str] | None:
        """The lifelines' names of a ``--server``/``--client`` run, from their commands
        (``curl``, ``http.server``: not the interpreter's ``python3``, which ``python3 -c``
        leaves as ``client``); None for one command or when both would be named alike."""
        if self.command:
            return None
        client, server = (name if not INTERPRETERS.fullmatch(name) else role
                          for name, role in ((default_name(self.client), "client"),
                                             (default_name(self.server), "server")))
        return (client, server) if client != server else None

    @property
    def shown(self) -> str:
        """The command line(s) as a reader would type them."""
        import shlex

        return "; ".join(f"{role}: {shlex.join(argv)}" if role != "command" else shlex.join(argv)
                         for role, argv in self.argvs)


class _TableSampler:
    """The socket table's changes between reads, as sampled states."""

    def __init__(self, into: list[SampledState]) -> None:
        self.into = into
        self.last: dict[tuple[str, str], str] = {}

    def sample(self) -> None:
        now = time.time_ns()
        current = {(entry.local, entry.remote): entry.state for entry in read_socket_table()
                   if entry.state != "LISTEN"}
        for key, state in current.items():
            if self.last.get(key) != state:
                self.into.append(SampledState(now, "", *key, self.last.get(key, ""), state))
        for key, state in self.last.items():
            if key not in current:
                self.into.append(SampledState(now, "", *key, state, "CLOSE"))
        self.last = current


def _listening() -> bool:
    return any(entry.state == "LISTEN" for entry in read_socket_table())


def _run(plan: ProgramPlan, calls: SyscallTracer | None, ctx: ScenarioContext) -> None:
    """The run's steps (in the worker, inside the namespace)."""
    programs.become_subreaper()
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    stopped: list[int] = []

    def on_stop(signum: int, frame: FrameType | None) -> None:
        stopped.append(signum)
        with contextlib.suppress(BlockingIOError):
            os.write(wake_write, b"!")

    previous = {signum: signal.signal(signum, on_stop)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    sampler = _TableSampler(ctx.log.sampled) if ctx.log.sample_states else None
    follow: Callable[[int], None] = calls.follow if calls is not None else (lambda pid: None)
    started: list[programs.Launched] = []
    roles: list[str] = []
    main: programs.Launched | None = None
    try:
        for role, argv in plan.argvs:
            if role == "client":
                _wait_for_listener(started[0], wake_read, stopped, sampler)
                if stopped:
                    break
            started.append(programs.launch(list(argv), follow))
            roles.append(role)
        main = started[-1] if started else None
        while main is not None and main.status is None and not stopped:
            programs.wait_any(started, wake_read, SAMPLE_S if sampler else None)
            if sampler is not None:
                sampler.sample()
        if len(started) > 1 and not stopped:
            _let_the_server_close(started, wake_read, stopped, sampler)
    finally:
        for signum in previous:  # from here on the worker finishes its result, whatever comes
            signal.signal(signum, signal.SIG_IGN)
        programs.end_tree(started, signal.SIGINT if stopped else signal.SIGTERM)
        if sampler is not None:
            sampler.sample()
        os.close(wake_read)
        os.close(wake_write)
        ctx.facts["run_programs"] = [
            {"role": role, "argv": list(program.argv), "pid": program.pid,
             "ended": programs.exit_words(program.status) if program.status is not None
             else "still running"}
            for role, program in zip(roles, started, strict=True)]
        if main is not None and main.status is not None:
            ctx.facts["run_exit_code"] = programs.exit_code(main.status)
            ctx.facts["run_exit_status"] = programs.exit_words(main.status)
        ctx.facts["run_interrupted"] = bool(stopped)


def _wait_for_listener(server: programs.Launched, wake: int, stopped: list[int],
                       sampler: _TableSampler | None) -> None:
    """Wait (bounded) until a socket of the namespace listens; the server's end is an error."""
    deadline = time.monotonic() + LISTEN_TIMEOUT_S
    while not _listening():
        if stopped:
            return
        if server.status is not None:
            raise ScenarioError(f"the server {server.argv[0]} {programs.exit_words(server.status)}"
                                " before anything listened")
        if time.monotonic() > deadline:
            raise ScenarioError(f"the server {server.argv[0]} did not listen within "
                                f"{LISTEN_TIMEOUT_S:.0f} s")
        programs.wait_any([server], wake, SAMPLE_S)  # the server's end or a stop wakes it
        if sampler is not None:
            sampler.sample()


def _let_the_server_close(started: list[programs.Launched], wake: int, stopped: list[int],
                          sampler: _TableSampler | None) -> None:
    """The client has ended: wait (bounded) until the server has closed its side of every
    connection (none left ESTABLISHED or CLOSE_WAIT), so stopping it does not cut its own
    teardown short."""
    deadline = time.monotonic() + SETTLE_S
    while any(entry.state in OPEN_STATES for entry in read_socket_table()):
        if stopped or time.monotonic() > deadline or all(
                program.status is not None for program in started):
            return
        programs.wait_any(started, wake, SAMPLE_S)
        if sampler is not None:
            sampler.sample()


def program_scenario(plan: ProgramPlan, calls: SyscallTracer | None) -> Scenario:
    """The Scenario that runs ``plan`` (its syscalls traced by ``calls`` when given)."""
    return Scenario(
        name=plan.name, title=plan.shown, teaches="", steps="", outcomes=(),
        run=lambda ctx: _run(plan, calls, ctx))
