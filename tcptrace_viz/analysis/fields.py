"""Read packet fields the same way whatever produced the frame.

A decoded capture carries ``flag_bits``; a Trace's packets table only has tcpdump's letters.
Every analysis step goes through these helpers so both kinds of frame work.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from tcptrace_viz.analysis.frame_memo import last_frame_memo
from tcptrace_viz.arrays import I64
from tcptrace_viz.tcp import TH_ACK, TH_CWR, TH_ECE, TH_FIN, TH_PSH, TH_RST, TH_SYN, TH_URG

_BIT_OF_LETTER: Final[dict[str, int]] = {
    "F": TH_FIN, "S": TH_SYN, "R": TH_RST, "P": TH_PSH, ".": TH_ACK, "U": TH_URG, "E": TH_ECE,
    "W": TH_CWR,
}


def letters_to_bits(letters: str) -> int:
    """Flag bits for tcpdump's letters: ``"F."`` -> ``TH_FIN | TH_ACK``; unknown letters count 0."""
    bits = 0
    for letter in letters:
        bits |= _BIT_OF_LETTER.get(letter, 0)
    return bits


def flag_bits(packets: pd.DataFrame) -> I64:
    """The TCP flag bits of every row, from ``flag_bits`` when present, else from ``flags``."""
    if "flag_bits" in packets.columns:
        return packets["flag_bits"].to_numpy(dtype=np.int64)
    return _bits_of_letters(packets).copy()


@last_frame_memo
def _bits_of_letters(packets: pd.DataFrame) -> I64:
    # A capture has a handful of distinct flag strings: parse each once, not once per row.
    codes, uniques = pd.factorize(packets["flags"].to_numpy(dtype=object))
    table = np.array([letters_to_bits(str(letters)) for letters in uniques] + [0], dtype=np.int64)
    return table[codes]  # code -1 (missing) picks the trailing 0


def time_order(packets: pd.DataFrame) -> I64:
    """Row positions sorted by capture time, then frame number, then position (stable)."""
    n = len(packets)
    position = np.arange(n, dtype=np.int64)
    frame = (packets["frame"].to_numpy(dtype=np.int64) if "frame" in packets.columns
             else position)
    ts = packets["ts_ns"].to_numpy(dtype=np.int64)
    later, same = ts[1:] > ts[:-1], ts[1:] == ts[:-1]  # compared, not subtracted: no overflow
    if (later | (same & (frame[1:] >= frame[:-1]))).all():
        return position  # already in order, as a Trace's packets are: no sort of a million rows
    order = np.lexsort((position, frame, ts))
    return order.astype(np.int64)


def in_time_order(packets: pd.DataFrame) -> pd.DataFrame:
    """``packets`` sorted as :func:`time_order` says, with a fresh 0-based index; ``packets``
    itself (no copy of a million rows) when it is in that order already, as a Trace's are."""
    order = time_order(packets)
    if len(order) and not (order[1:] > order[:-1]).all():
        return packets.iloc[order].reset_index(drop=True)
    if isinstance(packets.index, pd.RangeIndex) and packets.index.start == 0 \
            and packets.index.step == 1:
        return packets
    return packets.reset_index(drop=True)


def first_in_group(groups: I64, n_groups: int) -> I64:
    """Index of each group's first row (rows already in time order); -1 for empty groups."""
    first = np.full(n_groups, -1, dtype=np.int64)
    # np.unique's return_index is documented to give each value's first occurrence.
    present, index = np.unique(groups, return_index=True)
    first[present] = index
    return first
