"""A capture worker's raw result made into a Trace: decoded frames, kernel states, metadata.

The worker (see :mod:`tcptrace_viz.capture.session`) hands back frames, tracepoint events or
state samples, the socket table, the syscall log and the kernel's counters; :func:`assemble`
decodes, sorts and joins them on one clock.
"""

from __future__ import annotations

import dataclasses
import itertools
import platform
import time
from typing import Any, Protocol

import pandas as pd

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
from tcptrace_viz.capture.losses import account
from tcptrace_viz.capture.result import CaptureResult
from tcptrace_viz.capture.segment_drops import loss_sentences, segment_drops
from tcptrace_viz.errors import PrivilegeError, ScenarioError
from tcptrace_viz.kernel.sockettable import family_name
from tcptrace_viz.kernel.syscalls import SyscallRecord
from tcptrace_viz.kernel.sysctls import read_settings
from tcptrace_viz.meta import TraceMeta, Value
from tcptrace_viz.model import Trace
from tcptrace_viz.scenarios.registry import Scenario
from tcptrace_viz.vocabulary import endpoint


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


def import_assembly() -> None:
    """Import what :func:`assemble` needs (a worker's run is the time to do it)."""
    import numpy  # noqa: F401

    import tcptrace_viz.analysis
    import tcptrace_viz.capture.comments
    import tcptrace_viz.pcap  # noqa: F401


class Refine(Protocol):
    """How a run whose steps are not the tool's own (a user's program) finishes its Trace:
    given the packets and the state rows, it returns the state rows to keep (their sides
    set), the syscall records and the two lifelines' names."""

    def __call__(self, packets: pd.DataFrame, rows: list[dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], list[SyscallRecord], tuple[str, str]]: ...


def assemble(scenario: Scenario, family: int, raw: dict[str, Any], started_at: int,
             values: dict[str, Value], refine: Refine | None = None) -> CaptureResult:
    """The CaptureResult of a worker's result ``raw``; its error, raised, when it failed.

    ``refine``: see :class:`Refine`; with it, every address on the namespace's wire is the
    run's (a program chooses its own)."""
    if not raw["ok"]:
        error_class = PrivilegeError if raw["error_type"] == "PrivilegeError" else ScenarioError
        raise error_class(raw["error"])
    return _assemble(scenario, family, raw, raw["traced"], raw["tracer_problem"], started_at,
                     values, refine)


def _assemble(scenario: Scenario, family: int, raw: dict[str, Any], traced: Any,
              tracer_problem: str, started_at: int, values: dict[str, Value],
              refine: Refine | None) -> CaptureResult:
    from tcptrace_viz.analysis import annotate_packets
    from tcptrace_viz.capture.comments import packet_comments
    from tcptrace_viz.pcap import LINKTYPE_ETHERNET, decode_frames

    frames, ts_ns, backwards = time_order(raw["frames"], raw["ts_ns"])
    import numpy as np

    decoded = decode_frames(frames, np.asarray(ts_ns, dtype=np.int64), LINKTYPE_ETHERNET)
    packets = annotate_packets(decoded)
    hosts = set(raw["hosts"])
    if refine is not None:
        hosts |= {str(host) for host in (*packets["src"].unique(), *packets["dst"].unique())}
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
                            sent_resets, raw["server_port"], raw["table_ns"],
                            raw.get("tables") or ())
    packets["reason"] = pd.Series(packet_reasons(packets, sent_resets), dtype=object)
    counts = list(raw.get("lost_counts") or [0] * len(scenario.losses))
    drops = segment_drops(packets, traced.events if traced is not None else None,
                          scenario.losses, counts, [len(frame) for frame in frames])
    packets["drop"] = pd.Series(drops.reasons, dtype=object)
    raw_records, sides = raw["records"], scenario.sides
    if refine is not None:
        state_rows, raw_records, sides = refine(packets, state_rows)
    records = [dataclasses.asdict(record) for record in raw_records]
    counters = raw["counters"]
    stats = {
        "frames_kept": len(frames), "tcp_segments": len(packets),
        "kernel_packets": raw["kernel_packets"], "dropped": raw["kernel_drops"],
        "kernel_out_segs": counters.get("OutSegs", 0),
        "kernel_in_segs": counters.get("InSegs", 0),
        "kernel_retrans_segs": counters.get("RetransSegs", 0),
        # OutSegs leaves retransmissions out (RFC 1213): everything sent is the sum, except
        # that a retransmitted SYN-ACK counts in both (tcp_rtx_synack adds RetransSegs, and
        # tcp_make_synack OutSegs), so those the capture holds are taken off once.
        "kernel_sent_segs": (counters.get("OutSegs", 0) + counters.get("RetransSegs", 0)
                             - _resent_synacks(packets)),
        "tracer_overruns": traced.overruns if traced is not None else 0,
        "frames_reordered": backwards, "ring_mib": raw["ring_blocks"],
        "reader_priority": raw["reader_priority"],
    }
    # segments a scenario sent from a raw socket (ctx.inject): captured, never in OutSegs
    stats["injected"] = sum(1 for record in raw_records
                            if record.call == "inject" and not record.errno)
    account(stats, counters)
    stats["lost_on_purpose"] = drops.rule_lost
    stats["dropped_on_purpose"] = loss_sentences(scenario.losses, counts, drops)
    stats["kernel_drops"] = sum(1 for reason in drops.reasons if reason)
    meta = TraceMeta(
        source="capture", scenario=scenario.name, title=scenario.title,
        teaches=scenario.teaches, steps=scenario.steps, sides=sides,
        parameters=dict(values), endpoints=_endpoints(packets), family=family_name(family),
        facts=dict(raw["facts"]), kernel=platform.release(),
        sysctls=dict(raw.get("sysctls") or read_settings()),
        sysctls_set=dict(raw.get("sysctls_set") or {}),
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


def _resent_synacks(packets: pd.DataFrame) -> int:
    """How many captured SYN-ACKs repeat an earlier one of their connection (retransmissions)."""
    if not len(packets):
        return 0
    synacks = packets[packets["flags"] == "S."]
    return int(synacks.duplicated(["conn", "src", "sport", "seq"]).sum())


def _endpoints(packets: pd.DataFrame) -> dict[str, str]:
    """The client's and the server's address and port, from the first segment."""
    if not len(packets):
        return {}
    first = packets.iloc[0]
    client_first = first["dir"] != "s2c"
    ends = (endpoint(first["src"], first["sport"]), endpoint(first["dst"], first["dport"]))
    return {"client": ends[0 if client_first else 1], "server": ends[1 if client_first else 0]}
