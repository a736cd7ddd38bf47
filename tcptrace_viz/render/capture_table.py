"""The connection table of a user's capture in the HTML report: its rows, sort keys and flags.

A capture of 1,500 connections must not push the ladder 1,500 rows down: the report shows the
summary and the drawn connection's findings above the ladder and this table in a bounded
scrolling box below it.  Each row carries what the page's script needs to sort it
(``data-sort`` where the text is not the value: durations) and to filter it by the same flags
as the command line (``data-flags``: ``rst refused incomplete retrans``, as ``--rst`` ...).
Without the script the table is still a plain readable table.
"""

from __future__ import annotations

import dataclasses
import math
from html import escape
from typing import TYPE_CHECKING, Any, Final

from tcptrace_viz.analysis.triage import Filters, matching, summary_line, telling_first
from tcptrace_viz.vocabulary import duration_text

if TYPE_CHECKING:
    import pandas as pd

    from tcptrace_viz.analysis.selection import Selection
    from tcptrace_viz.model import Trace

ABOVE_THE_LADDER: Final = 20
"""A capture with at most this many connections lists them above the ladder (the table is
short); with more, the table goes below the ladder, in its scrolling box."""
COLUMNS: Final[tuple[tuple[str, str, bool], ...]] = (
    ("conn", "#", True), ("client", "client", False), ("server", "server", False),
    ("packets", "packets", True), ("duration_s", "duration", True),
    ("close_kind", "closed with", False), ("closed_by", "first to close", False),
    ("rst_from", "RST from", False), ("retransmissions", "resent", True),
    ("bytes_c2s", "bytes c→s", True), ("bytes_s2c", "bytes s→c", True),
)
"""Columns of ``analysis.connections()`` shown, their headings, and whether they are numbers
(sorted by value, largest first on the first click)."""
HTML_TABLE_ROWS: Final = 25_000
"""The HTML lists at most this many connections (those drawn, then the telling ones): a page
of a hundred thousand rows is too slow to sort and filter in a browser."""
TUNNEL_COLUMN: Final = ("tunnel", "via", False)
"""Added when any connection came through VLANs or a tunnel (its outer addresses)."""


def shown_columns(table: pd.DataFrame) -> tuple[tuple[str, str, bool], ...]:
    """:data:`COLUMNS`, and :data:`TUNNEL_COLUMN` when a connection of ``table`` has one."""
    has_tunnel = "tunnel" in table.columns and bool(table["tunnel"].fillna("").astype(bool).any())
    return (*COLUMNS, TUNNEL_COLUMN) if has_tunnel else COLUMNS
FLAGS: Final[tuple[tuple[str, str, Filters], ...]] = (
    ("rst", "with an RST", Filters(rst=True)), ("refused", "refused", Filters(refused=True)),
    ("incomplete", "never closed", Filters(incomplete=True)),
    ("retrans", "resent", Filters(retrans=True)),
)
"""The filter buttons: the flag a row carries, the button's words, the command line's filter."""


@dataclasses.dataclass(frozen=True)
class ConnectionRows:
    """The table's rows, as markup ready for the page, and what the buttons count."""

    count: int
    """Rows in the table."""
    flag_counts: dict[str, int]
    """How many rows carry each filter flag (``rst``: 9)."""
    html: str
    """The ``<tr>`` rows: every value escaped; the drawn rows marked ``current`` with a link
    to their ladder (``#connection-N``)."""


def _cell(name: str, value: object) -> str:
    """One ``<td>``; a duration carries its sort key (nanoseconds) in ``data-sort``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "<td></td>"
    if name == "duration_s":
        seconds = float(value)  # type: ignore[arg-type]
        return f'<td data-sort="{seconds * 1e9:.0f}">{escape(duration_text(seconds))}</td>'
    return f"<td>{escape(str(value))}</td>"


def connection_rows(table: pd.DataFrame, drawn: set[int]) -> ConnectionRows:
    """The rows of ``table`` (``analysis.connections()``), those in ``drawn`` marked.

    Built as text in one pass rather than cell by cell in the template: a capture of 20,000
    connections has 200,000 cells."""
    masks = [(flag, matching(table, filters).to_numpy()) for flag, _, filters in FLAGS]
    columns = [name for name, _, _ in shown_columns(table)][1:]  # "conn" is the first cell
    values = [table[name].tolist() for name in columns]
    lines = []
    for index, conn in enumerate(table["conn"].tolist()):
        flags = " ".join(flag for flag, mask in masks if mask[index])
        first = (f'<a href="#connection-{conn}" title="drawn in this report">&#9654; {conn}</a>'
                 if conn in drawn else str(conn))
        cells = "".join(_cell(name, column[index]) for name, column in zip(columns, values,
                                                                            strict=True))
        lines.append(f'<tr data-conn="{conn}"' + (f' data-flags="{flags}"' if flags else "")
                     + (' class="current"' if conn in drawn else "")
                     + f"><td>{first}</td>{cells}</tr>")
    counts = {flag: int(mask.sum()) for flag, mask in masks}
    return ConnectionRows(len(lines), counts, "\n".join(lines))


def capture_analysis(trace: Trace, selection: Selection, drawn: tuple[int, ...] = (),
                     why: str = "") -> dict[str, Any]:
    """What the report says about a user's capture: the summary, why this connection is drawn,
    the table's rows and filter buttons, and the drawn connection's findings."""
    from tcptrace_viz.analysis import findings
    from tcptrace_viz.analysis.connection_table import capture_connections
    from tcptrace_viz.render.program_facts import call_findings, is_program

    table = capture_connections(trace)
    conn_ids = [int(c) for c in table["conn"]]
    shown = selection.connection if selection.connection is not None else (
        conn_ids[0] if conn_ids else None)
    frame_to_ref = {int(f): f"p{i}" for i, f in enumerate(selection.trace.packets["frame"])
                    if int(f) > 0}
    found = []
    if shown is not None:
        for item in findings(trace.packets, shown):
            frame = int(item.frame)
            found.append({"kind": item.kind, "text": item.text, "frame": frame or "",
                          "ref": frame_to_ref.get(frame, "")})
    if is_program(trace.meta):
        found += [{"kind": "call", "text": text, "frame": "", "ref": ""}
                  for text in call_findings(trace)]
    marked = {*drawn, *([shown] if shown is not None else [])}
    listed = telling_first(table, HTML_TABLE_ROWS, marked)
    rows = connection_rows(listed, marked)
    capped = (f"{len(listed):,} of {len(table):,} connections are listed: those drawn, then "
              "resets, refusals and the like before ordinary ones;" if len(listed) < len(table)
              else "")  # the template adds the command that lists them all
    buttons = [(flag, words, rows.flag_counts[flag]) for flag, words, _ in FLAGS]
    return {"columns": [(title, number) for _, title, number in shown_columns(table)],
            "rows": rows,
            "buttons": buttons, "findings": found, "shown": shown,
            "why": why or selection.why, "summary": summary_line(table, trace.meta.frames_total),
            "above": rows.count <= ABOVE_THE_LADDER, "file": str(trace.meta.file or "FILE"),
            "total": len(table), "capped": capped}
