"""``tcptrace-viz run``: a user's program in a capture run, into the same Trace as a scenario.

The run is a capture run (:mod:`tcptrace_viz.capture.session`) whose steps start the program
(:mod:`tcptrace_viz.capture.program_run`); beside the state tracer, this process makes a second
tracefs instance for the program's system calls
(:class:`~tcptrace_viz.capture.call_tracer.SyscallTracer`), reads it once the program has
ended and turns it into the syscalls table (:mod:`tcptrace_viz.capture.program_calls`).

Ctrl-C (or SIGTERM) while the program runs does not abandon the run: the worker passes SIGINT
on to the program, ends its process tree and still sends everything it recorded, and the Trace
says it was interrupted.  A second Ctrl-C abandons it (nothing is left behind either way).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import shlex
import signal
import socket
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from tcptrace_viz import interrupts
from tcptrace_viz.capture.call_tracer import SyscallTracer, calls_available
from tcptrace_viz.capture.call_words import INVISIBLE
from tcptrace_viz.capture.program_calls import ProgramCalls, follow_calls
from tcptrace_viz.capture.program_run import ProgramPlan, program_scenario
from tcptrace_viz.capture.result import CaptureResult
from tcptrace_viz.capture.session import plan_tracer, start_worker
from tcptrace_viz.capture.tracefs import INSTANCE_PREFIX, TracerResult
from tcptrace_viz.kernel.syscalls import SyscallRecord

_numbers = itertools.count()
FINISH_TIMEOUT_S = 30.0
"""How long a stopped run's worker has to end the program's tree and send its result."""


@dataclasses.dataclass
class ProgramResult:
    """A finished ``run``: the capture and how the program ended."""

    capture: CaptureResult
    exit_code: int
    """The program's (the client's) exit status, or 128 + the signal that killed it."""
    interrupted: bool
    """The run was stopped (Ctrl-C, SIGTERM) before the program ended by itself."""


def _calls_tracer(root: str | None, problem: str) -> tuple[SyscallTracer | None, str]:
    """The syscall tracer's instance, made and registered, or why there is none."""
    if root is None:
        return None, problem or "tracefs is not available"
    missing = calls_available(root)
    if missing:
        return None, missing
    tracer = SyscallTracer(root, f"{INSTANCE_PREFIX}{os.getpid()}.calls{next(_numbers)}")
    try:
        tracer.start()
    except OSError as exc:
        return None, f"cannot create a tracefs instance: {exc.strerror}"
    return tracer, ""


class _Refinement:
    """The program's syscalls and sides, once its Trace's packets are decoded."""

    def __init__(self, calls: TracerResult | None, traced: TracerResult | None,
                 until_ns: int, names: tuple[str, str] | None = None) -> None:
        self.calls = calls
        self.traced = traced
        self.until_ns = until_ns
        self.names = names
        """The lifelines' names from ``--server``/``--client`` (None: from the calls)."""
        self.found: ProgramCalls | None = None

    def __call__(self, packets: pd.DataFrame, rows: list[dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], list[SyscallRecord], tuple[str, str]]:
        wire = set(zip(_spelled(packets, "src", "sport"), _spelled(packets, "dst", "dport"),
                       strict=True))
        syn = packets["flags"].astype(str).str.fullmatch("S").to_numpy(dtype=bool)
        clients = set(_spelled(packets[syn], "src", "sport"))
        sides: tuple[str, str] = ("client", "server")
        records: list[SyscallRecord] = []
        if self.calls is not None:
            self.found = follow_calls(self.calls.events,
                                      self.traced.events if self.traced else [], self.until_ns)
            sides, records = self.found.sides, self.found.records
            clients |= self.found.client_endpoints
            if self.names is not None:  # curl and http.server, not curl and python3
                renamed = dict(zip(sides, self.names, strict=True))
                records = [dataclasses.replace(record, side=renamed.get(record.side, record.side))
                           for record in records]
                sides = self.names
        return keep_program_states(rows, wire, clients, sides), records, sides


def _spelled(packets: pd.DataFrame, host: str, port: str) -> list[str]:
    from tcptrace_viz.vocabulary import endpoint

    return [endpoint(str(address), int(number))
            for address, number in zip(packets[host], packets[port], strict=True)]


def run_program(plan: ProgramPlan, family: int = socket.AF_INET,
                sysctls: Mapping[str, str] | None = None) -> ProgramResult:
    """Run ``plan`` in its own namespace until it ends (or the run is stopped): its Trace."""
    tracer_plan = plan_tracer()
    with interrupts.deferred():
        calls, calls_problem = _calls_tracer(tracer_plan.root, tracer_plan.problem)
        calls_key = interrupts.keep(calls.close) if calls is not None else 0
    try:
        scenario = program_scenario(plan, calls)
        started_at = time.time_ns()
        worker, key = start_worker(scenario, family, tracer_plan, {}, sysctls)
        try:
            from tcptrace_viz.capture.assembly import assemble, import_assembly

            import_assembly()
            with interrupts.forwarded(lambda signum: _stop(worker.pid)):
                raw = worker.result(None)
            calls_seen = calls.stop() if calls is not None and raw.get("ok") else None
            refine = _Refinement(calls_seen, raw.get("traced"), int(raw.get("end_ns", 0)),
                                 plan.side_names)
            captured = assemble(scenario, family, raw, started_at, {}, refine)
            worker.finish()
        finally:
            interrupts.release(key)
    finally:
        if calls_key:
            interrupts.release(calls_key)
    exit_code = _describe(captured, plan, refine.found, calls_problem,
                          calls_seen.overruns if calls_seen is not None else 0)
    captured.trace.meta = captured.trace.meta.normalised()
    return ProgramResult(captured, exit_code, captured.trace.meta.interrupted)


def _stop(worker: int) -> None:
    """Ask the worker to stop the program (it still sends what it recorded)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(worker, signal.SIGINT)


def _describe(captured: CaptureResult, plan: ProgramPlan, found: ProgramCalls | None,
              problem: str, overruns: int) -> int:
    """The run's own metadata (the programs, how they ended, what the calls can show), from
    the facts the worker recorded; the program's exit code."""
    meta = captured.trace.meta
    facts = meta.facts
    meta.source = "run"
    meta.command = [shlex.join(argv) for _, argv in plan.argvs]
    meta.programs = [f"{item['role']}: {shlex.join(item['argv'])} (pid {item['pid']}) "
                     f"{item['ended']}" for item in facts.pop("run_programs", [])]
    meta.exit_status = str(facts.pop("run_exit_status", ""))
    meta.interrupted = bool(facts.pop("run_interrupted", False))
    exit_code = int(facts.pop("run_exit_code", 0))
    if found is None:
        meta.syscall_source = "unavailable"
        meta.syscall_note = f"system calls were not traced: {problem}"
        return exit_code
    meta.syscall_source = "tracepoint"
    notes = [INVISIBLE]
    if found.unfinished:
        notes.append(f"{found.unfinished} call(s) had not returned when the run ended")
    if overruns:
        notes.append(f"{overruns} syscall event(s) were lost: the trace buffer was full")
    meta.syscall_note = "; ".join(notes)
    meta.fds = found.fds
    return exit_code


def _side_of(local: str, client_endpoints: set[str], sides: tuple[str, str]) -> str:
    """The lifeline of a socket whose own address is ``local``."""
    return sides[0] if local in client_endpoints else sides[1]


def keep_program_states(rows: list[dict[str, Any]], wire: set[tuple[str, str]],
                        client_endpoints: set[str], sides: tuple[str, str]) -> list[dict[str, Any]]:
    """The state rows of sockets whose segments are on this namespace's wire (the tracer
    sees every namespace; a program's ``127.0.0.1`` is also the machine's), on their side."""
    for index, row in enumerate(rows):
        if row["new"] == "SYN_SENT" and str(row["local"]).endswith(":0"):
            # connect() without bind(): the move to SYN_SENT comes before the kernel picks the
            # port; the socket's next move names it
            host = str(row["local"]).rpartition(":")[0]
            row["local"] = next(
                (later["local"] for later in rows[index + 1:]
                 if later["old"] == "SYN_SENT" and later["remote"] == row["remote"]
                 and str(later["local"]).rpartition(":")[0] == host), row["local"])
    kept = []
    for row in rows:
        if (row["local"], row["remote"]) in wire or (row["remote"], row["local"]) in wire:
            row["side"] = _side_of(str(row["local"]), client_endpoints, sides)
            kept.append(row)
    return kept
