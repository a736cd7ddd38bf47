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
from typing import TYPE_CHECKING, Any, Final

from tcptrace_viz.analysis.triage import Filters, matching, summary_line
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
TUNNEL_COLUMN: Final = ("tunnel", "via", False)
"""Added when any connection came through VLANs or a tunnel (its outer addresses)."""


def shown_columns(table: pd.DataFrame) -> tuple[tuple[str, str, bool], ...]:
    """:data:`COLUMNS`, and :data:`TUNNEL_COLUMN` when a connection of ``table`` has one."""
    has_tunnel = "tunnel" in table.columns and bool(table["tunnel"].fillna("").astype(bool).any())
    return (*COLUMNS, TUNNEL_COLUMN) if has_tunnel else COLUMNS
FLAGS: Final[tuple[tuple[str, str, Filters], ...]] = (
    ("rst", "reset", Filters(rst=True)), ("refused", "refused", Filters(refused=True)),
    ("incomplete", "never closed", Filters(incomplete=True)),
    ("retrans", "resent", Filters(retrans=True)),
)
"""The filter buttons: the flag a row carries, the button's words, the command line's filter."""


@dataclasses.dataclass(frozen=True)
class Cell:
    """One table cell: its text, and its sort key when that is not the text."""

    text: str
    sort: str = ""


@dataclasses.dataclass(frozen=True)
class ConnectionRow:
    """One connection's row."""

    conn: int
    """Its number (``--connection N``)."""
    cells: list[Cell]
    flags: str
    """The filter flags it matches, space-separated (``rst retrans``)."""
    drawn: bool
    """Its ladder is in this report."""


def _cell(name: str, value: object) -> Cell:
    if isinstance(value, float) and math.isnan(value):
        return Cell("")
    if name == "duration_s":
        seconds = float(value)  # type: ignore[arg-type]
        return Cell(duration_text(seconds), f"{seconds * 1e9:.0f}")  # sorted in nanoseconds
    return Cell(str(value))


def connection_rows(table: pd.DataFrame, drawn: set[int]) -> list[ConnectionRow]:
    """The rows of ``table`` (``analysis.connections()``), those in ``drawn`` marked."""
    masks = [(flag, matching(table, filters).to_numpy()) for flag, _, filters in FLAGS]
    columns = [name for name, _, _ in shown_columns(table)]
    values = {name: table[name].tolist() for name in columns}
    rows = []
    for index, conn in enumerate(values["conn"]):
        cells = [_cell(name, values[name][index]) for name in columns]
        flags = " ".join(flag for flag, mask in masks if mask[index])
        rows.append(ConnectionRow(int(conn), cells, flags, int(conn) in drawn))
    return rows


def capture_analysis(trace: Trace, selection: Selection, drawn: tuple[int, ...] = (),
                     why: str = "") -> dict[str, Any]:
    """What the report says about a user's capture: the summary, why this connection is drawn,
    the table's rows and filter buttons, and the drawn connection's findings."""
    from tcptrace_viz.analysis import connections, findings
    from tcptrace_viz.render.program_facts import call_findings, is_program

    table = connections(trace.packets)
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
    rows = connection_rows(table, marked)
    buttons = [(flag, words, sum(1 for row in rows if flag in row.flags.split()))
               for flag, words, _ in FLAGS]
    return {"columns": [(title, number) for _, title, number in shown_columns(table)],
            "rows": rows,
            "buttons": buttons, "findings": found, "shown": shown,
            "why": why or selection.why, "summary": summary_line(table),
            "above": len(rows) <= ABOVE_THE_LADDER, "file": str(trace.meta.file or "FILE")}
