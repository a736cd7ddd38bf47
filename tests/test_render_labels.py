"""The short texts drawn on a ladder, and which syscall results are shown as failures."""

from __future__ import annotations

import pandas as pd
from factory import call, make_trace

from tcptrace_viz.render import render
from tcptrace_viz.render.labels import call_failed, calls_failed
from tcptrace_viz.render.ladder_layout import build_ladder


def test_would_block_is_an_answer_not_a_failure() -> None:
    assert not call_failed("EAGAIN", "") and not call_failed("EWOULDBLOCK", "")
    assert call_failed("EPIPE", "") and call_failed("", "SIGPIPE")
    assert call_failed("EAGAIN", "SIGPIPE")
    assert not call_failed("", "")
    errno = pd.Series(["", "EAGAIN", "EPIPE", "", "EWOULDBLOCK"])
    signal = pd.Series(["", "", "", "SIGPIPE", ""])
    assert calls_failed(errno, signal).tolist() == [False, False, True, True, False]


def test_eagain_is_drawn_as_a_normal_result() -> None:
    trace = make_trace(syscalls=[call(80, "client", "send", "b'x' * 65536", errno="EAGAIN"),
                                 call(300, "server", "send", "b'1'", errno="EPIPE")])
    calls = build_ladder(trace).of_kind("syscall")
    by_label = {event.label: event.error for event in calls}
    assert by_label["send() -> EAGAIN (would block)"] is False
    assert by_label["send() -> EPIPE"] is True
    assert "send() -> EAGAIN (would block)" in render(trace, "txt")
