"""The console summary a capture prints: the text ladder, then the verdict in full, what was
lost and what was written.  Lines are wrapped to the ladder's width, continuations indented
under the text they continue."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tcptrace_viz.render import RenderOptions, prepare, render
from tcptrace_viz.render.program_facts import is_program
from tcptrace_viz.render.text import WIDTH
from tcptrace_viz.render.wording import settings_text

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
    lines = [ladder.rstrip(), ""]
    if not is_program(meta):  # a program's ladder ends with how it ended and its findings
        lines.append(f"verdict: {verdict}")
    lines += [line for item in meta.expected for line in _item("  expected  ", item)]
    lines += [line for item in meta.observed for line in _item("  observed  ", item)]
    if meta.verdict_detail:
        label = "note" if meta.verdict == "pass" else "why"
        lines += _item(f"  {label}: ", str(meta.verdict_detail))
    stats = meta.stats
    losses = stats.get("losses", [f"{stats['dropped']:,} frames not captured: the packet ring "
                                  "was full"] if stats.get("dropped") else [])
    lines += [line for loss in losses
              for line in _item("  lost: ", f"{loss}; the packets shown are incomplete")]
    lines += [line for text in stats.get("dropped_on_purpose") or []
              for line in _item("  dropped: ", text)]
    packets, states = prepared.trace.packets, prepared.trace.states
    if not len(packets) and not len(states) and not stats.get("kernel_in_segs"):
        lines += _item("  capture: ", "no TCP segments and no TCP states (this scenario uses "
                       "no TCP socket)")
    else:
        lines += _item("  capture: ", f"{stats.get('tcp_segments', 0)} segments, "
                       f"{stats.get('lost', stats.get('dropped', 0))} lost; the kernel sent "
                       f"{stats.get('kernel_sent_segs', 0)}"
                       + (f" (and the scenario injected {stats['injected']})"
                          if stats.get("injected") else "")
                       + " and received "
                       f"{stats.get('kernel_in_segs', 0)}; states from {meta.state_source}"
                       + (f" ({meta.state_source_note})" if meta.state_source_note else ""))
    if settings_text(meta):
        lines += _item("  settings: ", settings_text(meta) + (
            " (in the run's namespace only)" if meta.sysctls_set else ""))
    lines += [line for note in meta.order_notes or []
              for line in _item("  out of causal order, as the kernel timestamped it: ", note)]
    lines += [f"  wrote {path}" for path in written]
    return "\n".join(lines) + "\n"


def _item(head: str, text: str) -> list[str]:
    """``head`` then ``text``, wrapped to ``WIDTH`` under the text's first column."""
    return textwrap.wrap(text, WIDTH, initial_indent=head, subsequent_indent=" " * len(head),
                         break_long_words=False, break_on_hyphens=False) or [head.rstrip()]
