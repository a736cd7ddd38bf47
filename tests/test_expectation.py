"""Verdicts: a Trace against a scenario's acceptable outcomes (no root needed)."""

from __future__ import annotations

from factory import make_trace

from tcptrace_viz.scenarios import get
from tcptrace_viz.scenarios.expectation import CallOutcome, Outcome, judge


def test_close_then_write_story_passes() -> None:
    verdict = judge(make_trace(), get("close-then-write").outcomes)
    assert verdict.passed, verdict.detail
    assert "server send #2 -> EPIPE" in verdict.observed


def test_a_different_errno_fails_with_a_reason() -> None:
    outcome = Outcome("strict", calls=(CallOutcome("server", "send", 2, errno="ECONNRESET"),))
    verdict = judge(make_trace(), (outcome,))
    assert not verdict.passed
    assert "EPIPE" in verdict.detail


def test_wire_order_and_forbidden_segments() -> None:
    in_order = Outcome("order", wire=("c2s F.", "s2c P.", "c2s R"))
    reversed_order = Outcome("reversed", wire=("c2s R", "c2s F."))
    no_reset = Outcome("no reset", forbidden=("c2s R*",))
    assert judge(make_trace(), (in_order,)).passed
    assert not judge(make_trace(), (reversed_order,)).passed
    assert "client→server RST (with any other flags)" in judge(make_trace(), (no_reset,)).detail


def test_any_order_and_states() -> None:
    crossing = Outcome("crossing", present=("s2c P*", "c2s F*"), states=("server CLOSE_WAIT",))
    assert judge(make_trace(), (crossing,)).passed
    missing = Outcome("missing", states=("client TIME_WAIT",))
    assert "client never reached TIME_WAIT" in judge(make_trace(), (missing,)).detail


def test_sampled_states_missing_a_short_lived_state_still_pass_with_a_note() -> None:
    needs_closing = Outcome("Linux", states=("client CLOSING",))
    traced = judge(make_trace(), (needs_closing,))
    assert not traced.passed
    sampled = judge(make_trace(state_source="sampled"), (needs_closing,))
    assert sampled.passed
    assert "not seen: client CLOSING" in sampled.detail
    wrong_wire = Outcome("Linux", present=("c2s S.",), states=("client CLOSING",))
    assert not judge(make_trace(state_source="sampled"), (wrong_wire,)).passed


def test_sampled_states_prefer_the_outcome_whose_states_were_seen() -> None:
    unseen = Outcome("first", states=("client CLOSING",))
    seen = Outcome("second", states=("server CLOSE_WAIT",))
    verdict = judge(make_trace(state_source="sampled"), (unseen, seen))
    assert verdict.passed and verdict.matched == "second" and verdict.detail == ""


def test_what_people_read_names_directions_and_flags_in_words() -> None:
    from tcptrace_viz.render.console import console_summary
    from tcptrace_viz.scenarios.verdict import judge_run

    trace = judge_run(make_trace(), get("close-then-write"))
    shown = " ".join([*trace.meta.expected, *trace.meta.observed, trace.meta.verdict_detail,
                      console_summary(trace)])
    assert "client→server F." in shown and "server→client P." in shown
    assert not any(word in shown for word in ("c2s", "s2c", "R*", "F*", "P*"))
    outcome = Outcome("crossing", present=("s2c F*",), forbidden=("c2s R*",))
    assert outcome.describe() == ["wire, in any order: server→client FIN (with any other flags)",
                                  "no client→server RST (with any other flags) on the wire"]
    assert outcome.describe(("writer", "reader"))[1].startswith("no writer→reader RST")
