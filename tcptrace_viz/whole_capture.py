"""What a Trace holding only some connections of a big capture knows of the whole capture.

A capture too big to hold in memory is read shard by shard (``big_capture``): its connection
table is computed over every packet, but the Trace a report draws holds only the packets of
the connections it draws.  :class:`WholeCapture` keeps what the report also shows of the rest.
"""

from __future__ import annotations

import dataclasses

import pandas as pd


@dataclasses.dataclass(frozen=True, eq=False)
class WholeCapture:
    """The whole capture a Trace's packets were taken from."""

    connections: pd.DataFrame
    """Every connection of the capture (``analysis.connections()``'s table)."""
    fin_resent: frozenset[int]
    """The connections whose FIN was sent again (``analysis.triage.fin_resent``)."""
    origin_ns: int
    """The time of the capture's first packet."""
