"""Triage of a capture with many connections: a one-line summary, filters, the most telling one.

An engineer's capture holds hundreds of connections and one of them is the bug.  The summary
counts how they ended; the filters (``--rst``, ``--refused``, ``--incomplete``, ``--retrans``,
``--port``, ``--host``) narrow the table; :func:`most_telling` picks the connection a ladder
should show when none is named, and says why: a reset after a FIN (data after the peer
closed), then a reset instead of FIN, then a retransmitted FIN, then retransmissions, then a
refused connection, then one never closed, else the first.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from tcptrace_viz.analysis.frame_memo import last_frame_memo
from tcptrace_viz.vocabulary import endpoint, host_of

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace


@dataclasses.dataclass(frozen=True)
class Filters:
    """Which connections to keep (all of them by default; several filters: all must hold)."""

    rst: bool = False
    """Ended by, or saw, an RST."""
    refused: bool = False
    """The SYN was answered by RST."""
    incomplete: bool = False
    """Never closed within the capture (or seen without its handshake)."""
    retrans: bool = False
    """Has retransmitted segments."""
    port: int | None = None
    """Uses this TCP port, either side."""
    host: str | None = None
    """Has this address, either side (IPv6 with or without brackets)."""

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return self != Filters()

    def describe(self) -> str:
        """``reset, port 8080``: the filters set, for a heading."""
        parts = [word for flag, word in ((self.rst, "with an RST"), (self.refused, "refused"),
                                         (self.incomplete, "incomplete"),
                                         (self.retrans, "retransmitting")) if flag]
        if self.port is not None:
            parts.append(f"port {self.port}")
        if self.host:
            parts.append(f"host {self.host}")
        return ", ".join(parts)


def _address(endpoint_text: pd.Series) -> pd.Series:
    """``[fd00::1]:5555`` / ``10.0.0.1:80`` -> the address alone, without brackets."""
    text = endpoint_text.astype(str)
    return text.str.rsplit(":", n=1).str[0].str.strip("[]")


def _port(endpoint_text: pd.Series) -> pd.Series:
    return pd.to_numeric(endpoint_text.astype(str).str.rsplit(":", n=1).str[-1],
                         errors="coerce").fillna(-1).astype(np.int64)


def matching(table: pd.DataFrame, filters: Filters) -> pd.Series:
    """A boolean mask over ``connections()`` rows: those every filter of ``filters`` keeps."""
    keep = pd.Series(True, index=table.index)
    if filters.rst:
        keep &= (table["rst_from"].astype(str) != "") | (table["close_kind"] == "RST")
    if filters.refused:
        keep &= table["refused"].astype(bool)
    if filters.incomplete:
        keep &= ((table["close_kind"] == "open") | ~table["handshake"].astype(bool)
                 | table["unanswered"].astype(bool))
    if filters.retrans:
        keep &= table["retransmissions"] > 0
    if filters.port is not None:
        keep &= (_port(table["client"]) == filters.port) | (_port(table["server"]) == filters.port)
    if filters.host:
        host = host_of(endpoint(filters.host, 0))  # as the table writes it: FD00:0::1 is fd00::1
        keep &= (_address(table["client"]) == host) | (_address(table["server"]) == host)
    return keep


def summary_line(table: pd.DataFrame, frames: int | None = None) -> str:
    """``1,512 connections: 1,498 closed with FIN, 9 reset, 5 refused, 3 never closed``;
    with none, how many ``frames`` the capture held (none of them a TCP segment)."""
    total = len(table)
    if not total:
        if frames:
            return (f"no TCP connections: none of the {frames:,} frames read is a TCP segment "
                    "this tool decodes, so there is nothing to draw")
        return "no TCP connections"
    refused = table["refused"].astype(bool)
    unanswered = table["unanswered"].astype(bool)
    kind = table["close_kind"].astype(str)
    counts = (("closed with FIN", int(((kind == "FIN") | (kind == "simultaneous"))[~refused]
                                      .sum())),
              ("reset", int(((kind == "RST") & ~refused).sum())),
              ("refused", int(refused.sum())),
              ("unanswered", int(unanswered.sum())),
              ("never closed", int(((kind == "open") & ~refused & ~unanswered).sum())))
    parts = [f"{count:,} {words}" for words, count in counts if count]
    noun = "connection" if total == 1 else "connections"
    return f"{total:,} {noun}: " + ", ".join(parts)


_REASONS: Final = (
    "it was reset after a FIN (data came after the peer had closed)",
    "it was reset instead of closed with FIN",
    "its FIN was retransmitted (the FIN or its ACK was lost or late)",
    "it has retransmissions",
    "it was refused",
    "it was never closed in the capture",
)


def fin_resent(packets: pd.DataFrame) -> set[int]:
    """The connections of ``packets`` (annotated, in time order) whose FIN was sent again."""
    return set(_fin_resent(packets))


@last_frame_memo
def _fin_resent(packets: pd.DataFrame) -> frozenset[int]:
    from tcptrace_viz.analysis.connection_arrays import ensure_annotated
    from tcptrace_viz.analysis.counters import retransmitted
    from tcptrace_viz.analysis.fields import flag_bits
    from tcptrace_viz.tcp import TH_FIN

    if not len(packets):
        return frozenset()
    packets = ensure_annotated(packets)
    again = retransmitted(packets) & ((flag_bits(packets) & TH_FIN) != 0)
    return frozenset(int(c) for c in pd.unique(packets["conn"].to_numpy()[again]))


def ranks(table: pd.DataFrame, fins_resent: set[int] | None = None) -> np.ndarray:
    """Each row's rank in :func:`most_telling`'s order: 0 a reset after a FIN ... 5 never
    closed, 6 an ordinary connection; ``fins_resent`` (:func:`fin_resent`): the connections
    whose FIN was retransmitted (none when not given)."""
    kind = table["close_kind"].astype(str)
    rst_after = (kind.isin(["FIN", "simultaneous"])) & (table["rst_from"].astype(str) != "")
    refused = table["refused"].astype(bool)
    resent_fin = table["conn"].isin(fins_resent or set()).to_numpy()
    return np.select(
        [rst_after.to_numpy(), ((kind == "RST") & ~refused).to_numpy(), resent_fin,
         (table["retransmissions"] > 0).to_numpy(), refused.to_numpy(),
         ((kind == "open") & ~table["unanswered"].astype(bool)).to_numpy()],
        list(range(len(_REASONS))), len(_REASONS))


def capture_fin_resent(trace: Trace) -> set[int]:
    """:func:`fin_resent` of the whole capture ``trace`` was read from."""
    whole = trace.whole
    return set(whole.fin_resent) if whole is not None else fin_resent(trace.packets)


def most_telling(table: pd.DataFrame, packets: pd.DataFrame | None = None, *,
                 resent: set[int] | None = None) -> tuple[int, str] | None:
    """The connection a ladder should show when none is named, and why (None: no rows);
    ``packets`` (the trace's, annotated), or ``resent`` (:func:`capture_fin_resent`), let a
    retransmitted FIN count."""
    if not len(table):
        return None
    if resent is None and packets is not None:
        resent = fin_resent(packets)
    ranked = ranks(table, resent)
    best = int(np.argmin(ranked))  # the first of the best rank
    rank = int(ranked[best])
    why = _REASONS[rank] if rank < len(_REASONS) else "it is the first"
    return int(table["conn"].iloc[best]), why


def telling_first(table: pd.DataFrame, limit: int, keep: set[int]) -> pd.DataFrame:
    """At most ``limit`` rows of ``table`` for a capped listing, in the capture's order: those
    in ``keep`` (the drawn ones), then the unusual ones taking turns by kind (the first reset,
    the first refusal..., then the second of each), then ordinary ones."""
    if len(table) <= limit:
        return table
    ranked = ranks(table)
    turn = pd.Series(ranked).groupby(ranked).cumcount().to_numpy()
    order = np.lexsort((np.arange(len(table)), ranked, turn, ranked == len(_REASONS),
                        ~table["conn"].isin(keep).to_numpy()))
    return table.iloc[np.sort(order[:limit])]


def choose(table: pd.DataFrame, filters: Filters, packets: pd.DataFrame | None = None, *,
           resent: set[int] | None = None) -> tuple[int, str] | None:
    """The most telling connection among those ``filters`` keep, and why (None: none kept);
    ``packets`` and ``resent`` as for :func:`most_telling`."""
    kept = table[matching(table, filters)] if filters.active else table
    picked = most_telling(kept, packets, resent=resent)
    if picked is None or not filters.active:
        return picked
    conn, why = picked
    return conn, f"{why}; the most telling of the {len(kept):,} {filters.describe()} ones"
