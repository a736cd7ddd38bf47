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
import dataclasses
import itertools
import os
import pickle
import platform
import select
import signal
import socket
import struct
import threading
import time
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from tcptrace_viz import interrupts
from tcptrace_viz._version import __version__
from tcptrace_viz.analysis.causality import order_violations
from tcptrace_viz.capture.kernel_states import (
    SentReset,
    follow_timewait_sockets,
    packet_reasons,
    settle_states,
    states_from_events,
    states_from_samples,
)
from tcptrace_viz.capture.losses import account, drop_counters
from tcptrace_viz.capture.ring import MIN_BLOCKS, blocks_for
from tcptrace_viz.capture.tracefs import (
    KernelTracer,
    instance_name,
    sweep_stale_instances,
    tracefs_root,
)
from tcptrace_viz.errors import Interrupted, PrivilegeError, ScenarioError, TcptraceVizError
from tcptrace_viz.kernel import netns
from tcptrace_viz.kernel.process import die_with_parent
from tcptrace_viz.kernel.sockettable import family_name, read_socket_table
from tcptrace_viz.model import Trace, normalise_meta
from tcptrace_viz.scenarios.context import ScenarioContext
from tcptrace_viz.scenarios.params import Value, check_values
from tcptrace_viz.scenarios.registry import Scenario

if TYPE_CHECKING:
    from tcptrace_viz.capture.sniffer import LoopbackSniffer as Sniffer

SYSCTLS = (
    "net/ipv4/tcp_fin_timeout", "net/ipv4/tcp_orphan_retries", "net/ipv4/tcp_rfc1337",
    "net/ipv4/tcp_abort_on_overflow", "net/ipv4/tcp_timestamps", "net/ipv4/tcp_sack",
    "net/ipv4/tcp_window_scaling", "net/ipv4/tcp_rmem", "net/ipv4/tcp_wmem",
    "net/ipv4/tcp_max_tw_buckets",
)
WORKER_TIMEOUT_S = 120.0
FINISH_TIMEOUT_S = 10.0
"""How long a worker that sent its result may take to remove its socket and instance."""
RESULT_LENGTH = struct.Struct("=Q")
GO_TIMEOUT_S = 10.0
"""How long a worker waits for its parent to start the kernel tracer."""
TRACING, SAMPLING = b"T", b"S"
"""What the parent tells a worker before it runs its scenario."""
_instances = itertools.count()
_runs = {"started": 0}


@dataclasses.dataclass
class CaptureResult:
    """A finished run: the Trace plus the raw frames for the pcapng file."""

    trace: Trace
    frames: list[bytes]
    frame_ts_ns: list[int]


def read_sysctls() -> dict[str, str]:
    """The TCP settings that change how a close behaves, as the kernel reports them."""
    values = {}
    for name in SYSCTLS:
        try:
            with open(f"/proc/sys/{name}", encoding="ascii") as handle:
                values[name.replace("/", ".")] = " ".join(handle.read().split())
        except OSError:
            continue
    return values


def _counters() -> dict[str, int]:
    """The namespace's TCP segment counters and drop counters, read inside it."""
    return {**netns.tcp_counters(), **drop_counters()}


def time_order(frames: list[bytes], ts_ns: list[int]) -> tuple[list[bytes], list[int], int]:
    """Frames stably sorted by timestamp, and how many came earlier than the frame before.

    Why timestamps go backwards in ring order: with two CPUs sending (data on one, ACKs on
    the other), each CPU's softirq delivers its own lo backlog to the packet socket
    concurrently.  Each takes the frame's timestamp (CLOCK_REALTIME, in ``tpacket_rcv``)
    before it takes the socket's queue lock that hands out the next place in the ring, so
    the CPU that stamped first can be the second to get its place: the ring holds frames in
    per-socket arrival order, with timestamps out of order by microseconds.  Sorting
    by timestamp restores the order frames entered lo; the sort is stable, so frames with equal
    timestamps (of one flow direction, queued on one CPU) keep their ring order.
    """
    backwards = sum(1 for before, after in itertools.pairwise(ts_ns)
                    if after < before)
    if not backwards:
        return frames, ts_ns, 0
    order = sorted(range(len(ts_ns)), key=ts_ns.__getitem__)
    return [frames[i] for i in order], [ts_ns[i] for i in order], backwards


@dataclasses.dataclass
class TracerPlan:
    """How a run's worker traces the kernel: in which tracefs, or why it samples instead."""

    root: str | None
    """Where tracefs is mounted; None: no tracer, states are sampled after each call."""
    problem: str = ""
    """Why there is no tracer (the report says so)."""


def plan_tracer() -> TracerPlan:
    """Find (or mount) tracefs and sweep instances left by dead runs; once per batch of runs."""
    root = tracefs_root()
    if root is None:
        return TracerPlan(None, "tracefs is not available (not root, or not mounted and "
                                "cannot be mounted)")
    sweep_stale_instances(root)
    return TracerPlan(root)


def _send(writer: int, result: dict[str, Any]) -> None:
    """The result, length first: the parent knows it is whole before this process exits."""
    data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(RESULT_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(writer, view):]


def _worker(scenario: Scenario, family: int, writer: int, go: int, plan: TracerPlan,
            instance: str, parent: int,
            params: dict[str, Value]) -> None:  # pragma: no cover - forked child
    """The forked half: namespace, tracer, sniffer, scenario; results pickled into ``writer``.

    The parent creates the tracefs instance ``instance`` (when ``plan`` has a root) while this
    process sets up its namespace and sniffer, and says on ``go`` whether it records
    (:data:`TRACING`) or the states must be sampled (:data:`SAMPLING`); the scenario starts
    after that.  The result is sent before the sniffer's socket and the instance are removed,
    so the parent assembles the Trace meanwhile; it reaps this process afterwards and removes
    the instance itself should this process die first.
    """
    result: dict[str, Any]
    sniffer: Sniffer | None = None
    tracer: KernelTracer | None = None
    own_tracer = True  # False once this process has given up its parent's privileges
    try:
        try:
            die_with_parent(parent)
            # Imported while this process is still its parent's user (a run without root
            # becomes another one in its user namespace); at once if the parent preloaded it.
            from tcptrace_viz.capture.sniffer import LoopbackSniffer, preload_scapy

            preload_scapy()
            mode = netns.enter_private_netns()
            # A worker that became another user (the parent is root, the worker not) cannot
            # stop or remove the instance its parent made: the parent does it.
            own_tracer = mode == "netns"
            netns.setup_loopback()
            netns.keep_ipv6_addresses_on_down()
            client_host, server_host = netns.run_addresses(family, os.getpid())
            if family == socket.AF_INET6:
                netns.add_ipv6_address(server_host)
            burst = scenario.burst_bytes(params) if scenario.burst_bytes is not None else 0
            before = _counters()
            sniffer = LoopbackSniffer(blocks=blocks_for(burst) if burst else MIN_BLOCKS)
            sniffer.start()
            if not select.select([go], [], [], GO_TIMEOUT_S)[0]:
                raise ScenarioError("the kernel tracer did not start within "
                                    f"{GO_TIMEOUT_S:.0f} s")
            if os.read(go, 1) == TRACING and plan.root is not None:
                tracer = KernelTracer(plan.root, instance)
            context = ScenarioContext(scenario.name, family, client_host, server_host,
                                      sample_states=tracer is None, params=params)
            error = ""
            try:
                scenario.run(context)
            except ScenarioError as exc:
                error = exc.message
            table = read_socket_table()
            table_ns = time.time_ns()
            # The capture and the counters end at the same cut (see LoopbackSniffer.stop).
            sniffed, after = sniffer.stop(_counters)
            end_ns = time.time_ns()
            context.cleanup()
            traced = tracer.stop() if tracer is not None and own_tracer else None
            result = {
                "ok": True, "error": error, "mode": mode,
                "hosts": sorted({client_host, server_host}),
                "server_port": context.server_port, "frames": sniffed.frames,
                "ts_ns": sniffed.ts_ns, "kernel_packets": sniffed.kernel_packets,
                "kernel_drops": sniffed.kernel_drops, "ring_blocks": sniffed.ring_blocks,
                "clock": sniffed.clock, "reader_priority": sniffed.reader_priority,
                "table": table, "table_ns": table_ns,
                "end_ns": end_ns, "records": context.log.records, "samples": context.log.sampled,
                "counters": {key: after[key] - before.get(key, 0) for key in after},
                "meta": context.meta, "traced": traced,
                "parent_stops_tracer": tracer is not None and not own_tracer,
            }
        except KeyboardInterrupt:
            os._exit(130)  # the parent removes the instance
        except TcptraceVizError as exc:
            result = {"ok": False, "error_type": type(exc).__name__, "error": exc.message}
        except BaseException as exc:
            result = {"ok": False, "error_type": "ScenarioError",
                      "error": f"scenario {scenario.name} crashed: {exc!r}",
                      "traceback": traceback.format_exc()}
        _send(writer, result)
    finally:
        # After the result, while the parent assembles it.  Both wait for RCU grace periods
        # (synchronize_net, the instance's events): side by side, they share them.
        removing = None
        if tracer is not None and own_tracer:
            removing = threading.Thread(target=tracer.close, name="tracer-close", daemon=True)
            removing.start()
        if sniffer is not None:
            sniffer.close()
        if removing is not None:
            removing.join()
        os.close(writer)  # end of file: the parent reaps this process
    os._exit(0)


class CaptureWorker:
    """The forked worker process, killed and reaped on every way out.

    The parent reads its result with :meth:`feed` (whenever :meth:`fileno` is readable) or
    :meth:`result`; once the result is whole the worker tears down its namespace and tracefs
    instance, and :meth:`finish` waits for that.  :meth:`close` is the way out on errors and
    interrupts: it kills and reaps the worker and removes its tracefs instance if it is left.
    """

    def __init__(self, scenario: Scenario, family: int, plan: TracerPlan,
                 params: dict[str, Value]) -> None:
        """Fork the worker (call with signals held: see :func:`interrupts.deferred`)."""
        reader, writer = os.pipe()
        go_reader, go_writer = os.pipe()
        parent = os.getpid()
        number = next(_instances)
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - child
            try:  # never return into the parent's code, whatever happens
                interrupts.reset_in_child(signal.default_int_handler)
                os.close(reader)
                os.close(go_writer)
                _worker(scenario, family, writer, go_reader, plan, instance_name(parent, number),
                        parent, params)
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

    def result(self, timeout_s: float) -> dict[str, Any]:
        """Wait up to ``timeout_s`` for the whole result."""
        deadline = time.monotonic() + timeout_s
        while self.raw is None:
            if self.eof:
                raise self.failure()
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.reader], [], [], max(remaining, 0))
            if not ready:
                raise ScenarioError(f"the capture worker did not finish within {timeout_s:.0f} s")
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
                 values: dict[str, Value]) -> tuple[CaptureWorker, int]:
    """Fork a run's worker, registered with :mod:`tcptrace_viz.interrupts`: (worker, key).

    Hand the key to :func:`interrupts.release` (which kills what is left) once done with it.
    """
    with interrupts.deferred():
        worker = CaptureWorker(scenario, family, plan, values)
        return worker, interrupts.keep(worker.close)


def while_the_worker_runs() -> None:
    """The parent's own preparations, done beside its first worker: scapy (so that the workers
    forked after this one inherit it instead of each importing it) and what :func:`assemble`
    needs."""
    from tcptrace_viz.capture.sniffer import preload_scapy

    preload_scapy()
    import_assembly()


def import_assembly() -> None:
    """Import what :func:`assemble` needs (a worker's run is the time to do it)."""
    import numpy  # noqa: F401

    import tcptrace_viz.analysis
    import tcptrace_viz.capture.comments
    import tcptrace_viz.pcap  # noqa: F401


def assemble(scenario: Scenario, family: int, raw: dict[str, Any], started_at: int,
             values: dict[str, Value]) -> CaptureResult:
    """The CaptureResult of a worker's result ``raw``; its error, raised, when it failed."""
    if not raw["ok"]:
        error_class = PrivilegeError if raw["error_type"] == "PrivilegeError" else ScenarioError
        raise error_class(raw["error"])
    return _assemble(scenario, family, raw, raw["traced"], raw["tracer_problem"], started_at,
                     values)


def run_capture(scenario: Scenario, family: int = socket.AF_INET,
                params: Mapping[str, Value] | None = None) -> CaptureResult:
    """Run ``scenario`` once and return its Trace, not yet judged (see
    :func:`tcptrace_viz.scenarios.verdict.judge_run`).

    ``params``: parsed parameter values (see :func:`tcptrace_viz.scenarios.params.resolve_all`);
    the scenario's defaults fill in the rest.  The worker (which owns the tracefs instance) is
    registered with :mod:`tcptrace_viz.interrupts` the moment it exists, so it and its instance
    go even when a signal skips the ``finally`` below.  Several runs at once:
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
    worker, key = start_worker(scenario, family, plan, values)
    try:
        import_assembly()  # while the worker sets up
        raw = worker.result(WORKER_TIMEOUT_S)
        captured = assemble(scenario, family, raw, started_at, values)
        worker.finish()
    finally:
        interrupts.release(key)
    return captured


def _assemble(scenario: Scenario, family: int, raw: dict[str, Any], traced: Any,
              tracer_problem: str, started_at: int, values: dict[str, Value]) -> CaptureResult:
    from tcptrace_viz.analysis import annotate_packets
    from tcptrace_viz.capture.comments import packet_comments
    from tcptrace_viz.pcap import LINKTYPE_ETHERNET, decode_frames

    frames, ts_ns, backwards = time_order(raw["frames"], raw["ts_ns"])
    import numpy as np

    decoded = decode_frames(frames, np.asarray(ts_ns, dtype=np.int64), LINKTYPE_ETHERNET)
    packets = annotate_packets(decoded)
    hosts = set(raw["hosts"])
    sent_resets: list[SentReset] = []
    if traced is not None:
        state_rows, sent_resets = states_from_events(traced.events, hosts, raw["server_port"],
                                                     raw["end_ns"])
        state_source = "tracepoint"
    else:
        state_rows = states_from_samples(raw["samples"])
        state_source = "sampled"
    follow_timewait_sockets(state_rows, packets,
                            [entry for entry in raw["table"]
                             if entry.local.rsplit(":", 1)[0].strip("[]") in hosts],
                            sent_resets, raw["server_port"], raw["table_ns"])
    packets["reason"] = pd.Series(packet_reasons(packets, sent_resets), dtype=object)
    records = [dataclasses.asdict(record) for record in raw["records"]]
    counters = raw["counters"]
    meta: dict[str, Any] = {
        "scenario": scenario.name, "title": scenario.title, "teaches": scenario.teaches,
        "steps": scenario.steps, "family": family_name(family), "kernel": platform.release(),
        "sysctls": read_sysctls(), "tool_version": __version__,
        "captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at / 1e9)),
        "sides": list(scenario.sides), "source": "capture", "state_source": state_source,
        "state_source_note": tracer_problem, "namespace": raw["mode"],
        "parameters": values,
        "clocks": {"packets": raw["clock"],
                   "states": (f"tracefs {traced.clock} clock, aligned to CLOCK_REALTIME"
                              if traced is not None else "sampled after each call")},
        "stats": {
            "frames_kept": len(frames), "tcp_segments": len(packets),
            "kernel_packets": raw["kernel_packets"], "dropped": raw["kernel_drops"],
            "kernel_out_segs": counters.get("OutSegs", 0),
            "kernel_in_segs": counters.get("InSegs", 0),
            "kernel_retrans_segs": counters.get("RetransSegs", 0),
            # OutSegs leaves retransmissions out (RFC 1213): everything sent is the sum.
            "kernel_sent_segs": counters.get("OutSegs", 0) + counters.get("RetransSegs", 0),
            "tracer_overruns": traced.overruns if traced is not None else 0,
            "frames_reordered": backwards, "ring_mib": raw["ring_blocks"],
            "reader_priority": raw["reader_priority"],
        },
        "error": raw["error"],
    }
    if len(packets):
        first = packets.iloc[0]
        client_first = first["dir"] != "s2c"
        endpoints = (f"{first['src']}:{first['sport']}", f"{first['dst']}:{first['dport']}")
        meta["endpoints"] = {"client": endpoints[0 if client_first else 1],
                             "server": endpoints[1 if client_first else 0]}
    account(meta["stats"], counters)
    meta.update(raw["meta"])
    syscalls = pd.DataFrame(records)
    states = settle_states(state_rows, packets, syscalls)
    trace = Trace.build(packets=packets, states=states, syscalls=syscalls, meta=meta)
    trace.meta["order_notes"] = order_violations(trace)
    trace.packets["comment"] = pd.Series(packet_comments(trace), dtype=object)
    trace.meta = normalise_meta(trace.meta)
    return CaptureResult(trace, frames, ts_ns)
