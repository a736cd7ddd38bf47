"""Key moments: a scenario names the events its lesson turns on; a run finds and numbers them."""

from __future__ import annotations

import pytest
from factory import call, close_then_write, handshake, long_trace, make_trace

from tcptrace_viz.meta import KeyMoment, TraceMeta
from tcptrace_viz.render import prepare, render
from tcptrace_viz.render.ladder_layout import FOLD_MIN, build_ladder
from tcptrace_viz.scenarios.moments import Moment, find_moment, find_moments


@pytest.mark.parametrize("event", ["client", "client close now please", "server FIN_WAIT9",
                                   "server send #x", "c2s"])
def test_a_bad_notation_is_refused_when_the_scenario_is_defined(event: str) -> None:
    with pytest.raises(ValueError, match="key moment"):
        Moment(event, "words")


def test_moments_are_found_where_the_ladder_draws_them() -> None:
    trace = close_then_write()
    calls, packets, states = trace.syscalls, trace.packets, trace.states
    second_send = calls[(calls["side"] == "server") & (calls["call"] == "send")].iloc[1]
    found = find_moment(trace, Moment("server send #2", "fails"))
    assert found == KeyMoment("syscall", int(second_send["ts_ns"] + max(
        second_send["duration_ns"], 0)), "fails")
    reset = packets[packets["flags"].str.startswith("R")].iloc[0]
    assert find_moment(trace, Moment("c2s R*", "reset")) == KeyMoment(
        "packet", int(reset["ts_ns"]), "reset")
    wait = states[(states["side"] == "server") & (states["new"] == "CLOSE_WAIT")].iloc[0]
    assert find_moment(trace, Moment("server CLOSE_WAIT", "waits")) == KeyMoment(
        "state", int(wait["ts_ns"]), "waits")
    last = find_moment(trace, Moment("server send #last", "last"))
    assert last is not None and last.ts_ns == found.ts_ns
    assert find_moment(trace, Moment("server send #9", "none")) is None
    assert find_moment(trace, Moment("s2c R", "none")) is None


def test_moments_are_numbered_in_time_order_and_survive_json() -> None:
    trace = close_then_write()
    trace.meta.key_moments = find_moments(trace, (
        Moment("server send #2", "second"), Moment("client close", "first"),
        Moment("s2c R", "never")))
    assert [m.says for m in trace.meta.key_moments] == ["first", "second"]
    assert TraceMeta.from_json(trace.meta.to_json()).key_moments == trace.meta.key_moments
    ladder = build_ladder(trace)
    numbered = {e.moment: e.ref for e in ladder.events if e.moment}
    assert sorted(numbered) == [1, 2] and ladder.moments == ("first", "second")
    svg = render(prepare(trace), "svg")
    assert ">first<" in svg and ">second<" in svg


def test_untrusted_moments_are_checked_field_by_field() -> None:
    meta = TraceMeta.from_json({"key_moments": [
        {"kind": "packet", "ts_ns": 5, "says": "<b>ok</b>"},
        {"kind": "script", "ts_ns": 5, "says": "x"}, {"kind": "state", "ts_ns": "5", "says": "x"},
        {"kind": "state", "ts_ns": True, "says": "x"}, "text", 3]})
    assert meta.key_moments == [KeyMoment("packet", 5, "<b>ok</b>")]
    assert TraceMeta.from_json({"key_moments": "no"}).key_moments == []


def test_hostile_moment_words_stay_text_in_svg() -> None:
    trace = close_then_write()
    trace.meta.key_moments = find_moments(trace, (
        Moment("client close", "</text><script>alert(1)</script> $x^2$"),))
    svg = render(prepare(trace), "svg")
    assert "<script" not in svg and "&lt;/text&gt;&lt;script&gt;" in svg


def test_a_key_moment_is_never_elided() -> None:
    trace = long_trace(400)
    middle = trace.packets.iloc[len(trace.packets) // 2]
    trace.meta.key_moments = [KeyMoment("packet", int(middle["ts_ns"]), "the middle one")]
    ladder = build_ladder(trace)
    assert any(e.kind == "elided" for e in ladder.events)
    assert [e.ts_ns for e in ladder.events if e.moment] == [int(middle["ts_ns"])]


def test_identical_results_in_a_row_fold_into_one_event() -> None:
    sends = [call(1000 + 10 * i, "client", "send", ret="262144") for i in range(30)]
    trace = make_trace(handshake(), [], sends)
    ladder = build_ladder(trace)
    drawn = [e for e in ladder.of_kind("syscall") if e.label.startswith("send()")]
    assert len(drawn) == 1
    assert drawn[0].label == "send() = 262144 \u00d730, 7.5 MiB"
    few = make_trace(handshake(), [], sends[:FOLD_MIN - 1])
    assert len([e for e in build_ladder(few).of_kind("syscall")]) == FOLD_MIN - 1


def test_the_badges_play_with_their_events_and_the_words_wait_for_show_all() -> None:
    """In the HTML player a badge is one of its event's parts (``tv-<ref>-badge``), so it
    appears when its event does; the footer's words are ``tv-note-*``, hidden while playing."""
    trace = close_then_write()
    trace.meta.key_moments = find_moments(trace, (Moment("client close", "first"),
                                                  Moment("c2s R", "second")))
    ladder = build_ladder(trace)
    svg = render(prepare(trace), "svg")
    for event in ladder.events:
        if event.moment:
            assert f'id="tv-{event.ref}-badge"' in svg
    assert 'id="tv-note-0"' in svg and 'id="tv-note-1"' in svg
    html = render(prepare(trace), "html")
    assert '"-badge"' in html and '[id^="tv-note"]' in html
