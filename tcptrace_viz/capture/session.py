"""One capture run: a scenario in its own namespace, sniffed, traced and logged, into a Trace.

The calling process keeps the parts that outlive a namespace (the tracefs instance, the result)
and forks a worker that moves into a fresh network namespace, starts the sniffer and runs the
scenario's steps.  The worker sends its raw results back through a pipe and exits; its namespace
goes with it.  Whatever ends the run (success, error, Ctrl-C, SIGTERM), the worker is killed and
reaped and the tracefs instance removed.

What costs time here is mostly waiting for the kernel (RCU grace periods when a tracefs
instance is created or removed and when a packet socket closes) and importing scapy, so the
two processes overlap: the parent creates the tracefs instance and imports what it needs next
while the worker imports scapy and sets up its namespace and sniffer; the worker sends its
result before it removes its socket and the instance, while the parent
assembles the Trace.  :mod:`tcptrace_viz.capture.batch` runs several workers at once.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import select
import signal
import socket
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from tcptrace_viz import interrupts
from tcptrace_viz.capture.result import CaptureResult
from tcptrace_viz.capture.tracefs import (
    KernelTracer,
    instance_name,
    sweep_stale_instances,
    tracefs_root,
)
from tcptrace_viz.capture.worker_process import (
    RESULT_LENGTH,
    SAMPLING,
    TRACING,
    TracerPlan,
    worker_main,
)
from tcptrace_viz.errors import Interrupted, ScenarioError, TcptraceVizError
from tcptrace_viz.kernel.process import fork_sharing_heap
from tcptrace_viz.meta import Value
from tcptrace_viz.scenarios.params import check_values
from tcptrace_viz.scenarios.registry import Scenario

if TYPE_CHECKING:
    pass

WORKER_TIMEOUT_S = 120.0
BLOCKED: Final = ("; it was stopped there: a step waited on something that never came (a recv() "
                  "with no data on its way, an accept() nobody connects to); wait with ctx.poll, "
                  "ctx.wait_fin or ctx.wait_readable, which give up in time")
"""What a run that outlived its time most likely did, and the way out."""
FINISH_TIMEOUT_S = 10.0
"""How long a worker that sent its result may take to remove its socket and instance."""
_instances = itertools.count()
_runs = {"started": 0}


def plan_tracer() -> TracerPlan:
    """Find (or mount) tracefs and sweep instances left by dead runs; once per batch of runs."""
    root = tracefs_root()
    if root is None:
        return TracerPlan(None, "tracefs is not available (not root, or not mounted and "
                                "cannot be mounted)")
    sweep_stale_instances(root)
    return TracerPlan(root)


class CaptureWorker:
    """The forked worker process, killed and reaped on every way out.

    The parent reads its result with :meth:`feed` (whenever :meth:`fileno` is readable) or
    :meth:`result`; once the result is whole the worker tears down its namespace and tracefs
    instance, and :meth:`finish` waits for that.  :meth:`close` is the way out on errors and
    interrupts: it kills and reaps the worker and removes its tracefs instance if it is left.
    """

    def __init__(self, scenario: Scenario, family: int, plan: TracerPlan,
                 params: dict[str, Value], sysctls: Mapping[str, str] | None = None) -> None:
        """Fork the worker (call with signals held: see :func:`interrupts.deferred`)."""
        reader, writer = os.pipe()
        go_reader, go_writer = os.pipe()
        parent = os.getpid()
        number = next(_instances)
        self.pid = fork_sharing_heap()
        if self.pid == 0:  # pragma: no cover - child
            try:  # never return into the parent's code, whatever happens
                interrupts.reset_in_child(signal.default_int_handler)
                os.close(reader)
                os.close(go_writer)
                worker_main(scenario, family, writer, go_reader, plan,
                            instance_name(parent, number), parent, params, dict(sysctls or {}))
            finally:
                os._exit(130)
        os.close(writer)
        os.close(go_reader)
        self.reader = reader
        self.reaped = False
        self.status = 0
        self.tracer: KernelTracer | None = None
        """The run's tracefs instance, to remove should the worker die before it does."""
        self.tracer_problem = plan.problem
        """Why the run has no tracer ("" when it has one)."""
        self._chunks: list[bytes] = []
        self._have = 0
        self._need = -1
        self.raw: dict[str, Any] | None = None
        """The worker's result, once it is whole."""
        self.eof = False
        try:
            if plan.root is not None:  # while the worker sets up its namespace and sniffer
                self.tracer = KernelTracer(plan.root, instance_name(parent, number))
                try:
                    self.tracer.start()
                except OSError as exc:
                    self.tracer = None  # start() removed what it made
                    self.tracer_problem = f"cannot create a tracefs instance: {exc.strerror}"
            with contextlib.suppress(BrokenPipeError):  # the worker died: its result says so
                os.write(go_writer, TRACING if self.tracer is not None else SAMPLING)
        except BaseException:
            self.close()  # not registered anywhere yet
            raise
        finally:
            os.close(go_writer)

    def fileno(self) -> int:
        """The result pipe (for ``select``)."""
        return self.reader

    def feed(self) -> None:
        """Read what the pipe holds (call when it is readable); sets ``raw`` and ``eof``."""
        chunk = os.read(self.reader, 1 << 20)
        if not chunk:
            self.eof = True
            return
        if self.raw is not None:
            return  # nothing follows a result; end of file comes next
        self._chunks.append(chunk)
        self._have += len(chunk)
        if self._need < 0 and self._have >= RESULT_LENGTH.size:
            data = b"".join(self._chunks)
            self._need = RESULT_LENGTH.size + RESULT_LENGTH.unpack_from(data)[0]
            self._chunks = [data]
        if 0 <= self._need <= self._have:
            data = b"".join(self._chunks)
            self._chunks = []
            raw = pickle.loads(data[RESULT_LENGTH.size:self._need])
            if raw.get("parent_stops_tracer") and self.tracer is not None:
                raw["traced"] = self.tracer.stop()
            raw["tracer_problem"] = self.tracer_problem
            self.raw = raw

    def failure(self) -> TcptraceVizError:
        """Why a worker that ended without a result did (call after end of file)."""
        self._reap()
        if os.WIFEXITED(self.status) and os.WEXITSTATUS(self.status) == 130:
            return Interrupted("interrupted")
        return ScenarioError("the capture worker died without a result "
                             f"(wait status {self.status})")

    def result(self, timeout_s: float | None) -> dict[str, Any]:
        """Wait up to ``timeout_s`` (None: for as long as it takes) for the whole result."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.raw is None:
            if self.eof:
                raise self.failure()
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0)
            ready, _, _ = select.select([self.reader], [], [], remaining)
            if not ready:
                raise ScenarioError(f"the capture worker did not finish within "
                                    f"{timeout_s:.0f} s{BLOCKED}")
            self.feed()
        return self.raw

    def finish(self, timeout_s: float = FINISH_TIMEOUT_S) -> None:
        """After the result: wait (at most ``timeout_s``) for the worker to tear down, reap it."""
        deadline = time.monotonic() + timeout_s
        while not self.eof and not self.reaped:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.reader], [], [], remaining)[0]:
                break
            self.feed()
        self.close()

    def _reap(self) -> None:
        if not self.reaped:
            with contextlib.suppress(ChildProcessError):
                _, self.status = os.waitpid(self.pid, 0)
            self.reaped = True

    def close(self) -> None:
        """Kill and reap the worker unless it has been reaped, then remove its tracefs
        instance if it is left (idempotent)."""
        with contextlib.suppress(OSError):
            os.close(self.reader)
        if not self.reaped:
            if not self.eof:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            self._reap()
        if self.tracer is not None:
            with contextlib.suppress(OSError):
                self.tracer.close()
            self.tracer = None


def start_worker(scenario: Scenario, family: int, plan: TracerPlan,
                 values: dict[str, Value],
                 sysctls: Mapping[str, str] | None = None) -> tuple[CaptureWorker, int]:
    """Fork a run's worker, registered with :mod:`tcptrace_viz.interrupts`: (worker, key);
    ``sysctls`` are set in its namespace before the scenario runs.

    Hand the key to :func:`interrupts.release` (which kills what is left) once done with it.
    """
    with interrupts.deferred():
        worker = CaptureWorker(scenario, family, plan, values, sysctls)
        return worker, interrupts.keep(worker.close)


def while_the_worker_runs(more_workers: bool = True) -> None:
    """The parent's own preparations, done beside its first worker: scapy, when
    ``more_workers`` will be forked (they inherit it instead of each importing it), and what
    :func:`~tcptrace_viz.capture.assembly.assemble` needs."""
    if more_workers:
        from tcptrace_viz.capture.sniffer import preload_scapy

        preload_scapy()
    from tcptrace_viz.capture.assembly import import_assembly  # pandas, numpy: heavy

    import_assembly()


def run_capture(scenario: Scenario, family: int = socket.AF_INET,
                params: Mapping[str, Value] | None = None,
                sysctls: Mapping[str, str] | None = None) -> CaptureResult:
    """Run ``scenario`` once and return its Trace, not yet judged (see
    :func:`tcptrace_viz.scenarios.verdict.judge_run`).

    ``params``: parsed parameter values (see :func:`tcptrace_viz.scenarios.params.resolve_all`);
    the scenario's defaults fill in the rest.  ``sysctls``: per-namespace settings for the
    run's namespace (checked with :func:`tcptrace_viz.kernel.sysctls.check_settings`).  The
    worker (which owns the tracefs instance) is registered with :mod:`tcptrace_viz.interrupts`
    the moment it exists, so it and its instance go even when a signal skips the ``finally``
    below.  Several runs at once:
    :func:`tcptrace_viz.capture.batch.run_many`.
    """
    from tcptrace_viz.capture.sniffer import preload_scapy

    values = check_values(scenario, params)
    plan = plan_tracer()
    if _runs["started"]:
        # The first run's worker imports scapy itself, beside the parent's own work (the tracer,
        # the imports for assembling); importing it here too would only slow the worker's
        # import.  Later runs' workers inherit it from here.
        preload_scapy()
    _runs["started"] += 1
    started_at = time.time_ns()
    worker, key = start_worker(scenario, family, plan, values, sysctls)
    try:
        from tcptrace_viz.capture.assembly import assemble, import_assembly

        import_assembly()  # while the worker sets up
        raw = worker.result(WORKER_TIMEOUT_S)
        captured = assemble(scenario, family, raw, started_at, values)
        worker.finish()
    finally:
        interrupts.release(key)
    return captured


