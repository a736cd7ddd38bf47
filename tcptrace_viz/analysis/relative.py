"""Relative sequence and acknowledgment numbers, as tcpdump -S off and Wireshark show them.

Each direction of a connection counts from its ISN: the SYN's sequence number, so the SYN is
0 and the first data byte is 1.  Without a SYN in the capture the base is the first sequence
number seen minus one, so the first segment again shows 1 (Wireshark does the same).  Numbers are
unwrapped across the 32-bit boundary, so they keep growing past 4 GiB instead of jumping back.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from tcptrace_viz.analysis.fields import first_in_group
from tcptrace_viz.arrays import I64, Bool
from tcptrace_viz.tcp import TH_ACK, TH_SYN

_HALF: Final = 1 << 31
_MOD: Final = 1 << 32


def wrap32(delta: I64) -> I64:
    """Interpret differences of 32-bit sequence numbers as signed (RFC 1982 arithmetic)."""
    return ((delta + _HALF) % _MOD) - _HALF


def _unwrapped_offsets(values: I64, groups: I64) -> I64:
    """Distance of each value from its group's first value, unwrapped (rows in time order)."""
    series = pd.Series(values, dtype=np.int64)
    steps = series.groupby(groups).diff().fillna(0).to_numpy(dtype=np.int64)
    return pd.Series(wrap32(steps)).groupby(groups).cumsum().to_numpy(dtype=np.int64)


def relative_numbers(direction: I64, seq: I64, ack: I64,
                     bits: I64) -> tuple[I64, I64]:
    """``rel_seq`` and ``rel_ack`` for rows in time order.

    ``direction`` numbers each (connection, direction) pair so that a pair and its reverse are
    ``2k`` and ``2k + 1``.  ``rel_ack`` is relative to the peer direction's base and is 0 on
    segments without ACK.  When the peer direction never appears, its base is taken from the
    first acknowledgment minus one.
    """
    n_dirs = int(direction.max()) + 2 if len(direction) else 0
    n_dirs += n_dirs % 2
    rows = np.arange(len(seq), dtype=np.int64)

    seq_off = _unwrapped_offsets(seq, direction)
    first_row = first_in_group(direction, n_dirs)
    present = first_row >= 0
    base_off = np.full(n_dirs, -1, dtype=np.int64)
    syn: Bool = (bits & TH_SYN) != 0
    first_syn = first_in_group(direction[syn], n_dirs)
    has_syn = first_syn >= 0
    base_off[has_syn] = seq_off[rows[syn][first_syn[has_syn]]]
    rel_seq = seq_off - base_off[direction]
    base_raw = np.zeros(n_dirs, dtype=np.int64)
    base_raw[present] = (seq[first_row[present]] + base_off[present]) % _MOD

    rel_ack = np.zeros(len(seq), dtype=np.int64)
    acked: Bool = (bits & TH_ACK) != 0
    if acked.any():
        ack_dir = direction[acked]
        ack_values = ack[acked]
        ack_off = _unwrapped_offsets(ack_values, ack_dir)
        first_ack = first_in_group(ack_dir, n_dirs)
        has_ack = first_ack >= 0
        first_ack_raw = np.zeros(n_dirs, dtype=np.int64)
        first_ack_raw[has_ack] = ack_values[first_ack[has_ack]]
        peer = np.arange(n_dirs, dtype=np.int64) ^ 1
        peer_base = np.where(present[peer], base_raw[peer], (first_ack_raw - 1) % _MOD)
        start = wrap32(first_ack_raw - peer_base)
        rel_ack[acked] = start[ack_dir] + ack_off
    return rel_seq, rel_ack
