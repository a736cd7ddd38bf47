"""How each connection ended: who closed first, with FIN or RST, and whether FINs crossed.

One vectorised pass over all connections; ``connections()`` and ``findings()`` both read it, so
the table and the plain-word findings never disagree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcptrace_viz.analysis.connection_arrays import ensure_annotated
from tcptrace_viz.analysis.fields import flag_bits, in_time_order
from tcptrace_viz.analysis.frame_memo import last_frame_memo
from tcptrace_viz.arrays import Bool
from tcptrace_viz.tcp import TH_ACK, TH_FIN, TH_RST, TH_SYN

_NEVER = np.iinfo(np.int64).max


def _first(rows: pd.DataFrame, mask: Bool, conns: pd.Index, prefix: str) -> pd.DataFrame:
    """The first row per connection among ``rows[mask]``: its ts, frame, end and ack."""
    chosen = rows[mask].groupby("conn", sort=True).first()
    out = pd.DataFrame(index=conns)
    # fill_value keeps int64: a float round trip would turn the int64-max sentinel negative
    for column, name, missing in (("ts_ns", "ts", _NEVER), ("frame", "frame", 0),
                                  ("end", "end", 0), ("acks", "acks", -1)):
        values = chosen[column].reindex(conns, fill_value=missing).astype(np.int64)
        out[f"{prefix}_{name}"] = values.to_numpy()
    return out


def close_facts(packets: pd.DataFrame) -> pd.DataFrame:
    """One row per connection (indexed by ``conn``) describing how it ended (see
    :func:`_close_facts`); computed once per frame (:mod:`frame_memo`)."""
    return _close_facts(packets).copy()


@last_frame_memo
def _close_facts(packets: pd.DataFrame) -> pd.DataFrame:
    """One row per connection (indexed by ``conn``) describing how it ended.

    Columns: ``{fin,rst,synack}_{client,server}_{ts,frame}`` (ts is int64 max when absent),
    ``handshake``, ``crossed`` (FINs crossed), ``closed_by`` (``client``/``server``/``both``/
    ``""``), ``close_kind`` (``FIN``/``RST``/``simultaneous``/``open``), ``rst_from``,
    ``refused`` (the client's SYN answered by RST, no SYN-ACK), ``unanswered`` (a SYN and
    nothing back in the capture).
    """
    packets = ensure_annotated(packets)
    rows = in_time_order(packets)
    bits = flag_bits(rows)
    frame = (rows["frame"].to_numpy(dtype=np.int64) if "frame" in rows.columns
             else np.zeros(len(rows), dtype=np.int64))
    length = rows["len"].to_numpy(dtype=np.int64)
    work = pd.DataFrame({
        "conn": rows["conn"].to_numpy(dtype=np.int64),
        "ts_ns": rows["ts_ns"].to_numpy(dtype=np.int64), "frame": frame,
        # the acknowledgment number that covers the segment, SYN and FIN counting one
        "end": rows["rel_seq"].to_numpy(dtype=np.int64) + length
        + ((bits & TH_SYN) != 0) + ((bits & TH_FIN) != 0),
        "acks": np.where((bits & TH_ACK) != 0, rows["rel_ack"].to_numpy(dtype=np.int64), -1),
    }, copy=False)  # columns as they are: no stacked copy
    conns = pd.Index(np.unique(work["conn"].to_numpy()), name="conn")
    c2s = rows["dir"].to_numpy(dtype=object) != "s2c"
    fin, rst = (bits & TH_FIN) != 0, (bits & TH_RST) != 0
    syn, ack = (bits & TH_SYN) != 0, (bits & TH_ACK) != 0
    parts = [_first(work, mask, conns, prefix) for mask, prefix in (
        (fin & c2s, "fin_client"), (fin & ~c2s, "fin_server"), (rst & c2s, "rst_client"),
        (rst & ~c2s, "rst_server"), (syn & ack & ~c2s, "synack_server"),
        (syn & ~ack & c2s, "syn_client"))]
    facts = pd.concat(parts, axis=1)
    facts = facts.drop(columns=[c for c in facts.columns
                                if c.startswith(("rst_", "synack_", "syn_"))
                                and c.endswith(("_end", "_acks"))])
    _classify(facts)
    return facts


def _classify(facts: pd.DataFrame) -> None:
    """Add the verdict columns to ``close_facts``' per-connection table."""
    def has(prefix: str) -> Bool:
        return np.asarray(facts[f"{prefix}_ts"].to_numpy() != _NEVER, dtype=bool)

    fin_c, fin_s, rst_c, rst_s = has("fin_client"), has("fin_server"), has("rst_client"), \
        has("rst_server")
    client_fin_first = facts["fin_client_ts"].to_numpy() <= facts["fin_server_ts"].to_numpy()
    # The later FIN crossed the earlier one when it does not acknowledge it.
    later_acks = np.where(client_fin_first, facts["fin_server_acks"], facts["fin_client_acks"])
    earlier_end = np.where(client_fin_first, facts["fin_client_end"], facts["fin_server_end"])
    crossed = fin_c & fin_s & (later_acks < earlier_end)

    times = np.stack([facts[f"{name}_ts"].to_numpy() for name in
                      ("fin_client", "fin_server", "rst_client", "rst_server")])
    frames = np.stack([facts[f"{name}_frame"].to_numpy() for name in
                       ("fin_client", "fin_server", "rst_client", "rst_server")])
    first = np.lexsort((frames, times), axis=0)[0]
    closed = fin_c | fin_s | rst_c | rst_s
    first_side = np.where(first % 2 == 0, "client", "server")
    first_kind = np.where(first < 2, "FIN", "RST")
    facts["handshake"] = has("syn_client")
    facts["crossed"] = crossed
    facts["closed_by"] = np.where(crossed, "both", np.where(closed, first_side, "")).astype(object)
    facts["close_kind"] = np.where(crossed, "simultaneous",
                                   np.where(closed, first_kind, "open")).astype(object)
    facts["rst_from"] = np.select([rst_c & rst_s, rst_c, rst_s], ["both", "client", "server"],
                                  "").astype(object)
    facts["refused"] = has("syn_client") & ~has("synack_server") & rst_s & ~fin_c & ~fin_s
    facts["unanswered"] = has("syn_client") & ~has("synack_server") & ~closed
