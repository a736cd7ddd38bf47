"""The connection table of a capture for the terminal and for tools: text, CSV, JSON, Markdown.

``tcptrace-viz connections FILE`` prints it: the summary line first (``1,512 connections:
1,498 closed with FIN, 9 reset, 5 refused, 3 never closed``), then one row per connection kept
by the filters.  Text and Markdown are capped (``--limit``) and say so; CSV and JSON hold every
row kept, for a spreadsheet or ``jq``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from tcptrace_viz.render.safe_text import printable
from tcptrace_viz.vocabulary import duration_text

if TYPE_CHECKING:
    import pandas as pd

LIST_FORMATS: Final = ("txt", "csv", "json", "md")
COLUMNS: Final = (("conn", "#"), ("client", "client"), ("server", "server"),
                  ("packets", "packets"), ("duration_s", "duration"),
                  ("close_kind", "closed with"), ("closed_by", "closed first by"),
                  ("rst_from", "RST from"), ("refused", "refused"),
                  ("retransmissions", "resent"), ("bytes_c2s", "bytes c→s"),
                  ("bytes_s2c", "bytes s→c"))
"""The columns listed, with their headings (CSV and JSON use the names)."""
TUNNEL: Final = ("tunnel", "via")
"""VLAN ids / tunnel and outer addresses: always in CSV and JSON, in text and Markdown when a
connection has one."""


def _cell(name: str, value: object) -> str:
    if name == "duration_s":
        return duration_text(float(value))  # type: ignore[arg-type]
    if name == "refused":
        return "yes" if value else ""
    return printable(str(value))


def connection_list(table: pd.DataFrame, summary: str, fmt: str, limit: int = 200,
                    heading: str = "") -> str:
    """``table`` (rows of ``connections()``, already filtered) as ``fmt``, after ``summary``
    (and ``heading``: what the filters kept); text and Markdown list at most ``limit`` rows."""
    every = (*COLUMNS, TUNNEL)  # the machine formats always carry every column
    tunnels = [str(text or "") for text in table["tunnel"].tolist()] if "tunnel" in table \
        else [""] * len(table)
    if fmt in ("json", "csv"):  # every row: one at a time from the columns, not a dict each
        names = [name for name, _ in every] + ["summary"]
        values = [tunnels if name == "tunnel" else table[name].tolist() for name in names]
        rows = zip(*values, strict=True)
        return _json(rows, names, summary, heading) if fmt == "json" else _csv(rows, names)
    records = table.head(limit).to_dict("records")
    for row, tunnel in zip(records, tunnels, strict=False):
        row["tunnel"] = tunnel
    if not records:
        return "\n".join([printable(summary) + "."] + ([printable(heading) + "."] if heading
                                                       else [])) + "\n"
    columns = every if any(tunnels) else COLUMNS
    cells = [[_cell(name, row[name]) for name, _ in columns] for row in records]
    more = (f"{len(table) - limit:,} more not listed (--limit N, or --format csv for all)"
            if len(table) > limit else "")
    lines = [printable(summary) + "."]
    if heading:
        lines.append(printable(heading))
    if fmt == "md":
        lines += ["", "| " + " | ".join(title for _, title in columns) + " |",
                  "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                  for row in cells]
    else:
        widths = [max([len(title)] + [len(row[i]) for row in cells])
                  for i, (_, title) in enumerate(columns)]
        lines.append("")
        lines.append("  ".join(title.ljust(w) for (_, title), w in zip(columns, widths,
                                                                         strict=True)).rstrip())
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                  for row in cells]
    if more:
        lines += ["", more]
    return "\n".join(lines) + "\n"


def _csv(rows: Iterable[tuple[object, ...]], names: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(rows)
    return out.getvalue()


def _json(rows: Iterable[tuple[object, ...]], names: list[str], summary: str,
          heading: str) -> str:
    """The document ``json.dumps(..., indent=1)`` would make of every row as a dict, written a
    row at a time (a capture of 200,000 connections made 200,000 dicts first)."""
    out = io.StringIO()
    out.write(json.dumps({"summary": summary, "shown": heading}, indent=1)[:-2])
    out.write(',\n "connections": [')
    number = -1
    for number, row in enumerate(rows):
        record = dict(zip(names, row, strict=True))
        record["refused"] = bool(record["refused"])
        text = json.dumps(record, indent=1, default=str).replace("\n", "\n  ")
        out.write(("," if number else "") + "\n  " + text)
    out.write("\n ]\n}\n" if number >= 0 else "]\n}\n")
    return out.getvalue()
