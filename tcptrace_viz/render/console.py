"""The console summary a capture prints: the text ladder, then the verdict in full, what was
lost and what was written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tcptrace_viz.render import RenderOptions, prepare, render

if TYPE_CHECKING:
    from pathlib import Path

    from tcptrace_viz.model import Trace
    from tcptrace_viz.render.prepared import Prepared


def console_summary(trace: Trace | Prepared, written: Sequence[Path] = ()) -> str:
    """What ``capture`` and ``check`` print for one scenario, ending in a newline."""
    from tcptrace_viz.render.prepared import Prepared

    prepared = trace if isinstance(trace, Prepared) else prepare(trace)
    meta = prepared.trace.meta
    # The ladder without its one-line verdict: the fuller verdict follows it.
    ladder = render(prepared, "txt", RenderOptions(verdict=False))
    verdict = str(meta.verdict).upper() or "?"
    lines = [ladder.rstrip(), "", f"verdict: {verdict}"]
    lines += [f"  expected  {item}" for item in meta.expected]
    lines += [f"  observed  {item}" for item in meta.observed]
    if meta.verdict_detail:
        label = "note" if meta.verdict == "pass" else "why"
        lines.append(f"  {label}: {meta.verdict_detail}")
    stats = meta.stats
    losses = stats.get("losses", [f"{stats['dropped']:,} frames not captured: the packet ring "
                                  "was full"] if stats.get("dropped") else [])
    lines += [f"  lost: {loss}; the packets shown are incomplete" for loss in losses]
    packets, states = prepared.trace.packets, prepared.trace.states
    if not len(packets) and not len(states) and not stats.get("kernel_in_segs"):
        lines.append("  capture: no TCP segments and no TCP states (this scenario uses no TCP "
                     "socket)")
    else:
        lines.append(f"  capture: {stats.get('tcp_segments', 0)} segments, "
                     f"{stats.get('lost', stats.get('dropped', 0))} lost; the kernel sent "
                     f"{stats.get('kernel_sent_segs', 0)} and received "
                     f"{stats.get('kernel_in_segs', 0)}; states from {meta.state_source}"
                     + (f" ({meta.state_source_note})" if meta.state_source_note
                        else ""))
    lines += [f"  out of causal order, as the kernel timestamped it: {note}"
              for note in meta.order_notes or []]
    lines += [f"  wrote {path}" for path in written]
    return "\n".join(lines) + "\n"
