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
    records = table.to_dict("records")
    for row in records:
        row["tunnel"] = str(row.get("tunnel") or "")
    every = (*COLUMNS, TUNNEL)  # the machine formats always carry every column
    if fmt == "json":
        rows = [{name: (bool(row[name]) if name == "refused" else row[name])
                 for name, _ in every} | {"summary": row["summary"]} for row in records]
        return json.dumps({"summary": summary, "shown": heading, "connections": rows},
                          indent=1, default=str) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([name for name, _ in every] + ["summary"])
        for row in records:
            writer.writerow([row[name] for name, _ in every] + [row["summary"]])
        return out.getvalue()
    if not records:
        return "\n".join([printable(summary) + "."] + ([printable(heading) + "."] if heading
                                                       else [])) + "\n"
    shown = records[:limit]
    columns = every if any(row["tunnel"] for row in records) else COLUMNS
    cells = [[_cell(name, row[name]) for name, _ in columns] for row in shown]
    more = (f"{len(records) - limit:,} more not listed (--limit N, or --format csv for all)"
            if len(records) > limit else "")
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
