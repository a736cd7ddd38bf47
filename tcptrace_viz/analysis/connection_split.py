"""Split packets into connections and tell the client from the server.

Works on arrays already in time order (see ``fields.time_order``), entirely vectorised.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tcptrace_viz.analysis.fields import first_in_group
from tcptrace_viz.arrays import I64, Bool, Obj
from tcptrace_viz.tcp import TH_ACK, TH_FIN, TH_RST, TH_SYN


def _endpoint_codes(src: Obj, sport: I64, dst: Obj, dport: I64) -> tuple[I64, I64]:
    """Small integer ids for the ``(addr, port)`` endpoints of each row's source and destination."""
    addr_src, addr_dst = _shared_codes(src, dst)
    port_span = int(max(sport.max(), dport.max())) + 1 if len(src) else 1
    return _shared_codes(addr_src * port_span + sport, addr_dst * port_span + dport)


def _shared_codes(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> tuple[I64, I64]:
    """Codes for the values of ``a`` and of ``b`` in one numbering (equal values, equal codes).

    Each array is factorized on its own and only their distinct values together: hashing
    both at once would build one table the size of both (tens of MB at a million rows).
    """
    codes_a, uniques_a = pd.factorize(a, use_na_sentinel=False)
    codes_b, uniques_b = pd.factorize(b, use_na_sentinel=False)
    merged, _ = pd.factorize(np.concatenate([np.asarray(uniques_a), np.asarray(uniques_b)]),
                             use_na_sentinel=False)
    merged = merged.astype(np.int64, copy=False)
    return merged[codes_a], merged[len(uniques_a) + codes_b]


def _shift_in_group(values: Bool, groups: I64) -> Bool:
    """Each row's value of the previous row of the same group (False for a group's first row)."""
    shifted = pd.Series(values).groupby(groups).shift(1, fill_value=False)
    return shifted.to_numpy(dtype=bool)


def _new_isn(opening: Bool, seq: I64, tuple_id: I64,
             from_lo: Bool) -> Bool:
    """Opening SYNs whose ISN differs from the previous opening SYN in the same direction.

    A retransmitted SYN repeats its ISN; a different one is a new connect() on a reused port,
    even when the capture missed the end of the previous connection.
    """
    out = np.zeros(len(opening), dtype=bool)
    direction = tuple_id[opening] * 2 + from_lo[opening]
    previous = pd.Series(seq[opening]).groupby(direction).shift(1)
    out[opening] = previous.notna().to_numpy() & (previous.to_numpy() != seq[opening])
    return out


def split_connections(src: Obj, sport: I64,
                      dst: Obj, dport: I64,
                      bits: I64, seq: I64) -> tuple[I64, Bool]:
    """Connection index and client-to-server flag for every row (rows in time order).

    Both directions of a 4-tuple share a connection.  A SYN without ACK starts a new connection
    on the same 4-tuple once the previous one has fully closed (FIN both ways) or been reset,
    or when its ISN differs from the previous SYN's in that direction (a reused port).
    Connections are numbered in order of their first packet.
    """
    n = len(src)
    ep_src, ep_dst = _endpoint_codes(src, sport, dst, dport)
    n_endpoints = int(max(ep_src.max(), ep_dst.max())) + 1
    lo, hi = np.minimum(ep_src, ep_dst), np.maximum(ep_src, ep_dst)
    from_lo = ep_src == lo
    tuple_codes, _ = pd.factorize(lo * n_endpoints + hi)
    del lo, hi  # a million rows: every array let go early lowers the peak
    tuple_id = tuple_codes.astype(np.int64, copy=False)

    syn = (bits & TH_SYN) != 0
    ack = (bits & TH_ACK) != 0
    fin = (bits & TH_FIN) != 0
    rst = (bits & TH_RST) != 0
    opening = syn & ~ack

    # An opening SYN starts a "segment" of the 4-tuple's history.  It opens a new connection
    # when the segment before it ended closed; otherwise it is a retransmission or the
    # peer's half of a simultaneous open.
    segment = pd.Series(opening.astype(np.int64)).groupby(tuple_id).cumsum().to_numpy()
    seg_codes, _ = pd.factorize(tuple_id * (n + 1) + segment)
    seg_id = seg_codes.astype(np.int64, copy=False)
    n_seg = int(seg_id.max()) + 1

    def seg_any(mask: Bool) -> Bool:
        return np.bincount(seg_id, weights=mask.astype(np.float64), minlength=n_seg) > 0

    seg_closed = seg_any(rst) | (seg_any(fin & from_lo) & seg_any(fin & ~from_lo))
    after_close = _shift_in_group(seg_closed[seg_id], tuple_id)
    first_of_tuple = ~pd.Series(tuple_id).duplicated().to_numpy(dtype=bool)
    starts = first_of_tuple | (opening & (after_close | _new_isn(opening, seq, tuple_id,
                                                               from_lo)))
    local = pd.Series(starts.astype(np.int64)).groupby(tuple_id).cumsum().to_numpy()
    conn_codes, _ = pd.factorize(tuple_id * (n + 1) + local)
    conn = conn_codes.astype(np.int64, copy=False)

    client = _client_endpoints(conn, ep_src=ep_src, ep_dst=ep_dst, sport=sport, dport=dport,
                               syn=syn, ack=ack)
    return conn, ep_src == client[conn]


def _client_endpoints(conn: I64, *, ep_src: I64, ep_dst: I64,
                      sport: I64, dport: I64, syn: Bool,
                      ack: Bool) -> I64:
    """The client's endpoint id per connection: the SYN sender, else the SYN-ACK's target,
    else the endpoint with the higher port (ties: whoever spoke first)."""
    n_conn = int(conn.max()) + 1
    rows = np.arange(len(conn), dtype=np.int64)
    first = first_in_group(conn, n_conn)
    higher_port_is_dst = dport[first] > sport[first]
    client = np.where(higher_port_is_dst, ep_dst[first], ep_src[first])
    for mask, side in ((syn & ack, ep_dst), (syn & ~ack, ep_src)):  # weakest evidence first
        first_hit = first_in_group(conn[mask], n_conn)
        found = first_hit >= 0
        client[found] = side[rows[mask][first_hit[found]]]
    return client.astype(np.int64)
