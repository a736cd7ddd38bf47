"""A scenario's definition checked when it is registered, so a mistake in a scenario file is
one sentence at its ``@scenario`` line (exit 2) rather than a crash or a false FAIL later.

Checked: the name (a CLI name: lowercase words joined by ``-``, safe as a file name); the
types of ``outcomes``, ``key_moments`` and ``parameters`` (tuples of the right objects); each
outcome's segment patterns (``c2s``/``s2c`` and tcpdump flags), states (a side and a TCP
state), calls (a side, a count, text results, a known errno, a declared ``{parameter}``).
"""

from __future__ import annotations

import errno
import re
import string
from collections.abc import Sequence
from typing import Any, Final

from tcptrace_viz.tcp import TCP_STATES

CLI_NAME: Final = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_FLAGS: Final = re.compile(r"[SFRPUEWC.*?\[\]!]+")
_STATES: Final = frozenset(TCP_STATES.values())


def _tuple_of(value: Any, kind: type, what: str) -> tuple[Any, ...]:
    if not isinstance(value, tuple):
        got = type(value).__name__
        one = "'...'," if kind is str else f"{kind.__name__}(...),"
        raise TypeError(f"{what} must be a tuple of {kind.__name__} (got a {got}; "
                        f"a single one is written ({one}))")
    for item in value:
        if not isinstance(item, kind):
            raise TypeError(f"{what} must hold {kind.__name__} objects, not "
                            f"{type(item).__name__} {item!r}")
    return value


def _segment(pattern: Any, what: str) -> None:
    if not isinstance(pattern, str):
        raise TypeError(f"{what}: {pattern!r} must be a string like 'c2s F.'")
    direction, _, flags = pattern.partition(" ")
    if direction not in ("c2s", "s2c", "*") or not _FLAGS.fullmatch(flags):
        raise ValueError(f"{what}: {pattern!r} is not '<c2s|s2c> <flags>' (tcpdump's flags "
                         "S F R P . with shell wildcards, e.g. 'c2s F.' or 's2c R*')")


def check_definition(name: str, outcomes: Any, key_moments: Any, parameters: Any,
                     sides: Sequence[str]) -> None:
    """Raise TypeError or ValueError, in one sentence, for the first mistake found."""
    from tcptrace_viz.scenarios.expectation import CallOutcome, Outcome
    from tcptrace_viz.scenarios.moments import Moment
    from tcptrace_viz.scenarios.params import Parameter

    if not isinstance(name, str) or not CLI_NAME.fullmatch(name):
        raise ValueError(f"scenario name {name!r}: use lowercase letters, digits and '-' "
                         "(it names the scenario's files)")
    declared = {p.name for p in _tuple_of(parameters, Parameter, "parameters")}
    _tuple_of(key_moments, Moment, "key_moments")
    for outcome in _tuple_of(outcomes, Outcome, "outcomes"):
        label = f"outcome {outcome.label!r}"
        for field in ("wire", "present", "forbidden"):
            for pattern in _tuple_of(getattr(outcome, field), str, f"{label}: {field}"):
                _segment(pattern, f"{label}: {field}")
        for state in _tuple_of(outcome.states, str, f"{label}: states"):
            side, _, tcp_state = state.partition(" ")
            if side not in sides or tcp_state not in _STATES:
                raise ValueError(f"{label}: state {state!r} is not '<side> <STATE>' with a "
                                 f"side of {tuple(sides)} and a TCP state "
                                 "(CLOSE_WAIT, FIN_WAIT2...)")
        for call in _tuple_of(outcome.calls, CallOutcome, f"{label}: calls"):
            _call(call, label, sides, declared)


def _call(call: Any, label: str, sides: Sequence[str], declared: set[str]) -> None:
    what = f"{label}: CallOutcome({call.side!r}, {call.call!r}, {call.nth!r})"
    if call.side not in sides:
        raise ValueError(f"{what}: the side must be one of {tuple(sides)}")
    if not isinstance(call.nth, int) or isinstance(call.nth, bool) or call.nth in (0,) \
            or call.nth < -1:
        raise ValueError(f"{what}: nth counts from 1 (-1 is the last call)")
    for field in ("ret", "errno", "signal"):
        value = getattr(call, field)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{what}: {field} must be text, e.g. {field}={str(value)!r}")
    if call.errno and call.errno not in errno.errorcode.values():
        raise ValueError(f"{what}: {call.errno!r} is no errno name (EPIPE, ECONNRESET...)")
    if call.ret and "{" in call.ret:
        fields = [field for _, field, _, _ in string.Formatter().parse(call.ret) if field]
        unknown = [field for field in fields if field not in declared]
        if unknown:
            raise ValueError(f"{what}: ret names {{{unknown[0]}}}, which is no parameter of "
                             f"this scenario ({', '.join(sorted(declared)) or 'it has none'})")
