"""A scenario's key moments: the events its lesson turns on, named in the scenario, found in a run.

A scenario declares each one as a :class:`Moment`: which event, in a short notation, and what
it means in plain words.  After a run, :func:`find_moments` looks each one up in the Trace and
records those it finds in ``meta.key_moments``; the ladder, the PNG and the HTML report number
them and say their words beside the event.  The notation:

- ``"client close"``, ``"server send #2"``, ``"server recv #last"``: a side's system call
  (its first, its n-th or its last);
- ``"c2s R"``, ``"s2c P. #2"``: a segment by direction and flags, as in an expectation's
  ``wire`` (shell-style wildcards on the flags: ``"c2s R*"``);
- ``"server CLOSE_WAIT"``: the side's first change into that kernel TCP state.

A moment the run did not show is left out (the verdict says what was missing).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import TYPE_CHECKING

from tcptrace_viz.meta import KeyMoment
from tcptrace_viz.tcp import TCP_STATES

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace

_DIRECTIONS = ("c2s", "s2c")


@dataclasses.dataclass(frozen=True)
class Moment:
    """One key event of a scenario: which (see the module's notation) and its plain words."""

    event: str
    """``"server send #2"``, ``"c2s R"``, ``"server CLOSE_WAIT"``."""
    says: str
    """What it means, for a student: ``the write succeeds: the kernel only knows of a FIN``."""

    def __post_init__(self) -> None:
        """Refuse a notation that cannot name an event (a scenario's mistake, found early)."""
        parts = self.event.split()
        if len(parts) not in (2, 3) or (len(parts) == 3 and not _nth(parts[2])):
            raise ValueError(f"key moment {self.event!r}: expected '<side> <call|STATE> [#n]' "
                             f"or '<c2s|s2c> <flags> [#n]'")
        is_state = parts[1].isupper() and parts[0] not in _DIRECTIONS
        if is_state and parts[1] not in TCP_STATES.values():
            raise ValueError(f"key moment {self.event!r}: {parts[1]} is no TCP state")


def _nth(token: str) -> int:
    """``#2`` -> 2, ``#last`` -> -1; anything else -> 0."""
    if token == "#last":
        return -1
    return int(token[1:]) if token.startswith("#") and token[1:].isdigit() else 0


def find_moment(trace: Trace, moment: Moment) -> KeyMoment | None:
    """``moment`` located in ``trace``, or None when the run did not show it."""
    parts = moment.event.split()
    who, what = parts[0], parts[1]
    nth = _nth(parts[2]) if len(parts) == 3 else 1
    if who in _DIRECTIONS:
        packets = trace.packets
        hits = [int(ts) for direction, flags, ts in
                zip(packets["dir"], packets["flags"], packets["ts_ns"], strict=True)
                if direction == who and fnmatch.fnmatchcase(str(flags), what)]
        kind = "packet"
    elif what.isupper():
        states = trace.states
        chosen = states[(states["side"] == who) & (states["new"] == what)]
        hits = [int(ts) for ts in chosen["ts_ns"]]
        kind = "state"
    else:
        calls = trace.syscalls
        chosen = calls[(calls["side"] == who) & (calls["call"] == what)]
        # where the call returned, as the timeline and the ladder place it
        hits = [int(ts) + max(int(duration), 0)
                for ts, duration in zip(chosen["ts_ns"], chosen["duration_ns"], strict=True)]
        kind = "syscall"
    if not hits or len(hits) < nth:
        return None
    return KeyMoment(kind, hits[nth - 1] if nth > 0 else hits[-1], moment.says)


def find_moments(trace: Trace, moments: tuple[Moment, ...]) -> list[KeyMoment]:
    """Every moment the run showed, in time order."""
    found = [hit for hit in (find_moment(trace, moment) for moment in moments) if hit]
    return sorted(found, key=lambda hit: hit.ts_ns)


def unseen_moments(trace: Trace, moments: tuple[Moment, ...]) -> list[str]:
    """The notation of each moment ``trace`` did not show (a scenario's typo, or a run that
    went otherwise)."""
    return [moment.event for moment in moments if find_moment(trace, moment) is None]
