"""Comparing two runs: where the wire, the kernel's TCP states and the syscall results differ.

``tcptrace-viz diff A B`` (two kernels, linger on and off, before and after a fix) compares
three sequences of each trace's drawn connection, each as people read them:

- the wire: ``client→server F.``, one per segment, in time order (timing and sequence numbers
  left out: they differ between any two runs);
- each side's TCP states: ``client: FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT``;
- each side's system call results, in order: ``server send() = 3``, ``server send() -> EPIPE``.

Each difference says what A has where B has something else (difflib's opcodes), so a kernel
upgrade that turns an EPIPE into an ECONNRESET reads as one line.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import TYPE_CHECKING, Final

from tcptrace_viz.vocabulary import direction_text

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace


@dataclasses.dataclass(frozen=True)
class Difference:
    """One place where the two runs differ."""

    aspect: str
    """``wire``, ``client states``, ``server calls``..."""
    a: tuple[str, ...]
    """What run A has there (empty: nothing)."""
    b: tuple[str, ...]
    """What run B has there (empty: nothing)."""
    at: int
    """The position in A's sequence (0-based) where it starts."""

    def sentence(self) -> str:
        """``wire, at 6: A has client→server R, B has client→server R.``."""
        def said(items: tuple[str, ...]) -> str:
            return ", ".join(items) if items else "nothing"

        return f"{self.aspect}, at {self.at + 1}: A has {said(self.a)}; B has {said(self.b)}"


_FD: Final = re.compile(r"\bfd \d+")


def _wire(trace: Trace) -> list[str]:
    sides = trace.sides
    return [f"{direction_text(str(d), sides)} {f}"
            for d, f in zip(trace.packets["dir"], trace.packets["flags"], strict=True)]


def _states(trace: Trace, side: str) -> list[str]:
    states = trace.states
    return [str(state) for state in states.loc[states["side"] == side, "new"]]


def _calls(trace: Trace, side: str) -> list[str]:
    calls = trace.syscalls
    mine = calls[calls["side"] == side]
    out = []
    for name, ret, errno, signal in zip(mine["call"], mine["ret"], mine["errno"], mine["signal"],
                                        strict=True):
        result = (f"killed by {signal}" if signal else f"-> {errno}" if errno else f"= {ret}")
        out.append(_FD.sub("fd N", f"{name}() {result}"))  # descriptor numbers vary by run
    return out


def sequences(trace: Trace) -> dict[str, list[str]]:
    """The compared sequences of ``trace``, by aspect."""
    out = {"wire": _wire(trace)}
    for side in trace.sides:
        out[f"{side} states"] = _states(trace, side)
        out[f"{side} calls"] = _calls(trace, side)
    return out


def compare(a: Trace, b: Trace) -> list[Difference]:
    """Every difference between ``a`` and ``b`` (each one connection: see the selection)."""
    seq_a, seq_b = sequences(a), sequences(b)
    found: list[Difference] = []
    for aspect in dict.fromkeys([*seq_a, *seq_b]):
        left, right = seq_a.get(aspect, []), seq_b.get(aspect, [])
        matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                found.append(Difference(aspect, tuple(left[i1:i2]), tuple(right[j1:j2]), i1))
    return found
