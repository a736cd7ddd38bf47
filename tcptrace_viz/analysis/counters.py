"""Per-segment flags for retransmissions and zero windows, shared by connections and findings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tcptrace_viz.analysis.fields import flag_bits
from tcptrace_viz.analysis.frame_memo import last_frame_memo
from tcptrace_viz.arrays import Bool
from tcptrace_viz.tcp import TH_FIN, TH_RST, TH_SYN


def retransmitted(packets: pd.DataFrame) -> Bool:
    """See :func:`_retransmitted`; computed once per frame (:mod:`frame_memo`)."""
    return _retransmitted(packets).copy()


@last_frame_memo
def _retransmitted(packets: pd.DataFrame) -> Bool:
    """True for a segment that repeats an earlier one: same connection, direction, relative
    sequence number, length and SYN/FIN flags, carrying data or SYN/FIN.

    ``packets`` must be annotated and in time order.  Pure ACKs never count (duplicate ACKs
    are not retransmissions).
    """
    bits = flag_bits(packets)
    length = packets["len"].to_numpy(dtype=np.int64)
    carries = (length > 0) | ((bits & (TH_SYN | TH_FIN)) != 0)
    direction = packets["dir"].to_numpy(dtype=object)
    key = pd.DataFrame({"conn": packets["conn"].to_numpy(),  # dir as 0 (""), 1 c2s, 2 s2c:
                        "dir": (direction == "c2s") + 2 * (direction == "s2c"),  # no strings
                        "seq": packets["rel_seq"].to_numpy(), "len": length,
                        "sf": bits & (TH_SYN | TH_FIN)}, copy=False)
    repeated = key.duplicated().to_numpy(dtype=bool)
    return np.asarray(repeated & carries, dtype=bool)


def zero_window(packets: pd.DataFrame) -> Bool:
    """True for a segment advertising a zero receive window (RSTs carry 0 by convention and
    do not count)."""
    bits = flag_bits(packets)
    closed = packets["win"].to_numpy(dtype=np.int64) == 0
    return np.asarray(closed & ((bits & TH_RST) == 0), dtype=bool)
