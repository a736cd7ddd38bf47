"""Which captured segments never arrived, and the kernel's own reason for each.

On ``lo`` the packet socket sees a segment as it leaves; the receiving half of the stack can
still drop it.  Two sources say which segments died:

- the run's loss rules (``--drop``, or a scenario's own): the same count the nft rule keeps
  ("the Nth segment from this side with these flags") picks the captured segments it dropped,
  as many as the rule's counter says it dropped;
- the ``skb:kfree_skb`` tracepoint, with the kernel's drop reason (``NETFILTER_DROP`` for the
  rules' drops, ``NO_SOCKET`` for a segment to a closed port, ``TCP_OLD_DATA``...).  It names
  no addresses, only the buffer; ``net:netif_receive_skb`` on ``lo`` names the same buffer as
  each packet is delivered, with its length.  Deliveries are matched to captured segments in
  order (lo's backlog is first in, first out), by IP length, at most
  :data:`MATCH_WINDOW_NS` after the capture saw them leave; a drop is then the segment whose
  buffer it freed (the buffer's last delivery before the drop: buffers are reused).  Without
  a delivery event, a drop goes to the latest segment before it that has no reason yet.  A
  drop on the sending side (``QDISC_DROP`` while lo is down) is no captured segment's.

The kernel answers before it frees (a segment to a closed port: the RST leaves, then the
segment is freed), which is why the buffer, not the time, says which segment died.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from tcptrace_viz.capture.tracefs import KernelEvent
from tcptrace_viz.kernel.segment_loss import LossRule

MATCH_WINDOW_NS = 1_000_000
"""How long after a segment's capture a drop event may be given to it."""
RULE_REASON = "NETFILTER_DROP"
UNTRACED_RULE = "dropped by the loss rule (no tracer: the kernel's reason not seen)"
_REASON = re.compile(r"reason: (\w+)")
ETHERNET_HEADER = 14
SENDING_SIDE_REASONS = ("QDISC_", "TC_EGRESS", "DEV_READY", "NEIGH_", "IP_OUTNOROUTES",
                        "BPF_CGROUP_EGRESS", "IPV6DISABLED")
"""Drop reasons (prefixes) of the sending half of the stack: such a segment died before lo
delivered it, so it is none of the captured ones (its buffer may still be one a captured
segment had used: buffers are reused); lo's counters account for it (``tx_dropped``)."""
EARLY_NS = 100_000
"""How much earlier than its capture timestamp a delivery may be stamped (the packet socket
stamps its copy when it gets it, which on another CPU can be after the delivery)."""


@dataclasses.dataclass(frozen=True)
class SegmentDrops:
    """The ``drop`` column and what the counts were."""

    reasons: list[str]
    """Per packet: the kernel's drop reason, or ``""`` for a segment that arrived."""
    rule_lost: int
    """Segments the loss rules' counters say they dropped."""
    unmatched: int
    """Drop events given to no captured segment (another namespace's, or late)."""


def _drop_events(events: Iterable[KernelEvent]) -> list[tuple[int, str, str]]:
    """(time, reason, buffer) of each drop."""
    found = []
    for event in events:
        if event.event == "kfree_skb":
            match = _REASON.search(event.body)
            found.append((event.ts_ns, match[1] if match else "dropped",
                          event.fields.get("skbaddr", "")))
    return sorted(found)


def _deliveries(events: Iterable[KernelEvent], packets: pd.DataFrame,
                ip_lengths: Sequence[int]) -> list[tuple[int, str, int]]:
    """(time, buffer, packet position) of each delivery on lo, the position -1 for one that is
    no captured segment (after the capture's cut, or another namespace's): buffers are
    reused, so a drop belongs to the last delivery of its buffer before it, captured or not."""
    received = sorted((event.ts_ns, event.fields.get("skbaddr", ""),
                       int(event.fields.get("len", "-1") or -1))
                      for event in events if event.event == "netif_receive_skb")
    ts = packets["ts_ns"].to_numpy()
    waiting = [int(position) for position in np.argsort(ts, kind="stable")]
    found = []
    for when, buffer, length in received:
        matched = -1
        for index, position in enumerate(waiting):
            if int(ts[position]) > when + EARLY_NS:
                break
            if when - int(ts[position]) <= MATCH_WINDOW_NS \
                    and ip_lengths[position] == length:
                matched = position
                del waiting[index]
                break
        found.append((when, buffer, matched))
    return found


def _rule_losses(packets: pd.DataFrame, rules: Sequence[LossRule],
                 counts: Sequence[int]) -> list[int]:
    """Positions of the captured segments the rules dropped (time order: the rules' count)."""
    sides = np.where(packets["dir"].to_numpy() == "s2c", "server", "client")
    flags = packets["flags"].astype(str).to_numpy()
    lost: list[int] = []
    for rule, count in zip(rules, counts, strict=True):
        number = 0
        taken = 0
        for position in np.argsort(packets["ts_ns"].to_numpy(), kind="stable"):
            if taken >= count:
                break
            if rule.matches(str(sides[position]), str(flags[position])):
                number += 1
                if rule.takes(number):
                    lost.append(int(position))
                    taken += 1
    return lost


def segment_drops(packets: pd.DataFrame, events: Sequence[KernelEvent] | None,
                  rules: Sequence[LossRule], counts: Sequence[int],
                  frame_lengths: Sequence[int] = ()) -> SegmentDrops:
    """The drop reason of each captured segment (see the module's docstring).

    ``events``: the tracer's events (None without one); ``counts``: each rule's nft counter;
    ``frame_lengths``: each captured frame's length, by frame number - 1 (Ethernet on lo).
    """
    reasons = [""] * len(packets)
    drops = _drop_events(events or ())
    ip_lengths = ([frame_lengths[int(frame) - 1] - ETHERNET_HEADER
                   if 0 < int(frame) <= len(frame_lengths) else -1
                   for frame in packets["frame"]] if len(packets) else [])
    deliveries = _deliveries(events or (), packets, ip_lengths)
    ts = packets["ts_ns"].to_numpy() if len(packets) else np.zeros(0, dtype=np.int64)
    used = [False] * len(drops)
    for position in _rule_losses(packets, rules, counts):
        reasons[position] = UNTRACED_RULE if events is None else RULE_REASON
    for index, (when, why, buffer) in enumerate(drops):
        if why.startswith(SENDING_SIDE_REASONS):
            used[index] = True  # never captured: the device's counters say so (lo down...)
            continue
        freed = [position for delivered, address, position in deliveries
                 if address == buffer and delivered <= when]
        if buffer and freed:
            used[index] = True  # the buffer's last delivery: a captured segment, or none
            if freed[-1] >= 0 and (not reasons[freed[-1]] or reasons[freed[-1]] == RULE_REASON):
                reasons[freed[-1]] = why
    order = np.argsort(ts, kind="stable")
    sorted_ts = ts[order]
    for index, (when, why, _) in enumerate(drops):
        if used[index]:
            continue
        place = int(np.searchsorted(sorted_ts, when, side="right")) - 1
        while place >= 0 and when - int(sorted_ts[place]) <= MATCH_WINDOW_NS:
            position = int(order[place])
            if not reasons[position]:
                reasons[position] = why
                used[index] = True
                break
            place -= 1
    return SegmentDrops(reasons, sum(counts), used.count(False))


def loss_sentences(rules: Sequence[LossRule], counts: Sequence[int], drops: SegmentDrops
                   ) -> list[str]:
    """One sentence per rule (what it lost) and one for drop events no segment explains."""
    lines = [f"--drop {rule.text}: {count:,} segment{'s' * (count != 1)} captured on the way "
             "out, then dropped on purpose by the namespace's nft rule (its counter)"
             for rule, count in zip(rules, counts, strict=True)]
    if drops.unmatched:
        lines.append(f"{drops.unmatched:,} drops the kernel traced (skb:kfree_skb) match no "
                     "captured segment within 1 ms: another namespace's, or not on lo")
    return lines
