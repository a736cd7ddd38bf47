"""Scenario parameters: declared in ``@scenario(parameters=...)``, set with ``--set NAME=VALUE``.

A scenario declares each parameter it takes (name, kind, default, one line of help).  The
command line's ``--set`` assignments are checked here against the chosen scenarios: an unknown
name or a bad value is refused in one sentence that lists the valid ones.  Sizes accept the
suffixes KiB, MiB and GiB (``160MiB``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.meta import Value

if TYPE_CHECKING:
    from tcptrace_viz.scenarios.expectation import Outcome
    from tcptrace_viz.scenarios.registry import Scenario

_UNITS = {"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"160MiB"`` -> 167772160; ValueError for anything else than a number and a unit."""
    match = _SIZE.fullmatch(text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise ValueError(text)
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


_PARSERS: dict[str, Callable[[str], Value]] = {"size": parse_size, "int": int, "float": float,
                                               "str": str}


def size_label(value: int) -> str:
    """40 MiB as ``40MiB`` (the largest unit that divides it), else plain bytes."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value and value % factor == 0:
            return f"{value // factor}{unit}"
    return str(value)


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One parameter a scenario takes."""

    name: str
    kind: str
    """``size`` (bytes, KiB/MiB/GiB suffixes), ``int``, ``float`` or ``str``."""
    default: Value
    help: str
    """One line for ``--help`` and ``tcptrace-viz list``."""
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, text: str) -> Value:
        """The value of ``text``; ValueError saying what is expected when it is not one."""
        try:
            value: Value = _PARSERS[self.kind](text)
        except ValueError:
            raise ValueError(self.expects()) from None
        if isinstance(value, str):
            return value
        if ((self.minimum is not None and value < self.minimum)
                or (self.maximum is not None and value > self.maximum)):
            raise ValueError(self.expects())
        return value

    def expects(self) -> str:
        """``a size from 1 to 1GiB, such as 40MiB (suffixes KiB, MiB, GiB)``."""
        show = self.show
        bounds = ""
        if self.minimum is not None and self.maximum is not None:
            bounds = f" from {show(self.minimum)} to {show(self.maximum)}"
        if self.kind == "size":
            return f"a size{bounds}, such as {show(self.default)} (suffixes KiB, MiB, GiB)"
        return f"{'an' if self.kind == 'int' else 'a'} {self.kind}{bounds}"

    def show(self, value: object) -> str:
        """A value as the command line writes it."""
        if self.kind == "size" and isinstance(value, int | float):
            return size_label(int(value))
        return str(value)

    def describe(self) -> str:
        """``bytes=40MiB (size): how much the client sends``."""
        return f"{self.name}={self.show(self.default)} ({self.kind}): {self.help}"


def _valid(scenarios: Sequence[Scenario]) -> str:
    declared = [f"{scenario.name} {parameter.name}={parameter.show(parameter.default)}"
                if len(scenarios) > 1 else f"{parameter.name}={parameter.show(parameter.default)}"
                for scenario in scenarios for parameter in scenario.parameters]
    if not declared:
        return "the chosen scenarios take no parameters" if len(scenarios) > 1 else (
            f"{scenarios[0].name} takes no parameters")
    return "valid (with defaults): " + ", ".join(declared)


def resolve_all(scenarios: Sequence[Scenario],
                assignments: Sequence[str]) -> dict[str, dict[str, Value]]:
    """Each scenario's parameter values: its defaults, overridden by ``NAME=VALUE`` assignments.

    A name must be declared by at least one chosen scenario; each scenario takes the ones it
    declares.  BadInputError (exit 2), one sentence, for an unknown name or a bad value.
    """
    values = {scenario.name: {p.name: p.default for p in scenario.parameters}
              for scenario in scenarios}
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        name = name.strip()
        if not equals or not name:
            raise BadInputError(f"--set {assignment}: give NAME=VALUE; {_valid(scenarios)}")
        owners = [(scenario, parameter) for scenario in scenarios
                  for parameter in scenario.parameters if parameter.name == name]
        if not owners:
            raise BadInputError(f"--set {assignment}: unknown parameter {name!r}; "
                                f"{_valid(scenarios)}")
        for scenario, parameter in owners:
            try:
                values[scenario.name][name] = parameter.parse(text.strip())
            except ValueError as exc:
                raise BadInputError(f"--set {assignment}: {name} must be {exc}; "
                                    f"{_valid(scenarios)}") from None
    return values


def check_values(scenario: Scenario, given: Mapping[str, Value] | None) -> dict[str, Value]:
    """``scenario``'s defaults updated by ``given`` (already parsed values, as from Python)."""
    values = {parameter.name: parameter.default for parameter in scenario.parameters}
    for name, value in (given or {}).items():
        if name not in values:
            raise BadInputError(f"unknown parameter {name!r}; {_valid([scenario])}")
        values[name] = value
    return values


def bind_outcomes(outcomes: tuple[Outcome, ...],
                  values: Mapping[str, Value]) -> tuple[Outcome, ...]:
    """Outcomes whose expected call results name parameters (``ret="{bytes}"``) filled in."""
    bound = []
    for outcome in outcomes:
        calls = tuple(dataclasses.replace(call, ret=call.ret.format(**values))
                      if call.ret is not None and "{" in call.ret else call
                      for call in outcome.calls)
        bound.append(dataclasses.replace(outcome, calls=calls))
    return tuple(bound)
