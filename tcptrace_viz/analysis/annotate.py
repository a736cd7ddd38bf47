"""``annotate_packets``: connection index, direction and relative numbers for decoded packets."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from tcptrace_viz.analysis.connection_split import split_connections
from tcptrace_viz.analysis.fields import flag_bits, time_order
from tcptrace_viz.analysis.relative import relative_numbers

#: Columns ``annotate_packets`` adds (replacing any already present).
ANNOTATION_COLUMNS: Final = ("conn", "dir", "rel_seq", "rel_ack")
_DIRECTIONS: Final = np.array(["s2c", "c2s"], dtype=object)
"""``dir`` by the client-to-server flag (False, True)."""


def annotate_packets(decoded: pd.DataFrame) -> pd.DataFrame:
    """Return ``decoded`` plus ``conn``, ``dir``, ``rel_seq`` and ``rel_ack``.

    - ``conn``: 0-based connection index in order of first appearance; both directions of a
      4-tuple together; an opening SYN after a full close or a reset on the same 4-tuple, or
      with a new ISN, starts a new connection.
    - ``dir``: ``"c2s"`` or ``"s2c"``.  The client sent the SYN; without a handshake in the
      capture, the endpoint with the higher port is taken as the client.
    - ``rel_seq``/``rel_ack``: relative to each direction's ISN (see ``relative.py``).

    Rows keep their order and index and every input column is kept.  The result depends only on
    the input, so reloading a saved capture reproduces it exactly.  Vectorised throughout.
    """
    # A new frame for the added columns; the input is never changed.  (pandas 3 shares the
    # input's arrays until one is written, so no deep copy is made: a million rows cost 0.4 s.)
    out = decoded.drop(columns=[c for c in ANNOTATION_COLUMNS if c in decoded.columns])
    n = len(out)
    if n == 0:
        out["conn"] = pd.Series(dtype="int64", index=out.index)
        out["dir"] = pd.Series(dtype=object, index=out.index)
        out["rel_seq"] = pd.Series(dtype="int64", index=out.index)
        out["rel_ack"] = pd.Series(dtype="int64", index=out.index)
        return out

    order = time_order(out)
    in_order = bool((order == np.arange(n)).all())  # nearly always: no million-row copies

    def sort(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return values if in_order else values[order]

    def restore(values: npt.NDArray[Any]) -> pd.Series:
        if not in_order:
            unsorted = np.empty_like(values)
            unsorted[order] = values
            values = unsorted
        return pd.Series(values, index=out.index, dtype=values.dtype, copy=False)

    bits = sort(flag_bits(out))
    seq = sort(out["seq"].to_numpy(dtype=np.int64))
    src, dst = _scoped_addresses(out)
    conn, c2s = split_connections(
        sort(src), sort(out["sport"].to_numpy(dtype=np.int64)),
        sort(dst), sort(out["dport"].to_numpy(dtype=np.int64)), bits, seq)
    del src, dst
    direction = conn * 2 + c2s.astype(np.int64)
    rel_seq, rel_ack = relative_numbers(direction, seq,
                                        sort(out["ack"].to_numpy(dtype=np.int64)), bits)
    del direction, bits, seq
    out["conn"] = restore(conn)
    # Two shared str objects, not a new one per row (np.where(...).astype(object) would make a
    # million of them: 50 MB).
    out["dir"] = restore(_DIRECTIONS[c2s.astype(np.intp)])
    out["rel_seq"] = restore(rel_seq)
    out["rel_ack"] = restore(rel_ack)
    return out


def _scoped_addresses(packets: pd.DataFrame) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Source and destination addresses, prefixed by the segment's VLANs and tunnels where
    these tell connections apart.

    A 4-tuple seen in one direction on two VLANs (or in two tunnels) is as many connections
    (each prefixed by its scope); one whose directions each keep to one VLAN (a router
    between two VLANs) stays one connection.  A tunnel's outer addresses are put in one
    order, so both directions of a connection share its scope.
    """
    src = packets["src"].to_numpy(dtype=object)
    dst = packets["dst"].to_numpy(dtype=object)
    if "tunnel" not in packets.columns:
        return src, dst
    codes, texts = pd.factorize(packets["tunnel"].fillna("").to_numpy(dtype=object))
    if len(texts) <= 1:
        return src, dst
    scope = np.array([_direction_free(str(text)) for text in texts], dtype=object)[codes]
    here = src + ":" + packets["sport"].astype(str).to_numpy(dtype=object)
    there = dst + ":" + packets["dport"].astype(str).to_numpy(dtype=object)
    one_way = pd.Series(codes).groupby(here + ">" + there).transform("nunique").to_numpy() > 1
    both_ways = np.where(here < there, here + "|" + there, there + "|" + here)
    split = pd.Series(one_way).groupby(both_ways).transform("any").to_numpy(dtype=bool)
    if not split.any():
        return src, dst
    prefix = np.where(split, scope, "")
    return prefix + src, prefix + dst


def _direction_free(tunnel: str) -> str:
    """``"VXLAN b>a"`` and ``"VXLAN a>b"`` alike: each address pair in sorted order."""
    if not tunnel:
        return ""
    words = ["<>".join(sorted(word.split(">", 1))) if ">" in word else word
             for word in tunnel.split(" ")]
    return " ".join(words) + "|"
