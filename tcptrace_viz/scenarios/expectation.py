"""Expected outcomes of a scenario and the verdict: does the observed Trace match one of them?

An :class:`Outcome` names what must be seen: segments on the wire in order (``"c2s F."``,
``"c2s R*"`` with shell-style wildcards on the flags), segments that must not appear, the result
of particular calls (``server send #2 -> EPIPE``) and TCP states a side must reach.  A scenario
lists every outcome it accepts; the first that matches gives the verdict.

Scenarios write segments in that short syntax; what the verdict shows people names the
direction and the flags in words (``client→server RST (with any other flags)``).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import TYPE_CHECKING

from tcptrace_viz.vocabulary import segment_text

if TYPE_CHECKING:
    import pandas as pd

    from tcptrace_viz.model import Trace


@dataclasses.dataclass(frozen=True)
class CallOutcome:
    """The expected result of the ``nth`` call named ``call`` on ``side`` (1-based, -1 = last)."""

    side: str
    call: str
    nth: int = 1
    ret: str | None = None
    """Expected return text; None: any value (but success unless ``errno`` says otherwise)."""
    errno: str | None = ""
    """Expected errno name; ``""``: must succeed; None: don't care."""
    signal: str = ""
    """Expected signal that killed the caller (``SIGPIPE``)."""

    def describe(self) -> str:
        """``server send #2 -> EPIPE``."""
        which = "last" if self.nth == -1 else f"#{self.nth}"
        if self.signal:
            result = f"killed by {self.signal}"
        elif self.errno:
            result = f"-> {self.errno}"
        elif self.ret is not None:
            result = f"= {self.ret}"
        else:
            result = "succeeds"
        return f"{self.side} {self.call} {which} {result}"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One acceptable outcome of a scenario."""

    label: str
    """A short name for this outcome (``Linux``, ``RST crossed the data``)."""
    calls: tuple[CallOutcome, ...] = ()
    wire: tuple[str, ...] = ()
    """Segments that must appear in this order: ``"<c2s|s2c> <flags pattern>"``."""
    forbidden: tuple[str, ...] = ()
    """Segment patterns that must not appear at all."""
    present: tuple[str, ...] = ()
    """Segment patterns that must each appear, in any order (FINs that cross)."""
    states: tuple[str, ...] = ()
    """``"<side> <STATE>"`` that must be reached."""

    def describe(self, sides: tuple[str, str] | list[str] = ("client", "server")
                 ) -> list[str]:
        """Each requirement as one line, segments in words (``sides`` name the directions)."""
        lines = []
        if self.wire:
            lines.append("wire: " + ", ".join(segment_text(p, sides) for p in self.wire))
        if self.present:
            lines.append("wire, in any order: "
                         + ", ".join(segment_text(p, sides) for p in self.present))
        lines += [f"no {segment_text(pattern, sides)} on the wire"
                  for pattern in self.forbidden]
        lines += [call.describe() for call in self.calls]
        lines += [f"{state.split()[0]} reaches {state.split()[1]}" for state in self.states]
        return lines


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Pass or fail, with what was expected and what was seen."""

    passed: bool
    matched: str
    """Label of the matching outcome, or ``""``."""
    expected: list[str]
    observed: list[str]
    detail: str
    """Why it failed (the first unmet requirement of the closest outcome), a note on a pass
    that could not check everything, or ``""``."""


def _segment_tokens(packets: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(packets["dir"].tolist(), packets["flags"].tolist(), strict=True))


def _matches(token: tuple[str, str], pattern: str) -> bool:
    direction, _, flags = pattern.partition(" ")
    return token[0] == direction and fnmatch.fnmatchcase(token[1], flags)


def _find_call(trace: Trace, spec: CallOutcome) -> dict[str, object] | None:
    calls = trace.syscalls
    chosen = calls[(calls["side"] == spec.side) & (calls["call"] == spec.call)]
    if not len(chosen):
        return None
    index = -1 if spec.nth == -1 else spec.nth - 1
    if index >= len(chosen):
        return None
    row: dict[str, object] = {str(key): value for key, value in chosen.iloc[index].items()}
    return row


def _call_problem(trace: Trace, spec: CallOutcome) -> str:
    row = _find_call(trace, spec)
    if row is None:
        return f"{spec.describe()}: no such call was made"
    if spec.signal:
        return "" if row["signal"] == spec.signal else (
            f"{spec.describe()}: the call was not killed by {spec.signal}")
    if spec.errno is not None and row["errno"] != spec.errno:
        got = f"-> {row['errno']}" if row["errno"] else f"= {row['ret']}"
        return f"{spec.describe()}: it returned {got}"
    if spec.ret is not None and row["ret"] != spec.ret:
        return f"{spec.describe()}: it returned {row['ret']}"
    return ""


def _wire_problem(tokens: list[tuple[str, str]], outcome: Outcome,
                  sides: tuple[str, str] | list[str]) -> str:
    position = 0
    for pattern in outcome.wire:
        while position < len(tokens) and not _matches(tokens[position], pattern):
            position += 1
        if position == len(tokens):
            return (f"expected {segment_text(pattern, sides)} on the wire (in order after the "
                    "earlier ones), not seen")
        position += 1
    for pattern in outcome.present:
        if not any(_matches(token, pattern) for token in tokens):
            return f"expected {segment_text(pattern, sides)} on the wire, not seen"
    for pattern in outcome.forbidden:
        if any(_matches(token, pattern) for token in tokens):
            return f"{segment_text(pattern, sides)} was seen on the wire but must not be"
    return ""


def unseen_states(trace: Trace, outcome: Outcome) -> list[str]:
    """The ``"side STATE"`` requirements of ``outcome`` that no state row shows."""
    unseen = []
    for requirement in outcome.states:
        side, state = requirement.split()
        reached = trace.states[(trace.states["side"] == side) & (trace.states["new"] == state)]
        if not len(reached):
            unseen.append(requirement)
    return unseen


def outcome_problem(trace: Trace, outcome: Outcome, check_states: bool = True) -> str:
    """The first requirement of ``outcome`` the trace does not meet, or ``""``."""
    problem = _wire_problem(_segment_tokens(trace.packets), outcome, trace.sides)
    for spec in outcome.calls:
        problem = problem or _call_problem(trace, spec)
    if problem or not check_states:
        return problem
    unseen = unseen_states(trace, outcome)
    if not unseen:
        return ""
    side, state = unseen[0].split()
    return f"{side} never reached {state}"


def observed_summary(trace: Trace, outcomes: tuple[Outcome, ...]) -> list[str]:
    """What happened, in the same terms as the expectations."""
    lines = []
    tokens = [segment_text(f"{direction} {flags}", trace.sides)
              for direction, flags in _segment_tokens(trace.packets)]
    if tokens:
        lines.append("wire: " + ", ".join(_compress(tokens)))
    else:
        lines.append("wire: no TCP segments")
    seen: set[tuple[str, str, int]] = set()
    for outcome in outcomes:
        for spec in outcome.calls:
            key = (spec.side, spec.call, spec.nth)
            if key in seen:
                continue
            seen.add(key)
            row = _find_call(trace, spec)
            which = "last" if spec.nth == -1 else f"#{spec.nth}"
            prefix = f"{spec.side} {spec.call} {which}"
            if row is None:
                lines.append(f"{prefix}: not called")
            elif row["signal"]:
                lines.append(f"{prefix} killed by {row['signal']}")
            elif row["errno"]:
                lines.append(f"{prefix} -> {row['errno']}")
            else:
                lines.append(f"{prefix} = {row['ret']}")
    without_socket = trace.sides_without_socket()
    for side in trace.sides:
        reached = trace.states.loc[trace.states["side"] == side, "new"].tolist()
        if reached:
            lines.append(f"{side} states: " + " -> ".join(_dedupe(reached)))
        elif side in without_socket:
            lines.append(f"{side}: no socket; the kernel itself answered with an RST "
                         "(reason NO_SOCKET)")
    return lines


def _dedupe(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if not out or out[-1] != item:
            out.append(item)
    return out


def _compress(tokens: list[str], limit: int = 12) -> list[str]:
    """Runs of the same segment kind become ``"client→server . x1200"`` so bulk transfers stay
    short."""
    runs: list[list[object]] = []
    for token in tokens:
        if runs and runs[-1][0] == token:
            runs[-1][1] = int(str(runs[-1][1])) + 1
        else:
            runs.append([token, 1])
    text = [f"{token} x{count}" if int(str(count)) > 1 else str(token) for token, count in runs]
    if len(text) > limit:
        text = [*text[: limit // 2], f"... {len(text) - limit} more ...", *text[-limit // 2:]]
    return text


def judge(trace: Trace, outcomes: tuple[Outcome, ...]) -> Verdict:
    """Compare ``trace`` with the acceptable ``outcomes``.

    When the states were sampled after each call (no tracefs), a state the samples do not show
    may simply have lasted less than the time between two calls: it is listed in the verdict's
    detail as not seen, and does not fail the run.
    """
    expected = [f"{outcome.label}: " + "; ".join(outcome.describe(trace.sides))
                for outcome in outcomes]
    observed = observed_summary(trace, outcomes)
    sampled = trace.meta.state_source == "sampled"
    problems = []
    matching: list[tuple[Outcome, list[str]]] = []  # (outcome, its required states not seen)
    for outcome in outcomes:
        problem = outcome_problem(trace, outcome, check_states=not sampled)
        if problem:
            problems.append(f"{outcome.label}: {problem}")
        else:
            matching.append((outcome, unseen_states(trace, outcome) if sampled else []))
    if not matching:
        return Verdict(False, "", expected, observed, "; ".join(problems))
    # An outcome whose states were all seen beats one that only the wire and calls match.
    outcome, unseen = min(matching, key=lambda match: bool(match[1]))
    note = ("states were sampled after each call, so short-lived ones can be missed; "
            f"not seen: {', '.join(unseen)}") if unseen else ""
    return Verdict(True, outcome.label, expected, observed, note)
