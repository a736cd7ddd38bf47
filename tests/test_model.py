"""The Trace data contract: column schemas, ``Trace.build``, the timeline, flags and states."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factory import T0, call, make_trace, pkt, state

from tcptrace_viz.meta import TraceMeta
from tcptrace_viz.model import (
    PACKET_COLUMNS,
    STATE_COLUMNS,
    SYSCALL_COLUMNS,
    Trace,
    call_moments,
    conform,
    empty_frame,
)
from tcptrace_viz.tcp import (
    OBSERVED_SOURCES,
    STATE_SOURCES,
    TCP_STATES,
    TH_ACK,
    TH_CWR,
    TH_ECE,
    TH_FIN,
    TH_PSH,
    TH_RST,
    TH_SYN,
    TH_URG,
    tcp_flags_to_str,
)

SCHEMAS = {"packets": PACKET_COLUMNS, "states": STATE_COLUMNS, "syscalls": SYSCALL_COLUMNS}


def _assert_schema(frame: pd.DataFrame, columns: dict[str, str]) -> None:
    assert list(frame.columns) == list(columns)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == columns
    for name, dtype in columns.items():
        if dtype == "object":
            assert all(isinstance(value, str) for value in frame[name]), name
    assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0


# --- flags and states ---------------------------------------------------------------------------

@pytest.mark.parametrize("bits, text", [
    (TH_SYN, "S"), (TH_SYN | TH_ACK, "S."), (TH_ACK, "."), (TH_PSH | TH_ACK, "P."),
    (TH_FIN | TH_ACK, "F."), (TH_RST, "R"), (TH_RST | TH_ACK, "R."), (0, "none"),
    (TH_FIN | TH_SYN | TH_RST | TH_PSH | TH_ACK | TH_URG | TH_ECE | TH_CWR, "FSRP.UEW"),
    (TH_SYN | TH_ECE | TH_CWR, "SEW"),
])
def test_flags_read_as_tcpdump_writes_them(bits: int, text: str) -> None:
    assert tcp_flags_to_str(bits) == text


def test_flag_bits_are_the_headers() -> None:
    bits = [TH_FIN, TH_SYN, TH_RST, TH_PSH, TH_ACK, TH_URG, TH_ECE, TH_CWR]
    assert bits == [1 << bit for bit in range(8)]


def test_state_numbers_are_the_kernels() -> None:
    assert TCP_STATES[1] == "ESTABLISHED" and TCP_STATES[6] == "TIME_WAIT"
    assert TCP_STATES[7] == "CLOSE" and TCP_STATES[10] == "LISTEN"
    assert sorted(TCP_STATES) == list(range(1, 13))
    assert set(STATE_SOURCES) > OBSERVED_SOURCES
    assert "inferred" not in OBSERVED_SOURCES and "sampled" not in OBSERVED_SOURCES


# --- schemas --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SCHEMAS))
def test_an_empty_frame_has_the_schema(name: str) -> None:
    frame = empty_frame(SCHEMAS[name])
    assert frame.empty
    assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == SCHEMAS[name]


def test_conform_fills_orders_converts_and_drops() -> None:
    frame = pd.DataFrame({"extra": [1, 2], "errno": [None, "EPIPE"], "ts_ns": [20, 10],
                          "ret": pd.Series([3, None], dtype=object), "call": ["send", "send"]})
    shaped = conform(frame, SYSCALL_COLUMNS)
    _assert_schema(shaped, SYSCALL_COLUMNS)
    assert shaped["ts_ns"].tolist() == [20, 10]  # conform does not sort; build does
    assert shaped["errno"].tolist() == ["", "EPIPE"]  # missing text becomes ""
    assert shaped["ret"].tolist() == ["3", ""]  # numbers become their text
    assert shaped["side"].tolist() == ["", ""] and shaped["duration_ns"].tolist() == [0, 0]
    assert "extra" not in shaped


def test_conform_keeps_a_frames_index_out() -> None:
    frame = pd.DataFrame({"ts_ns": [5, 6], "side": ["client", "server"]}, index=[7, 3])
    shaped = conform(frame, STATE_COLUMNS)
    assert shaped.index.tolist() == [0, 1]
    assert shaped["side"].tolist() == ["client", "server"]


# --- Trace.build ----------------------------------------------------------------------------------

def test_build_gives_every_frame_its_schema() -> None:
    trace = make_trace()
    for name, columns in SCHEMAS.items():
        _assert_schema(getattr(trace, name), columns)
    assert len(trace.packets) == 7 and len(trace.states) == 8 and len(trace.syscalls) == 5


def test_build_without_frames_gives_empty_frames_with_the_schema() -> None:
    trace = Trace.build()
    for name, columns in SCHEMAS.items():
        frame = getattr(trace, name)
        assert frame.empty
        assert {column: str(dtype) for column, dtype in frame.dtypes.items()} == columns
    assert trace.meta == TraceMeta()
    assert trace.origin_ns == 0
    assert trace.timeline().empty


def test_build_sorts_by_time_stably() -> None:
    packets = [pkt(30, "client", ".", 1, 1), pkt(10, "client", "S", 0, 0),
               pkt(30, "server", "P.", 1, 1, length=3), pkt(20, "server", "S.", 0, 1)]
    trace = make_trace(packets, [], [])
    assert trace.packets["flags"].tolist() == ["S", "S.", ".", "P."]  # equal times keep order
    assert trace.packets.index.tolist() == [0, 1, 2, 3]


def test_t_counts_seconds_from_the_first_event_of_any_frame() -> None:
    trace = make_trace()
    first = T0 - 10_000  # the client's connect() starts before any packet or state
    assert trace.origin_ns == first
    for frame in (trace.packets, trace.states, trace.syscalls):
        assert np.allclose(frame["t"], (frame["ts_ns"] - first) / 1e9)
    assert trace.syscalls["t"].iloc[0] == 0.0
    assert trace.packets["t"].iloc[0] == pytest.approx(10e-6)


def test_build_copies_meta() -> None:
    meta = TraceMeta(scenario="linger0")
    trace = Trace.build(meta=meta)
    meta.scenario = "changed"
    assert trace.meta == TraceMeta(scenario="linger0")


def test_sides_come_from_meta_or_default() -> None:
    assert make_trace().sides == ["client", "server"]
    assert make_trace(sides=("writer", "reader")).sides == ["writer", "reader"]
    assert make_trace(sides=["only one"]).sides == ["client", "server"]
    assert make_trace(sides=None).sides == ["client", "server"]


def test_a_side_without_socket_is_one_the_kernel_answered_for() -> None:
    packets = [pkt(0, "client", "S", 0, 0), pkt(10, "server", "R.", 0, 1, reason="NO_SOCKET")]
    states = [state(-5, "client", "CLOSE", "SYN_SENT"), state(12, "client", "SYN_SENT", "CLOSE")]
    refused = make_trace(packets, states, [], state_source="tracepoint")
    assert refused.sides_without_socket() == {"server"}
    assert make_trace(packets, states, [], state_source="inferred").sides_without_socket() == set()
    assert make_trace(state_source="tracepoint").sides_without_socket() == set()
    assert make_trace([], [], [], state_source="tracepoint").sides_without_socket() == set()


def test_equals_compares_frames_and_meta() -> None:
    assert make_trace().equals(make_trace())
    assert not make_trace().equals(make_trace(verdict="fail"))
    other = make_trace()
    other.syscalls.loc[4, "errno"] = "ECONNRESET"
    assert not make_trace().equals(other)


# --- the timeline ---------------------------------------------------------------------------------

def test_the_timeline_merges_all_three_in_time_order() -> None:
    trace = make_trace()
    table = trace.timeline()
    assert list(table.columns) == ["ts_ns", "t", "kind", "side", "text", "row"]
    assert table["ts_ns"].is_monotonic_increasing
    kinds = table["kind"].value_counts().to_dict()
    assert kinds == {"packet": 7, "state": 8, "syscall": 5, "call": 1}
    for kind, frame in (("packet", trace.packets), ("state", trace.states),
                        ("syscall", trace.syscalls)):
        assert sorted(table.loc[table["kind"] == kind, "row"]) == list(range(len(frame)))
    assert np.allclose(table["t"], (table["ts_ns"] - trace.origin_ns) / 1e9)


def test_a_syscall_sits_where_it_returned_and_a_long_one_marks_its_start() -> None:
    table = make_trace().timeline()
    connect = table[table["text"].str.startswith("connect(")]
    # connect() spans the SYN and SYN-ACK: its start is a "call" row, its result a "syscall" one
    assert connect["kind"].tolist() == ["call", "syscall"]
    assert connect["ts_ns"].tolist() == [T0 - 10_000, T0 + 20_000]
    assert connect["text"].tolist() == ["connect(127.0.0.1:5555) called",
                                        "connect(127.0.0.1:5555) = 0"]
    close = table[table["text"].str.startswith("close(")]
    assert close["kind"].tolist() == ["syscall"]  # nothing happened while it ran
    send = table[(table["kind"] == "syscall") & (table["side"] == "server")]
    assert send["text"].tolist()[-1] == "send(b'456', MSG_NOSIGNAL) -> EPIPE"


def test_a_packets_side_is_its_sender() -> None:
    table = make_trace(sides=["left", "right"]).timeline()
    packets = table[table["kind"] == "packet"]
    assert packets["side"].tolist() == ["left", "right", "left", "left", "right", "right",
                                        "left"]
    assert packets["text"].iloc[5] == "[P.] seq 1:4 ack 2 win 512 len 3"


def test_a_packet_of_unknown_roles_is_sent_by_its_address() -> None:
    row = dict(pkt(0, "client", "S", 0, 0), dir="")
    table = make_trace([row], [], []).timeline()
    assert table["side"].tolist() == ["127.0.0.1:40000"]


def test_events_at_one_nanosecond_keep_call_packet_state_syscall_order() -> None:
    packets = [pkt(10, "client", "F.", 1, 1)]
    states = [state(10, "client", "ESTABLISHED", "FIN_WAIT1")]
    syscalls = [call(10, "server", "recv", ret="0", duration_us=0),
                call(5, "client", "close", ret="0", duration_us=10)]  # returns at 15
    table = make_trace(packets, states, syscalls).timeline()
    at_ten = table[table["ts_ns"] == T0 + 10_000]
    assert at_ten["kind"].tolist() == ["packet", "state", "syscall"]
    assert table["kind"].tolist() == ["call", "packet", "state", "syscall", "syscall"]


def test_call_moments() -> None:
    syscalls = pd.DataFrame({"ts_ns": [0, 100, 200], "duration_ns": [50, 10, -5]})
    start, end, spans = call_moments(syscalls, np.array([50, 105]), np.array([25]))
    assert start.tolist() == [0, 100, 200]
    assert end.tolist() == [50, 110, 200]  # a negative duration counts as none
    assert spans.tolist() == [True, True, False]  # an event at the very end is not inside
    assert call_moments(syscalls)[2].tolist() == [False, False, False]


@pytest.mark.parametrize("limit", [0, 1, 3, 7, 100])
def test_a_limited_timeline_is_the_head_of_the_whole_one(limit: int) -> None:
    """``timeline(limit)`` describes only the rows it keeps, and they are the whole table's
    first rows; ``timeline_length`` counts the whole table, call starts included."""
    from factory import close_then_write, linger0, long_trace

    for trace in (close_then_write(), linger0(), long_trace(50)):
        whole = trace.timeline()
        assert trace.timeline_length() == len(whole)
        head = trace.timeline(limit)
        pd.testing.assert_frame_equal(head, whole.head(limit), check_index_type=False)


def test_an_injected_segment_is_the_one_its_inject_call_sent() -> None:
    """The first segment with the call's flags, from its side, captured while it ran; the
    kernel's answer inside the same call (another flag) and a later copy are not."""
    packets = [pkt(0, "server", ".", 1, 1), pkt(100, "server", ".", 1, 1),
               pkt(110, "client", ".", 2, 2), pkt(120, "server", "R", 2, 0),
               pkt(300, "server", ".", 1, 1)]
    syscalls = [call(90, "server", "inject", "[.] an old duplicate", "40", duration_us=50),
                call(200, "server", "inject", "[R]", "", errno="EPERM", duration_us=200)]
    trace = make_trace(packets, [], syscalls)
    assert trace.injected_packets() == {1}
    assert make_trace(packets, [], []).injected_packets() == set()
    texts = trace.timeline()["text"].tolist()
    assert sum("injected" in text for text in texts) == 1


def test_a_built_trace_shares_no_writes_with_the_frames_it_was_built_from() -> None:
    """Columns are taken without copying (pandas 3 copies on write), yet each side may edit."""
    source = pd.DataFrame({"ts_ns": [1, 2], "win": [7, 8], "src": ["a", "b"],
                           "flags": ["S", "."]})
    trace = Trace.build(packets=source)
    trace.packets.loc[0, "win"] = 1
    trace.packets.loc[0, "src"] = "edited"
    assert source["win"].tolist() == [7, 8] and source["src"].tolist() == ["a", "b"]
    source.loc[1, "win"] = 999
    source.loc[1, "flags"] = "R"
    assert trace.packets["win"].tolist() == [1, 8]
    assert trace.packets["flags"].tolist() == ["S", "."]
    assert trace.packets["src"].dtype == object
