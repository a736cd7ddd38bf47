"""Each state change between the packets and calls that cause it; results where calls return."""

from __future__ import annotations

import pandas as pd
from factory import call, close_then_write_rows, make_trace, pkt, state

from tcptrace_viz.analysis.causality import order_violations, settle, state_bounds
from tcptrace_viz.render.ladder_layout import build_ladder


def test_the_linux_story_is_in_causal_order() -> None:
    assert order_violations(make_trace()) == []


def test_time_wait_before_the_peers_fin_is_named() -> None:
    """The defect this module guards against: TIME_WAIT drawn before the FIN that caused it."""
    packets = [*close_then_write_rows()[0][:5],
               pkt(300, "server", "F.", 1, 2), pkt(310, "client", ".", 2, 2)]
    states = [state(95, "client", "ESTABLISHED", "FIN_WAIT1"),
              state(115, "client", "FIN_WAIT1", "FIN_WAIT2"),
              state(120, "client", "FIN_WAIT2", "TIME_WAIT", source="socket-table")]
    problems = order_violations(make_trace(packets, states, []))
    assert problems == ["client TIME_WAIT is timestamped 180.0 µs before the peer's FIN"]


def test_guessed_states_are_not_held_to_the_kernels_order() -> None:
    states = [state(300, "server", "ESTABLISHED", "CLOSE_WAIT", source="sampled")]
    assert order_violations(make_trace(states=states)) == []


def test_a_change_moves_inside_its_microsecond_only() -> None:
    """The trace clock says which microsecond; cause and effect say where inside it."""
    trace = make_trace()
    states = trace.states
    bounds = state_bounds(trace.packets, states, trace.syscalls)
    close_wait = int(states.index[states["new"] == "CLOSE_WAIT"][0])
    fin_ns = int(trace.packets.loc[trace.packets["flags"] == "F.", "ts_ns"].iloc[0])
    assert bounds[close_wait].after_ns == fin_ns
    # A window that straddles the FIN: the change lands just after it.
    early = states.copy()
    early.loc[close_wait, "ts_ns"] = fin_ns - 400
    low = early["ts_ns"].to_numpy().copy()
    high = low + 999
    settled = settle(early, bounds, low, high)
    assert int(settled.loc[close_wait, "ts_ns"]) == fin_ns + 1
    # A window wholly before the FIN cannot be mended: the timestamp stays and is reported.
    far = settle(early, bounds, low - 5000, high - 5000)
    assert int(far.loc[close_wait, "ts_ns"]) == fin_ns - 400


def test_a_result_appears_where_the_call_returned() -> None:
    """connect() -> ECONNREFUSED after the SYN and the RST, not at the call's start."""
    packets = [pkt(10, "client", "S", 0, 0), pkt(20, "server", "R.", 1, 1, reason="NO_SOCKET")]
    states = [state(5, "client", "CLOSE", "SYN_SENT"),
              state(25, "client", "SYN_SENT", "CLOSE", reason="RST received")]
    syscalls = [call(0, "client", "connect", "127.0.0.1:5555", errno="ECONNREFUSED",
                     duration_us=40)]
    trace = make_trace(packets, states, syscalls, state_source="tracepoint")
    table = trace.timeline()
    assert list(table["kind"]) == ["call", "state", "packet", "packet", "state", "syscall"]
    assert table["text"].iloc[-1].endswith("-> ECONNREFUSED")
    ladder = build_ladder(trace)
    labels = [event.label for event in ladder.events]
    assert labels[0] == "connect() called" and labels[-1] == "connect() -> ECONNREFUSED"
    # The server had no socket: the kernel answered for it, and the picture says so.
    assert ladder.lifelines[1].side == "server (no socket)"


def test_a_call_with_nothing_inside_is_one_row() -> None:
    trace = make_trace(syscalls=[call(400, "server", "close", ret="0")])
    assert list(trace.timeline()["kind"]).count("call") == 0
    assert pd.Series(trace.timeline()["kind"]).iloc[-1] == "syscall"
