"""The ladder model: what every ladder renderer draws (text, matplotlib, Mermaid, the HTML report).

A ``Ladder`` holds two lifelines, the events in time order, each with a vertical position in
*rows*, and the kernel state bands along each lifeline.  :mod:`tcptrace_viz.render.ladder_layout`
makes one from a Trace; renderers only draw what it says, so every format shows the same story.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from tcptrace_viz.reason_words import gloss

EventKind = Literal["packet", "state", "syscall", "gap", "elided"]


@dataclasses.dataclass(frozen=True)
class Lifeline:
    """One endpoint, drawn as a vertical line."""

    side: str
    """Role name, e.g. ``"client"``."""
    address: str
    """``addr:port`` (IPv6 in brackets), or ``""`` when there is no address (pipe, socketpair)."""

    @property
    def label(self) -> str:
        """``client 127.0.0.1:40000``, or just the role."""
        return f"{self.side} {self.address}" if self.address else self.side


@dataclasses.dataclass(frozen=True)
class Event:
    """One row of the ladder: a packet, a state change, a syscall, an idle gap or an elision."""

    kind: EventKind
    y: float
    """Vertical position in rows, growing downwards."""
    ts_ns: int
    t: float
    """Seconds since the trace's first event."""
    lane: int
    """0 = left lifeline, 1 = right lifeline; for packets the *sender*; -1 for markers."""
    label: str
    """Short text drawn on the diagram."""
    detail: str = ""
    """Full one-line description (the timeline table's text)."""
    ref: str = ""
    """Stable id shared by the diagram and the timeline table: ``p3``, ``s0``, ``c4``."""
    row: int = -1
    """Index in the source table (packets, states or syscalls)."""
    rst: bool = False
    """A packet with the RST flag."""
    reason: str = ""
    """For RST packets, the kernel's reset reason when known."""
    state: str = ""
    """For state changes, the new state."""
    observed: bool = True
    """For state changes: seen in the kernel (True) or sampled/inferred (False)."""
    error: bool = False
    """For syscalls: failed or killed by a signal."""
    frame: int = 0
    """For packets, the frame number in the capture file."""
    start: bool = False
    """For syscalls: where a call that spans other events began (its result comes later)."""
    moment: int = 0
    """The number of the scenario's key moment this event is (1, 2...), else 0."""
    lost: str = ""
    """For packets the receiving kernel dropped: its drop reason (``NETFILTER_DROP``)."""


@dataclasses.dataclass(frozen=True)
class StateBand:
    """A coloured stretch of a lifeline while the socket is in one state."""

    lane: int
    state: str
    y0: float
    y1: float
    observed: bool
    ref: str
    """The ref of the state-change event that starts it."""


@dataclasses.dataclass(frozen=True)
class Ladder:
    """Everything a ladder renderer draws."""

    title: str
    lifelines: tuple[Lifeline, Lifeline]
    events: tuple[Event, ...]
    bands: tuple[StateBand, ...]
    height: float
    """Bottom of the ladder, in rows."""
    note: str = ""
    """Extra context, e.g. which connection of several is shown."""
    packets_total: int = 0
    packets_drawn: int = 0
    has_wire: bool = True
    """False when the scenario has no wire traffic at all (pipe, socketpair)."""
    name: str = ""
    """The scenario (or capture file) alone, for a bold heading."""
    subtitle: str = ""
    """The scenario's one-line title, when it has one."""
    loss: str = ""
    """What the run lost, one sentence (``send() accepted ... bytes lost``), else empty."""
    moments: tuple[str, ...] = ()
    """The scenario's key moments in plain words: ``moments[n - 1]`` explains the event whose
    ``moment`` is ``n``."""

    @property
    def time_unit(self) -> tuple[str, float]:
        """(unit, factor) for time labels: milliseconds when the trace lasts under 10 s
        (loopback stories take microseconds: ``0.215 ms`` reads better than ``0.000215``)."""
        span = max((e.t for e in self.events), default=0.0)
        return ("ms", 1e3) if span < 10 else ("s", 1.0)

    def time_label(self, event: Event) -> str:
        """The event's time in ``time_unit``, fixed decimals so columns line up."""
        unit, factor = self.time_unit
        return f"{event.t * factor:.3f}" if unit == "ms" else f"{event.t:.6f}"

    @property
    def has_injected(self) -> bool:
        """A segment a scenario sent by hand is drawn (its label says ``injected``)."""
        return any(event.kind == "packet" and " injected" in event.label
                   for event in self.events)

    def glossed_resets(self) -> list[tuple[str, str]]:
        """Each reset reason on the drawn RSTs, once, with its plain words (those that have
        some; see :mod:`tcptrace_viz.reason_words`)."""
        reasons = dict.fromkeys(e.reason for e in self.of_kind("packet") if e.rst and e.reason)
        return [(reason, gloss(reason)) for reason in reasons if gloss(reason)]

    def of_kind(self, kind: EventKind) -> list[Event]:
        """The events of one kind, in order."""
        return [event for event in self.events if event.kind == kind]
