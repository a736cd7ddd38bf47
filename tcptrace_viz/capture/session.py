"""One capture run: a scenario in its own namespace, sniffed, traced and logged, into a Trace.

The calling process keeps the parts that outlive a namespace (the tracefs instance, the result)
and forks a worker that moves into a fresh network namespace, starts the sniffer and runs the
scenario's steps.  The worker sends its raw results back through a pipe and exits; its namespace
goes with it.  Whatever ends the run (success, error, Ctrl-C, SIGTERM), the worker is killed and
reaped and the tracefs instance removed.
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
import time
import traceback
from collections.abc import Mapping
from typing import Any

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
from tcptrace_viz.capture.tracefs import KernelTracer, sweep_stale_instances, tracefs_root
from tcptrace_viz.errors import Interrupted, PrivilegeError, ScenarioError, TcptraceVizError
from tcptrace_viz.kernel import netns
from tcptrace_viz.kernel.process import die_with_parent
from tcptrace_viz.kernel.sockettable import family_name, read_socket_table
from tcptrace_viz.meta import TraceMeta, Value
from tcptrace_viz.model import Trace
from tcptrace_viz.scenarios.context import ScenarioContext
from tcptrace_viz.scenarios.params import check_values
from tcptrace_viz.scenarios.registry import Scenario
from tcptrace_viz.vocabulary import endpoint

SYSCTLS = (
    "net/ipv4/tcp_fin_timeout", "net/ipv4/tcp_orphan_retries", "net/ipv4/tcp_rfc1337",
    "net/ipv4/tcp_abort_on_overflow", "net/ipv4/tcp_timestamps", "net/ipv4/tcp_sack",
    "net/ipv4/tcp_window_scaling", "net/ipv4/tcp_rmem", "net/ipv4/tcp_wmem",
    "net/ipv4/tcp_max_tw_buckets",
)
WORKER_TIMEOUT_S = 120.0


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


def _worker(scenario: Scenario, family: int, writer: int, sample_states: bool,
            parent: int, params: dict[str, Value]) -> None:  # pragma: no cover - forked child
    """The forked half: namespace, sniffer, scenario; results pickled into ``writer``.

    ``sample_states``: no tracer is running, so the states are sampled after each call.
    """
    result: dict[str, Any]
    try:
        die_with_parent(parent)
        mode = netns.enter_private_netns()
        netns.setup_loopback()
        netns.keep_ipv6_addresses_on_down()
        client_host, server_host = netns.run_addresses(family, os.getpid())
        if family == socket.AF_INET6:
            netns.add_ipv6_address(server_host)
        context = ScenarioContext(scenario.name, family, client_host, server_host,
                                  sample_states=sample_states, params=params)
        from tcptrace_viz.capture.sniffer import LoopbackSniffer

        burst = scenario.burst_bytes(params) if scenario.burst_bytes is not None else 0
        before = _counters()
        sniffer = LoopbackSniffer(blocks=blocks_for(burst) if burst else MIN_BLOCKS)
        sniffer.start()
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
        result = {
            "ok": True, "error": error, "mode": mode, "hosts": sorted({client_host, server_host}),
            "server_port": context.server_port, "frames": sniffed.frames,
            "ts_ns": sniffed.ts_ns, "kernel_packets": sniffed.kernel_packets,
            "kernel_drops": sniffed.kernel_drops, "ring_blocks": sniffed.ring_blocks,
            "clock": sniffed.clock, "reader_priority": sniffed.reader_priority,
            "table": table, "table_ns": table_ns,
            "end_ns": end_ns, "records": context.log.records, "samples": context.log.sampled,
            "counters": {key: after[key] - before.get(key, 0) for key in after},
            "facts": context.facts,
        }
    except KeyboardInterrupt:
        os._exit(130)
    except TcptraceVizError as exc:
        result = {"ok": False, "error_type": type(exc).__name__, "error": exc.message}
    except BaseException as exc:
        result = {"ok": False, "error_type": "ScenarioError",
                  "error": f"scenario {scenario.name} crashed: {exc!r}",
                  "traceback": traceback.format_exc()}
    data = pickle.dumps(result)
    with os.fdopen(writer, "wb") as stream:
        stream.write(data)
    os._exit(0)


class _Worker:
    """The forked worker process, killed and reaped on every way out."""

    def __init__(self, scenario: Scenario, family: int, sample_states: bool,
                 params: dict[str, Value]) -> None:
        """Fork the worker (call with signals held: see :func:`interrupts.deferred`)."""
        reader, writer = os.pipe()
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - child
            try:  # never return into the parent's code, whatever happens
                interrupts.reset_in_child(signal.default_int_handler)
                os.close(reader)
                _worker(scenario, family, writer, sample_states, parent, params)
            finally:
                os._exit(130)
        os.close(writer)
        self.reader = reader
        self.reaped = False

    def result(self, timeout_s: float) -> dict[str, Any]:
        chunks = []
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.reader], [], [], max(remaining, 0))
            if not ready:
                raise ScenarioError(f"the capture worker did not finish within {timeout_s:.0f} s")
            chunk = os.read(self.reader, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        _, status = os.waitpid(self.pid, 0)
        self.reaped = True
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130:
            raise Interrupted("interrupted")
        if not chunks:
            raise ScenarioError("the capture worker died without a result "
                                f"(wait status {status})")
        result: dict[str, Any] = pickle.loads(b"".join(chunks))
        return result

    def close(self) -> None:
        """Kill and reap the worker unless it has been reaped (idempotent)."""
        with contextlib.suppress(OSError):
            os.close(self.reader)
        if not self.reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.reaped = True


def _start_tracer() -> tuple[KernelTracer | None, str]:
    root = tracefs_root()
    if root is None:
        return None, "tracefs is not available (not root, or not mounted and cannot be mounted)"
    sweep_stale_instances(root)
    tracer = KernelTracer(root)
    try:
        tracer.start()
    except OSError as exc:
        return None, f"cannot create a tracefs instance: {exc.strerror}"
    return tracer, ""


def run_capture(scenario: Scenario, family: int = socket.AF_INET,
                params: Mapping[str, Value] | None = None) -> CaptureResult:
    """Run ``scenario`` once and return its Trace, not yet judged (see
    :func:`tcptrace_viz.scenarios.verdict.judge_run`).

    ``params``: parsed parameter values (see :func:`tcptrace_viz.scenarios.params.resolve_all`);
    the scenario's defaults fill in the rest.  The tracefs instance and the worker are
    registered with :mod:`tcptrace_viz.interrupts` the moment they exist, so they go even when
    a signal skips the ``finally`` below.
    """
    from tcptrace_viz.capture.sniffer import preload_scapy

    values = check_values(scenario, params)
    preload_scapy()
    held: list[int] = []
    try:
        with interrupts.deferred():
            tracer, tracer_problem = _start_tracer()
            if tracer is not None:
                held.append(interrupts.keep(tracer.close))
        started_at = time.time_ns()
        with interrupts.deferred():
            worker = _Worker(scenario, family, sample_states=tracer is None, params=values)
            held.append(interrupts.keep(worker.close))
        raw = worker.result(WORKER_TIMEOUT_S)
        traced = tracer.stop() if tracer is not None else None
    finally:
        while held:
            interrupts.release(held.pop())
    if not raw["ok"]:
        error_class = PrivilegeError if raw["error_type"] == "PrivilegeError" else ScenarioError
        raise error_class(raw["error"])
    return _assemble(scenario, family, raw, traced, tracer_problem, started_at, values)


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
    stats = {
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
    }
    account(stats, counters)
    meta = TraceMeta(
        source="capture", scenario=scenario.name, title=scenario.title,
        teaches=scenario.teaches, steps=scenario.steps, sides=scenario.sides,
        parameters=dict(values), endpoints=_endpoints(packets), family=family_name(family),
        facts=dict(raw["facts"]), kernel=platform.release(), sysctls=read_sysctls(),
        tool_version=__version__,
        captured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at / 1e9)),
        namespace=raw["mode"],
        clocks={"packets": raw["clock"],
                "states": (f"tracefs {traced.clock} clock, aligned to CLOCK_REALTIME"
                           if traced is not None else "sampled after each call")},
        state_source=state_source, state_source_note=tracer_problem, stats=stats,
        error=raw["error"])
    syscalls = pd.DataFrame(records)
    states = settle_states(state_rows, packets, syscalls)
    trace = Trace.build(packets=packets, states=states, syscalls=syscalls, meta=meta)
    trace.meta.order_notes = order_violations(trace)
    trace.packets["comment"] = pd.Series(packet_comments(trace), dtype=object)
    trace.meta = trace.meta.normalised()
    return CaptureResult(trace, frames, ts_ns)


def _endpoints(packets: pd.DataFrame) -> dict[str, str]:
    """The client's and the server's address and port, from the first segment."""
    if not len(packets):
        return {}
    first = packets.iloc[0]
    client_first = first["dir"] != "s2c"
    ends = (endpoint(first["src"], first["sport"]), endpoint(first["dst"], first["dport"]))
    return {"client": ends[0 if client_first else 1], "server": ends[1 if client_first else 0]}
