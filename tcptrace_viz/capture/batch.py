"""Several capture runs at once, each in its own worker and namespace, results in order.

:func:`run_many` keeps up to ``jobs`` workers running and hands back each run's result in the
order the runs were given, as soon as it and every one before it are in: the caller renders run
k while runs k+1... are still capturing.  Runs never see each other: each worker has its own
network namespace, its own loopback address (derived from its pid) and its own tracefs
instance, and keeps only its own sockets' events (see :mod:`tcptrace_viz.capture.session`).

One thread does everything in the parent: it waits on the workers' result pipes with
``select`` (never a sleep), so each ``fork()`` happens from a single-threaded process and a
worker never needs a lock another thread of the parent held.  scapy is imported in the parent
while the first worker starts, so the workers forked after it inherit it.

Errors:

- a run that fails (its scenario crashes, a step times out, its worker dies or exceeds the
  timeout) comes back as a :class:`RunResult` with ``error`` set, in its place; the others go on;
- :class:`~tcptrace_viz.errors.PrivilegeError` (no packet socket, no namespace) and
  :class:`~tcptrace_viz.errors.Interrupted` (a worker stopped by SIGINT) are raised and stop
  all;
- bad parameter values are refused before any worker starts
  (:class:`~tcptrace_viz.errors.BadInputError`).

Nothing is left behind: every worker is registered with :mod:`tcptrace_viz.interrupts` while
it lives, so Ctrl-C or SIGTERM at any moment (inside ``run_many`` or in the caller's code while
it holds a result) kills and reaps every worker and removes every tracefs instance, through the
generator's ``finally`` or :func:`interrupts.release_all`.
"""

from __future__ import annotations

import dataclasses
import select
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from tcptrace_viz import interrupts
from tcptrace_viz.capture.result import CaptureResult
from tcptrace_viz.capture.session import (
    BLOCKED,
    WORKER_TIMEOUT_S,
    CaptureWorker,
    plan_tracer,
    start_worker,
    while_the_worker_runs,
)
from tcptrace_viz.capture.worker_process import TracerPlan
from tcptrace_viz.errors import Interrupted, PrivilegeError, ScenarioError, TcptraceVizError
from tcptrace_viz.meta import Value
from tcptrace_viz.scenarios.params import check_values
from tcptrace_viz.scenarios.registry import Scenario

IDLE_RUNS_MAX = 8
"""Runs waiting for kernel timers (``Scenario.waits_s``) at once, beside the ``-j`` others."""


@dataclasses.dataclass
class RunResult:
    """One run of :func:`run_many`: its capture, or why there is none."""

    index: int
    """The run's place in the list given to :func:`run_many` (0 for the first)."""
    scenario: Scenario
    params: dict[str, Value]
    """The parameter values the run used (defaults filled in)."""
    capture: CaptureResult | None
    """The run's Trace (not yet judged) and frames; None when ``error`` is set."""
    error: Exception | None = None
    """Why the run has no capture (a :class:`TcptraceVizError` or the exception raised while
    assembling its Trace)."""

    @property
    def why(self) -> str:
        """``error`` as one sentence ("" when the run has a capture)."""
        if self.error is None:
            return ""
        if isinstance(self.error, TcptraceVizError):
            return self.error.message
        return f"scenario {self.scenario.name} crashed: {self.error!r}"


def default_jobs() -> int:
    """How many runs at once by default: the CPUs this process may use."""
    from tcptrace_viz.kernel.process import usable_cpus

    return usable_cpus()


@dataclasses.dataclass
class _Run:
    index: int
    scenario: Scenario
    values: dict[str, Value]
    started_at: int = 0
    worker: CaptureWorker | None = None
    key: int = 0
    """The worker's registration with :mod:`tcptrace_viz.interrupts`."""
    deadline: float = 0.0
    outcome: dict[str, Any] | Exception | None = None
    """The worker's raw result, or the error that replaces it."""


def run_many(runs: Iterable[tuple[Scenario, Mapping[str, Value] | None]],
             family: int = socket.AF_INET, jobs: int | None = None, *,
             prepare: Callable[[], object] | None = None,
             beside_first: Callable[[], object] | None = None,
             sysctls: Mapping[str, str] | None = None,
             timeout_s: float = WORKER_TIMEOUT_S, ordered: bool = True,
             start_order: Sequence[int] | None = None) -> Iterator[RunResult]:
    """Capture every ``(scenario, params)`` of ``runs``, ``jobs`` at a time; yield the results
    in the order of ``runs``, each as soon as it and those before it are in.

    ``params`` as for :func:`~tcptrace_viz.capture.session.run_capture` (None: defaults);
    ``jobs``: workers at once (None: :func:`default_jobs`; 1: one at a time, the next one
    capturing while the caller handles a result; results still come in order).
    ``prepare``: called once in this process while the first
    workers capture, to do work the caller needs next (importing the renderers, say); it must
    not start threads, since workers are forked after it.  ``beside_first``: called once right
    after the first worker is forked, before this process's own imports (to fork a helper that
    should not inherit them).  ``sysctls``: per-namespace settings for every run's namespace.
    ``timeout_s``: how long a worker may
    take, counted only while this generator runs (not while the caller holds a result).
    ``ordered=False``: yield each result as soon as it is in, whatever its place (the caller
    puts them in order; ``RunResult.index`` says where).  ``start_order``: the indexes of
    ``runs`` in the order their workers start (default: in order), e.g. the longest first.

    Each yielded :class:`RunResult` carries an unjudged Trace (judge it with
    :func:`tcptrace_viz.scenarios.verdict.judge_run`) or the run's error; see the module
    docstring for the errors that are raised instead.  Closing the generator early (``break``,
    an exception in the caller) kills the workers still running.

    Example (the ``capture`` command's loop, rendering k while k+1... capture)::

        runs = [(get(name), values[name]) for name in names]
        for done in run_many(runs, family, jobs):
            if done.capture is None:
                print("verdict: ERROR", done.why)
                continue
            judge_run(done.capture.trace, done.scenario, done.params)
            ...render and write done.capture...
    """
    # Bad values are refused before anything runs.
    todo = [_Run(index, scenario, check_values(scenario, params))
            for index, (scenario, params) in enumerate(runs)]
    jobs = default_jobs() if jobs is None else max(jobs, 1)
    plan = plan_tracer()
    order = list(start_order) if start_order is not None else list(range(len(todo)))
    if sorted(order) != list(range(len(todo))):
        raise ValueError("start_order must name every run once")
    waiting = [todo[index] for index in reversed(order)]  # popped from the end
    running: list[_Run] = []  # forked, result not yet whole
    finishing: list[_Run] = []  # result whole, worker tearing down
    completed = False
    try:
        if waiting:
            _start(waiting.pop(), family, plan, timeout_s, running, sysctls)
            if beside_first is not None:
                beside_first()
            while_the_worker_runs(more_workers=bool(waiting))  # scapy for the later workers
            _start_more(waiting, running, jobs, lambda run: _start(
                run, family, plan, timeout_s, running, sysctls))
            if prepare is not None:
                prepare()
        remaining = list(todo)  # not yet yielded
        while remaining:
            # Keep ``jobs`` workers busy, also while the caller holds a result.
            _start_more(waiting, running, jobs, lambda run: _start(
                run, family, plan, timeout_s, running, sysctls))
            candidates = remaining if not ordered else remaining[:1]
            run = next((run for run in candidates if run.outcome is not None), None)
            if run is None:
                _wait(running, finishing, timeout_s)
                continue
            remaining.remove(run)
            result = _result(run, family)
            paused = time.monotonic()
            yield result
            held = time.monotonic() - paused  # the caller's time is not the workers' fault
            for other in running:
                other.deadline += held
        completed = True
    finally:
        for run in running + finishing:
            if completed and run.worker is not None:
                run.worker.finish()
            interrupts.release(run.key)


def _start_more(waiting: list[_Run], running: list[_Run], jobs: int,
                start: Callable[[_Run], None]) -> None:
    """Start the next waiting runs (popped from the end) while fewer than ``jobs`` hold a CPU.

    With ``jobs`` of 2 or more, a run that mostly waits for a kernel timer (its scenario's
    ``waits_s``) takes no CPU's place: up to :data:`IDLE_RUNS_MAX` of them run beside the
    others.  ``-j 1`` stays strictly one at a time."""
    def holds_cpu(run: _Run) -> bool:
        return jobs == 1 or not run.scenario.waits_s

    while waiting:
        idle = sum(1 for run in running if not holds_cpu(run))
        busy = len(running) - idle
        if not (busy < jobs if holds_cpu(waiting[-1]) else idle < IDLE_RUNS_MAX):
            return
        start(waiting.pop())


def _start(run: _Run, family: int, plan: TracerPlan, timeout_s: float, running: list[_Run],
           sysctls: Mapping[str, str] | None = None) -> None:
    run.started_at = time.time_ns()
    run.deadline = time.monotonic() + timeout_s
    run.worker, run.key = start_worker(run.scenario, family, plan, run.values, sysctls)
    running.append(run)


def _wait(running: list[_Run], finishing: list[_Run], timeout_s: float) -> None:
    """Wait for the next thing a worker does (its result, its end) or the next deadline."""
    watched = running + finishing
    timeout = max(min((run.deadline for run in running), default=time.monotonic() + 60)
                  - time.monotonic(), 0)
    workers = {run.worker.fileno(): run for run in watched if run.worker is not None}
    ready, _, _ = select.select(list(workers), [], [], timeout)
    for fd in ready:
        run = workers[fd]
        worker = run.worker
        assert worker is not None
        worker.feed()
        if run in running and worker.raw is not None:
            running.remove(run)
            raw = worker.raw
            if not raw["ok"] and raw["error_type"] == "PrivilegeError":
                raise PrivilegeError(raw["error"])
            run.outcome = raw
            finishing.append(run)
        if worker.eof:
            if run in running:  # ended without a result
                running.remove(run)
                failure = worker.failure()
                interrupts.release(run.key)
                if isinstance(failure, Interrupted):
                    raise failure
                run.outcome = failure
            else:
                finishing.remove(run)
                interrupts.release(run.key)  # reaps it, removes a leftover instance
    now = time.monotonic()
    for run in [run for run in running if run.deadline <= now]:
        running.remove(run)
        interrupts.release(run.key)  # kills it
        run.outcome = ScenarioError(f"the capture worker did not finish within "
                                    f"{timeout_s:g} s{BLOCKED}")


def _result(run: _Run, family: int) -> RunResult:
    """The RunResult of a run whose outcome is in (assembled here, in the parent)."""
    outcome = run.outcome
    if isinstance(outcome, Exception):
        return RunResult(run.index, run.scenario, run.values, None, outcome)
    assert outcome is not None
    try:
        from tcptrace_viz.capture.assembly import assemble  # imported while the first ran

        captured = assemble(run.scenario, family, outcome, run.started_at, run.values)
    except (PrivilegeError, Interrupted):
        raise
    except Exception as exc:  # the run's error, delivered in its place
        return RunResult(run.index, run.scenario, run.values, None, exc)
    return RunResult(run.index, run.scenario, run.values, captured)
