"""infer_states: both endpoints' TCP states from the packets of one connection."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from builders import (
    Wire,
    close_then_write,
    close_unread,
    connect_refused,
    linger0,
    merge,
    normal_close,
    shutdown_half_close,
    simultaneous_close,
)
from factory import make_trace

from tcptrace_viz.analysis import annotate_packets, infer_all_states, infer_states
from tcptrace_viz.errors import BadInputError
from tcptrace_viz.model import STATE_COLUMNS

HANDSHAKE = [("client", "CLOSE", "SYN_SENT"), ("server", "LISTEN", "SYN_RECV"),
             ("client", "SYN_SENT", "ESTABLISHED"), ("server", "SYN_RECV", "ESTABLISHED")]


def steps(states: pd.DataFrame) -> list[tuple[str, str, str]]:
    return list(zip(states["side"], states["old"], states["new"], strict=True))


def final(states: pd.DataFrame) -> dict[str, str]:
    return {side: rows["new"].iloc[-1] for side, rows in states.groupby("side")}


def test_normal_close_active_closer_holds_time_wait() -> None:
    states = infer_states(normal_close().frame(), 0)
    assert list(states.columns) == list(STATE_COLUMNS)
    assert steps(states) == [*HANDSHAKE,
                             ("client", "ESTABLISHED", "FIN_WAIT1"),
                             ("server", "ESTABLISHED", "CLOSE_WAIT"),
                             ("client", "FIN_WAIT1", "FIN_WAIT2"),
                             ("server", "CLOSE_WAIT", "LAST_ACK"),
                             ("client", "FIN_WAIT2", "TIME_WAIT"),
                             ("server", "LAST_ACK", "CLOSE")]
    assert (states["source"] == "inferred").all()
    assert states["ts_ns"].is_monotonic_increasing
    assert set(states["local"]) == {"127.0.0.1:40000", "127.0.0.1:5555"}


def test_changes_sit_one_ns_around_the_causing_packet() -> None:
    frame = normal_close().frame()
    states = infer_states(frame, 0)
    fin = frame[frame["flags"] == "F."].iloc[0]
    by_new = states.set_index("new")
    assert by_new.loc["FIN_WAIT1", "ts_ns"] == fin["ts_ns"] - 1  # the sender's change
    assert by_new.loc["CLOSE_WAIT", "ts_ns"] == fin["ts_ns"] + 1  # the receiver's


def test_fin_that_acks_the_peers_fin_goes_through_fin_wait2_to_time_wait() -> None:
    wire = Wire().handshake()
    wire.send("client", "F.").send("server", "F.").send("client", ".")
    states = infer_states(wire.frame(), 0)
    assert steps(states)[4:] == [("client", "ESTABLISHED", "FIN_WAIT1"),
                                 ("server", "ESTABLISHED", "CLOSE_WAIT"),
                                 ("server", "CLOSE_WAIT", "LAST_ACK"),
                                 ("client", "FIN_WAIT1", "FIN_WAIT2"),
                                 ("client", "FIN_WAIT2", "TIME_WAIT"),
                                 ("server", "LAST_ACK", "CLOSE")]


def test_close_then_write_ends_in_resets() -> None:
    states = infer_states(close_then_write().frame(), 0)
    assert steps(states)[-2:] == [("client", "FIN_WAIT2", "CLOSE"),
                                  ("server", "CLOSE_WAIT", "CLOSE")]
    assert list(states["reason"].iloc[-2:]) == ["RST sent", "RST received"]


def test_shutdown_keeps_the_half_closed_side_reading() -> None:
    states = infer_states(shutdown_half_close().frame(), 0)
    assert final(states) == {"client": "TIME_WAIT", "server": "CLOSE"}
    assert "RST" not in " ".join(states["reason"])


@pytest.mark.parametrize("story", [linger0, close_unread])
def test_abortive_close_goes_straight_to_close(story: Callable[[], Wire]) -> None:
    states = infer_states(story().frame(), 0)
    assert steps(states)[-2:] == [("client", "ESTABLISHED", "CLOSE"),
                                  ("server", "ESTABLISHED", "CLOSE")]
    assert list(states["reason"].iloc[-2:]) == ["RST sent", "RST received"]


def test_refused_connect_has_no_server_socket() -> None:
    states = infer_states(connect_refused().frame(), 0)
    assert steps(states) == [("client", "CLOSE", "SYN_SENT"), ("client", "SYN_SENT", "CLOSE")]
    assert states["reason"].iloc[-1] == "RST received"


def test_simultaneous_close_both_through_closing_to_time_wait() -> None:
    states = infer_states(simultaneous_close().frame(), 0)
    for side in ("client", "server"):
        mine = states[states["side"] == side]
        assert list(mine["new"])[-4:] == ["ESTABLISHED", "FIN_WAIT1", "CLOSING", "TIME_WAIT"]
    assert states["ts_ns"].is_monotonic_increasing


def test_retransmitted_syn_and_fin_change_nothing_twice() -> None:
    wire = Wire().send("client", "S").send("client", "S", seq=0).send("server", "S.")
    wire.send("client", ".").send("client", "F.").send("client", "F.", seq=1)
    wire.send("server", ".").send("server", "F.").send("client", ".")
    states = infer_states(wire.frame(), 0)
    assert list(states["new"]).count("SYN_SENT") == 1
    assert list(states["new"]).count("FIN_WAIT1") == 1
    assert final(states) == {"client": "TIME_WAIT", "server": "CLOSE"}


def test_mid_connection_start_begins_established() -> None:
    wire = Wire(client=("10.0.0.1", 51000), server=("10.0.0.2", 443))
    wire.nxt = {"client": 1, "server": 1}
    wire.send("server", "P.", 10).send("client", ".").send("server", "F.")
    wire.send("client", "F.").send("server", ".")
    frame = wire.frame()
    states = infer_states(frame, 0)
    first_two = states.iloc[:2]
    assert list(first_two["old"]) == ["", ""]
    assert list(first_two["new"]) == ["ESTABLISHED", "ESTABLISHED"]
    assert set(first_two["reason"]) == {"capture starts mid-connection"}
    assert (first_two["ts_ns"] < frame["ts_ns"].min()).all()
    assert "SYN_SENT" not in set(states["new"])
    assert final(states) == {"client": "CLOSE", "server": "TIME_WAIT"}


def test_second_connection_on_the_same_tuple_is_inferred_alone() -> None:
    first = normal_close()
    second = linger0()
    second.clock_us = first.clock_us
    for row in second.rows:
        row["ts_ns"] += round(first.clock_us * 1000)
    packets = annotate_packets(merge(first, second))
    assert final(infer_states(packets, 1)) == {"client": "CLOSE", "server": "CLOSE"}
    assert final(infer_states(packets, 0)) == {"client": "TIME_WAIT", "server": "CLOSE"}


def test_works_on_a_traces_packets_table() -> None:
    trace = make_trace()
    states = infer_states(trace.packets, 0)
    assert steps(states)[-2:] == [("client", "FIN_WAIT2", "CLOSE"),
                                  ("server", "CLOSE_WAIT", "CLOSE")]


def test_unknown_connection_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="no connection 3"):
        infer_states(normal_close().frame(), 3)


def test_ipv6_endpoints_are_bracketed() -> None:
    states = infer_states(normal_close(Wire(client=("::1", 40000),
                                            server=("::1", 5555))).frame(), 0)
    assert set(states["local"]) == {"[::1]:40000", "[::1]:5555"}


def test_infer_all_states_equals_one_by_one() -> None:
    first = normal_close()
    again = linger0()
    for row in again.rows:
        row["ts_ns"] += round(first.clock_us * 1000)
    other = close_then_write()
    for row in other.rows:
        row["sport" if row["sport"] == 40000 else "dport"] = 40001
        row["ts_ns"] += 5_000
    packets = annotate_packets(merge(first, again, other))
    each = pd.concat([infer_states(packets, conn) for conn in (0, 1, 2)], ignore_index=True)
    pd.testing.assert_frame_equal(infer_all_states(packets), each)
    chosen = pd.concat([infer_states(packets, conn) for conn in (2, 0)], ignore_index=True)
    pd.testing.assert_frame_equal(infer_all_states(packets, [2, 0, 7]), chosen)
    assert len(infer_all_states(packets.iloc[0:0])) == 0


def test_simultaneous_open_both_through_syn_recv() -> None:
    wire = Wire().send("client", "S").send("server", "S", seq=0, ack=0)
    wire.send("client", "S.", seq=0, ack=1).send("server", "S.", seq=0, ack=1)
    states = infer_states(wire.frame(), 0)
    for side in ("client", "server"):
        mine = states[states["side"] == side]
        assert list(mine["new"]) == ["SYN_SENT", "SYN_RECV", "ESTABLISHED"]


def test_a_reused_4_tuples_later_connection_lends_no_states_to_the_first() -> None:
    """Inferred states are matched to the drawn connection by its addresses and its span: the
    refused SYN that reuses the 4-tuple later keeps its SYN_SENT and CLOSE to itself."""
    from builders import Wire, connect_refused, merge, normal_close

    from tcptrace_viz.analysis import annotate_packets, infer_all_states
    from tcptrace_viz.analysis.selection import select
    from tcptrace_viz.model import Trace

    later = connect_refused()
    later.rows = [{**row, "ts_ns": row["ts_ns"] + 1_000_000} for row in later.rows]
    packets = annotate_packets(merge(normal_close(Wire()), later))
    assert packets["conn"].nunique() == 2
    trace = Trace.build(packets=packets, states=infer_all_states(packets),
                        meta={"source": "file", "state_source": "inferred"})
    for conn in (0, 1):
        shown = select(trace, conn).trace
        span = shown.packets["ts_ns"]
        assert shown.states["ts_ns"].between(span.min() - 2, span.max() + 1).all()
        assert len(shown.states) == len(infer_all_states(packets, [conn]))
