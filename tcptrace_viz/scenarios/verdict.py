"""Judging a finished run: the step after the Trace exists, and before anything is rendered."""

from __future__ import annotations

from collections.abc import Mapping

from tcptrace_viz.meta import Value
from tcptrace_viz.model import Trace
from tcptrace_viz.scenarios.expectation import judge
from tcptrace_viz.scenarios.moments import find_moments, unseen_moments
from tcptrace_viz.scenarios.params import bind_outcomes, check_values
from tcptrace_viz.scenarios.registry import Scenario


def judge_run(trace: Trace, scenario: Scenario,
              params: Mapping[str, Value] | None = None) -> Trace:
    """``trace`` with ``scenario``'s verdict in its metadata (the trace is updated in place).

    The run passes when one of the scenario's outcomes matches, the scenario's own steps
    reported no error, and, for a scenario whose point is a complete capture, nothing was lost.
    ``params`` are the values the run used (expected call results may name them).
    """
    values = check_values(scenario, params)
    verdict = judge(trace, bind_outcomes(scenario.outcomes, values))
    meta = trace.meta
    error = meta.error
    losses = [str(loss) for loss in meta.stats.get("losses") or []]
    incomplete = ("the capture is incomplete: " + "; ".join(losses)
                  if scenario.complete and losses else "")
    passed = verdict.passed and not error and not incomplete
    detail = "; ".join(part for part in (error, incomplete, verdict.detail) if part)
    meta.expected, meta.observed = list(verdict.expected), list(verdict.observed)
    meta.verdict, meta.verdict_detail = ("pass" if passed else "fail"), detail
    meta.matched_outcome = verdict.matched
    meta.key_moments = find_moments(trace, scenario.key_moments)
    unseen = unseen_moments(trace, scenario.key_moments)
    if unseen:  # said, not failed: the outcomes are what the run is judged by
        meta.verdict_detail = "; ".join(part for part in (
            meta.verdict_detail, "key moment " + ", ".join(repr(event) for event in unseen)
            + " not seen in this run") if part)
    return trace
