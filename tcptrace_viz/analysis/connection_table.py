"""``connections``: one summary row per connection."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from tcptrace_viz.analysis.closing import close_facts
from tcptrace_viz.analysis.connection_arrays import ensure_annotated
from tcptrace_viz.analysis.counters import retransmitted, zero_window
from tcptrace_viz.analysis.fields import in_time_order
from tcptrace_viz.analysis.frame_memo import last_frame_memo
from tcptrace_viz.vocabulary import counted, duration_text, endpoint

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace

#: Columns of ``connections()``, with their dtypes.
CONNECTION_COLUMNS: Final[dict[str, str]] = {
    "conn": "int64", "client": "object", "server": "object", "first_ts_ns": "int64",
    "last_ts_ns": "int64", "duration_s": "float64", "packets": "int64", "bytes_c2s": "int64",
    "bytes_s2c": "int64", "handshake": "bool", "closed_by": "object", "close_kind": "object",
    "rst_from": "object", "refused": "bool", "unanswered": "bool", "retransmissions": "int64",
    "zero_window": "int64",
    "summary": "object",
    "tunnel": "object",  # VLAN ids / tunnel of the connection's first segment ("" for none)
}


def format_duration(seconds: float) -> str:
    """``200 µs``, ``35 µs``, ``1.5 s``: three significant digits in a readable unit (the
    ``duration_s`` column written for people, in the summaries and the report's table)."""
    return duration_text(seconds)



def summarise(row: Mapping[Hashable, Any]) -> str:
    """One plain sentence about a ``connections()`` row (a dict or a Series)."""
    if row["handshake"]:
        text = f"{row['client']} connected to {row['server']}"
    else:
        text = f"{row['client']} talked to {row['server']} (the capture starts mid-connection)"
    kind, by, rst_from = row["close_kind"], row["closed_by"], row["rst_from"]
    if row["refused"]:
        text = f"{row['client']} tried to connect to {row['server']}, which refused it with RST"
    elif row["unanswered"]:
        text = (f"{row['client']} sent a SYN to {row['server']} that nothing answered in the "
                "capture")
    elif kind == "simultaneous":
        text += "; both sides closed at once (their FINs crossed)"
    elif kind == "FIN":
        text += f"; the {by} closed first with FIN"
    elif kind == "RST":
        text += f"; the {by} reset it (RST instead of FIN)"
    else:
        text += "; it was still open when the capture ended"
    if kind in ("FIN", "simultaneous") and rst_from:
        text += "; then " + ("both sides" if rst_from == "both" else f"the {rst_from}") \
            + " sent RST"
    text += (f"; {counted(int(row['packets']), 'packet')}, {row['bytes_c2s']} bytes to the "
             f"server and {row['bytes_s2c']} back, over {format_duration(row['duration_s'])}")
    extras = []
    if row["retransmissions"]:
        extras.append(counted(int(row["retransmissions"]), "retransmission"))
    if row["zero_window"]:
        extras.append(counted(int(row["zero_window"]), "zero-window segment"))
    if extras:
        text += " (" + ", ".join(extras) + ")"
    return text + "."


def connections(packets: pd.DataFrame) -> pd.DataFrame:
    """One row per connection, ordered by ``conn``; columns as in ``CONNECTION_COLUMNS``.

    Inside :func:`~tcptrace_viz.analysis.frame_memo.remembering` (the ``report``,
    ``connections`` and ``diff`` commands) the table of the frame last asked about is kept,
    so asking again about the same frame costs nothing.

    ``closed_by`` names who closed first (``both`` when the FINs crossed, ``""`` when nobody
    did); ``close_kind`` is ``FIN``, ``RST``, ``simultaneous`` or ``open``; ``rst_from`` names
    who sent any RST; ``retransmissions`` counts segments resent with the same sequence number
    and length; ``bytes_*`` add up payload on the wire, retransmissions included.
    """
    return _table(packets).copy()


def capture_connections(trace: Trace) -> pd.DataFrame:
    """Every connection of the capture ``trace`` was read from: :func:`connections` of its
    packets, or the whole capture's table when the trace holds only some (``trace.whole``)."""
    whole = trace.whole
    return whole.connections.copy() if whole is not None else connections(trace.packets)


@last_frame_memo
def _table(packets: pd.DataFrame) -> pd.DataFrame:
    packets = ensure_annotated(packets)
    if not len(packets):
        return pd.DataFrame({name: pd.Series(dtype=dtype)
                             for name, dtype in CONNECTION_COLUMNS.items()})
    rows = in_time_order(packets)
    c2s = rows["dir"].to_numpy(dtype=object) != "s2c"
    length = rows["len"].to_numpy(dtype=np.int64)
    work = pd.DataFrame({
        "conn": rows["conn"].to_numpy(dtype=np.int64),
        "ts": rows["ts_ns"].to_numpy(dtype=np.int64),
        "bytes_c2s": np.where(c2s, length, 0), "bytes_s2c": np.where(c2s, 0, length),
        "retransmissions": retransmitted(rows).astype(np.int64),
        "zero_window": zero_window(rows).astype(np.int64),
    }, copy=False)  # columns as they are: no stacked copy
    grouped = work.groupby("conn", sort=True)
    table = grouped[["bytes_c2s", "bytes_s2c", "retransmissions", "zero_window"]].sum()
    table["first_ts_ns"] = grouped["ts"].min()
    table["last_ts_ns"] = grouped["ts"].max()
    table["packets"] = grouped.size()
    table["duration_s"] = (table["last_ts_ns"] - table["first_ts_ns"]) / 1e9

    first = rows.groupby("conn", sort=True).head(1).set_index("conn")
    here = [endpoint(str(a), int(p)) for a, p in zip(first["src"], first["sport"], strict=True)]
    there = [endpoint(str(a), int(p)) for a, p in zip(first["dst"], first["dport"], strict=True)]
    first_c2s = (first["dir"] != "s2c").to_numpy()
    table["client"] = np.where(first_c2s, here, there).astype(object)
    table["server"] = np.where(first_c2s, there, here).astype(object)
    table["tunnel"] = (first["tunnel"].fillna("").astype(object) if "tunnel" in first.columns
                       else "")

    facts = close_facts(rows)
    table = table.join(facts[["handshake", "closed_by", "close_kind", "rst_from", "refused",
                              "unanswered"]])
    table["summary"] = [summarise(row) for row in table.to_dict("records")]  # not iterrows:
    # a Series per row costs ~70 us, a minute and more on a capture of a million connections
    table = table.reset_index()
    out = table[list(CONNECTION_COLUMNS)]
    return out.astype(CONNECTION_COLUMNS)
