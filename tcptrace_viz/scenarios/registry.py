"""The scenario registry: a decorator fills it, a duplicate name is refused, lookups copy.

Scenario modules register themselves when imported; :mod:`tcptrace_viz.scenarios.builtin`
imports the built-in ones explicitly, in catalogue order, so nothing is discovered by magic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tcptrace_viz.kernel.segment_loss import LossRule
from tcptrace_viz.meta import Value
from tcptrace_viz.scenarios.definition_checks import check_definition
from tcptrace_viz.scenarios.params import Parameter

if TYPE_CHECKING:
    from tcptrace_viz.scenarios.context import ScenarioContext
    from tcptrace_viz.scenarios.expectation import Outcome
    from tcptrace_viz.scenarios.moments import Moment

RunFunction = Callable[["ScenarioContext"], None]
BurstFunction = Callable[[Mapping[str, Value]], int]


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A close scenario: its steps, what it teaches and the outcomes it accepts."""

    name: str
    """CLI name, as in the catalogue (``close-then-write``)."""
    title: str
    """One line for ``tcptrace-viz list``."""
    teaches: str
    """What a reader should learn from it (shown in the report)."""
    steps: str
    """The steps in catalogue notation (C = client, S = server)."""
    outcomes: tuple[Outcome, ...]
    """Acceptable outcomes: the run passes when any one of them matches."""
    run: RunFunction
    """The steps themselves, executed inside the capture's network namespace."""
    wire: bool = True
    """False for scenarios with no TCP traffic (pipe, socketpair)."""
    sides: tuple[str, str] = ("client", "server")
    """The two lifelines of the diagram."""
    parameters: tuple[Parameter, ...] = ()
    """What ``--set NAME=VALUE`` may change; the run gets the values in ``ctx.params``."""
    burst_bytes: BurstFunction | None = None
    """The TCP payload the run sends at once, from its parameters: sizes the capture ring."""
    complete: bool = False
    """The point of the run is a complete capture: any segment lost or dropped fails it."""
    key_moments: tuple[Moment, ...] = ()
    """The events the lesson turns on, in plain words (numbered on the ladder and reports)."""
    losses: tuple[LossRule, ...] = ()
    """Segments the run's namespace loses on purpose (``--drop`` adds to them)."""
    sysctls: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Per-namespace TCP settings the run needs (``--sysctl`` may override them)."""
    waits_s: float = 0.0
    """About how long the run sits idle waiting for a kernel timer (a retransmission timeout,
    TCP_LINGER2, keepalive): with ``-j`` 2 or more such runs start first and beside the
    CPU-bound ones instead of holding a CPU's place."""


_REGISTRY: dict[str, Scenario] = {}
_BUILTIN_MODULE = "tcptrace_viz.scenarios.builtin."


class DuplicateScenarioError(ValueError):
    """A scenario name that is already registered."""


def scenario(*, name: str, title: str, teaches: str, steps: str,
             outcomes: tuple[Outcome, ...], wire: bool = True,
             sides: tuple[str, str] = ("client", "server"),
             parameters: tuple[Parameter, ...] = (), burst_bytes: BurstFunction | None = None,
             complete: bool = False,
             key_moments: tuple[Moment, ...] = (), losses: tuple[LossRule, ...] = (),
             sysctls: Mapping[str, str] | None = None, waits_s: float = 0.0,
             ) -> Callable[[RunFunction], RunFunction]:
    """Register the decorated function as the steps of scenario ``name``.

    ``losses``: segments to lose on purpose (:class:`LossRule`), so a retransmission or a timer
    shows; ``sysctls``: per-namespace settings the run needs (``{"net.ipv4.tcp_rfc1337":
    "1"}``), set in its namespace only; ``waits_s``: about how many seconds the run waits
    idle for a kernel timer (it then runs beside the others instead of taking a ``-j`` place).
    """

    check_definition(name, outcomes, key_moments, parameters, sides)  # at the @scenario line
    _check_needs(name, losses, sysctls or {})

    def register(run: RunFunction) -> RunFunction:
        if name in _REGISTRY:
            taken = _REGISTRY[name].run.__module__.startswith(_BUILTIN_MODULE)
            raise DuplicateScenarioError(
                f"scenario {name!r} is {'a built-in' if taken else 'registered twice'}; "
                "choose another name")
        _REGISTRY[name] = Scenario(name, title, teaches, steps, outcomes, run, wire, sides,
                                   parameters, burst_bytes, complete, key_moments,
                                   tuple(losses), dict(sysctls or {}), max(waits_s, 0.0))
        return run

    return register


def _check_needs(name: str, losses: object, sysctls: object) -> None:
    """``losses`` a tuple of LossRule and ``sysctls`` a mapping of text to text, else TypeError."""
    if not isinstance(losses, tuple) or not all(isinstance(rule, LossRule) for rule in losses):
        raise TypeError(f"scenario {name!r}: losses must be a tuple of LossRule")
    if not isinstance(sysctls, Mapping) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in sysctls.items()):
        raise TypeError(f"scenario {name!r}: sysctls must map setting names to text values "
                        "({'net.ipv4.tcp_rfc1337': '1'})")


def unregister(name: str) -> None:
    """Forget scenario ``name`` (a scenario file that failed to load)."""
    _REGISTRY.pop(name, None)


def names() -> list[str]:
    """Registered scenario names, in registration (catalogue) order."""
    return list(_REGISTRY)


def get(name: str) -> Scenario:
    """The scenario called ``name`` (a copy); KeyError when there is none."""
    return dataclasses.replace(_REGISTRY[name])
