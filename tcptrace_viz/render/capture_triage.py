"""The triage of a user's capture in the text formats: its summary line, its connection table
(capped) and the findings of the connection drawn, so a ticket's Markdown or text report says
what the HTML report says about a capture of many connections."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from tcptrace_viz.render.safe_text import printable
from tcptrace_viz.render.text_columns import wrap_text

if TYPE_CHECKING:
    from tcptrace_viz.analysis.findings import Finding
    from tcptrace_viz.render.prepared import Prepared

WIDTH: Final = 100
"""The text report's width (as the ladder's)."""
TABLE_ROWS: Final = 30
"""Connections listed at most in a text or Markdown report (``connections`` lists all)."""


def triage_lines(prepared: Prepared, fmt: str) -> list[str]:
    """The lines (``fmt`` ``md`` or ``txt``) heading the report of a user's capture; none for
    a scenario's."""
    trace = prepared.trace
    if trace.meta.source != "file" or not len(trace.packets):
        return []
    from tcptrace_viz.analysis.connection_table import connections
    from tcptrace_viz.analysis.findings import findings
    from tcptrace_viz.analysis.triage import summary_line
    from tcptrace_viz.render.connection_list import connection_list

    table = connections(trace.packets)
    shown = prepared.selection.connection
    conn = shown if shown is not None else int(table["conn"].iloc[0])
    found = findings(trace.packets, conn)
    if fmt == "md":
        listing = connection_list(table, summary_line(table), fmt, TABLE_ROWS).rstrip("\n")
        out = ["## Connections", "", *listing.split("\n"), "", f"## Findings for connection "
               f"{conn}", ""]
        out += [f"- {_finding(item)}" for item in found] or [
            "- nothing unusual"]
        return [*out, ""]
    # the terminal's report stays within its width: one wrapped sentence per connection
    out = [*wrap_text(printable(summary_line(table)) + ".", WIDTH)]
    for row in table.head(TABLE_ROWS).to_dict("records"):
        out += wrap_text(f"#{row['conn']} {printable(row['summary'])}", WIDTH, indent="    ")
    if len(table) > TABLE_ROWS:
        out.append(f"{len(table) - TABLE_ROWS:,} more: `tcptrace-viz connections FILE` lists "
                   "them all")
    out += ["", f"Findings for connection {conn}:"]
    for item in found:
        out += wrap_text(f"  - {_finding(item)}", WIDTH, indent="    ")
    if not found:
        out.append("  - nothing unusual")
    return [*out, "", ""]


def _finding(item: Finding) -> str:
    """A finding's text, and its frame unless the text names it."""
    text = printable(item.text)
    return text if "frame" in text else f"{text} (frame {item.frame})"
