"""Packet comments for the pcapng file: the kernel's state changes and syscalls beside each packet.

Each state change and syscall result (as of the call's return) is written into the comment of
the last packet before it (or of the first packet, for what happened before any), so Wireshark
shows the kernel's view of the connection next to the segments that caused it.  An RST's
comment starts with the kernel's reason for sending it.
"""

from __future__ import annotations

import numpy as np

from tcptrace_viz.event_text import describe_state, describe_syscall
from tcptrace_viz.model import Trace


def packet_comments(trace: Trace) -> list[str]:
    """One comment per row of ``trace.packets`` (``""`` when nothing happened after it)."""
    count = len(trace.packets)
    if count == 0:
        return []
    lines: list[list[str]] = [[] for _ in range(count)]
    packet_ts = trace.packets["ts_ns"].to_numpy()
    calls = trace.syscalls
    returned = (calls["ts_ns"] + calls["duration_ns"].clip(lower=0)).to_numpy()
    for frame, at, describe, label in (
            (trace.states, trace.states["ts_ns"].to_numpy(), describe_state, "state"),
            (calls, returned, describe_syscall, "syscall")):  # a result: when the call returned
        if not len(frame):
            continue
        # Index of the last packet at or before each event; -1 -> attach to the first packet.
        slots = np.searchsorted(packet_ts, at, side="right") - 1
        for slot, row in zip(slots, frame.itertuples(index=False), strict=True):
            when = "before" if slot < 0 else "after"
            lines[max(int(slot), 0)].append(f"{when}: {row.side} {label} {describe(row)}")
    for slot, reason in enumerate(trace.packets["reason"]):
        if reason:
            lines[slot].insert(0, f"kernel reset reason: {reason}")
    for slot, reason in enumerate(trace.packets["drop"]):
        if reason:
            lines[slot].insert(0, f"lost: the receiving kernel dropped it ({reason})")
    return ["\n".join(entries) for entries in lines]
