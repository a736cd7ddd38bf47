"""The triage of a user's capture in the text formats: its summary line, which connection is
drawn and why, its connection table (capped, and said so) and the findings of the connection
drawn, so a ticket's Markdown or text report says what the HTML report says about a capture of
many connections."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from tcptrace_viz.render.safe_text import printable
from tcptrace_viz.render.text_columns import wrap_text

if TYPE_CHECKING:
    import pandas as pd

    from tcptrace_viz.analysis.findings import Finding
    from tcptrace_viz.model import Trace
    from tcptrace_viz.render.options import RenderOptions
    from tcptrace_viz.render.prepared import Prepared

WIDTH: Final = 100
"""The text report's width (as the ladder's)."""
TABLE_ROWS: Final = 30
"""Connections listed at most in a text or Markdown report (``connections`` lists all)."""


def triage_lines(prepared: Prepared, fmt: str, options: RenderOptions | None = None) -> list[str]:
    """The lines (``fmt`` ``md`` or ``txt``) heading the report of a user's capture; none for
    a scenario's.  ``options`` name the further connections drawn and why the first is."""
    trace = prepared.trace
    if trace.meta.source != "file" or not len(trace.packets):
        return []
    from tcptrace_viz.analysis.connection_table import capture_connections
    from tcptrace_viz.analysis.triage import summary_line, telling_first

    table = capture_connections(trace)
    shown = prepared.selection.connection
    conn = shown if shown is not None else int(table["conn"].iloc[0])
    more = [int(extra.selection.connection or 0) for extra, _ in options.more] if options \
        else []
    listed = telling_first(table, TABLE_ROWS, {conn, *more})
    why = (options.why if options else "") or prepared.selection.why
    drawn = _drawn_sentence(conn, why, more, len(table))
    if options and options.more_note:
        drawn += f" {options.more_note[0].upper()}{options.more_note[1:]}."
    cap = (f"{len(listed):,} of {len(table):,} connections listed (those drawn, then resets, "
           "refusals and the like before ordinary ones); `tcptrace-viz connections FILE` lists "
           "them all" if len(listed) < len(table) else "")
    if fmt == "md":
        return _markdown(listed, summary_line(table), drawn, cap, trace, conn)
    # the terminal's report stays within its width: one wrapped sentence per connection
    out = [*wrap_text(printable(summary_line(table)) + ".", WIDTH)]
    if drawn:
        out += wrap_text(printable(drawn), WIDTH)
    out.append("")
    for row in listed.to_dict("records"):
        out += wrap_text(f"#{row['conn']} {printable(row['summary'])}", WIDTH, indent="    ")
    if cap:
        out += wrap_text(cap + ".", WIDTH)
    out += ["", f"Findings for connection {conn}:", *findings_lines(trace, conn, "txt")]
    return [*out, "", ""]


def _drawn_sentence(conn: int, why: str, more: list[int], total: int) -> str:
    """``Drawn: connection 3, because it was refused; then 7 and 9.``"""
    if total < 2:
        return ""
    sentence = f"Drawn: connection {conn}" + (f", because {why}" if why else "")
    if more:
        sentence += "; then " + ", ".join(str(c) for c in more)
    return sentence + "."


def _markdown(listed: pd.DataFrame, summary: str, drawn: str, cap: str, trace: Trace,
              conn: int) -> list[str]:
    from tcptrace_viz.render.connection_list import connection_list

    listing = connection_list(listed, summary, "md", len(listed)).rstrip("\n").split("\n")
    out = ["## Connections", "", listing[0], ""]
    if drawn:
        out += [_md(drawn), ""]
    out += listing[2:]
    if cap:
        out += ["", _md(cap) + "."]
    return [*out, "", f"## Findings for connection {conn}", "",
            *findings_lines(trace, conn, "md"), ""]


def _md(text: str) -> str:
    """A sentence of ours for Markdown: its backquoted command stays code, the rest escaped."""
    from tcptrace_viz.render.markdown import md_text

    parts = text.split("`")
    return "".join(f"`{part}`" if i % 2 else md_text(part) for i, part in enumerate(parts))


def findings_lines(trace: Trace, conn: int, fmt: str) -> list[str]:
    """The findings for connection ``conn`` as list items (``md``) or indented lines."""
    from tcptrace_viz.analysis.findings import findings

    found = findings(trace.packets, conn)
    if fmt == "md":
        from tcptrace_viz.render.markdown import md_text

        return [f"- {md_text(_finding(item))}" for item in found] or ["- nothing unusual"]
    out = []
    for item in found:
        out += wrap_text(f"  - {_finding(item)}", WIDTH, indent="    ")
    return out or ["  - nothing unusual"]


def _finding(item: Finding) -> str:
    """A finding's text, and its frame unless the text names it."""
    text = printable(item.text)
    return text if "frame" in text else f"{text} (frame {item.frame})"
