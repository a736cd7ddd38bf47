"""Sentences that explain a capture's counters where they do not simply agree.

The kernel's TCP counters (segments sent and received) and the frames on ``lo`` differ for
reasons the capture measures; each reason becomes one plain-text sentence for the console
summary and the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def explain_counts(stats: Mapping[str, Any]) -> list[str]:
    """Why the segments the kernel sent and received differ, from the measured counters."""
    sentences = []
    tx_dropped = int(stats.get("lo_tx_dropped") or 0)
    rx_dropped = int(stats.get("lo_rx_dropped") or 0)
    if tx_dropped:
        again = (", then retransmitted"
                 if int(stats.get("kernel_retrans_segs") or 0) >= tx_dropped else "")
        sentences.append(f"{tx_dropped} sent while lo was down (dropped by the device{again})")
    if rx_dropped:
        sentences.append(f"{rx_dropped} dropped by lo on the way in (its receive counter)")
    return sentences
