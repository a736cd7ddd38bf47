"""annotate_packets: connections, directions, relative numbers."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from builders import (
    DECODED_COLUMNS,
    WANT_COLUMNS,
    Wire,
    close_then_write,
    connect_refused,
    merge,
    normal_close,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tcptrace_viz.analysis import annotate_packets


def check_expected(frame: pd.DataFrame) -> pd.DataFrame:
    out = annotate_packets(frame)
    assert list(out["conn"]) == list(frame["want_conn"])
    assert list(out["dir"]) == list(frame["want_dir"])
    assert list(out["rel_seq"]) == list(frame["want_rel_seq"])
    assert list(out["rel_ack"]) == list(frame["want_rel_ack"])
    return out


def test_close_then_write_numbers_from_the_isn() -> None:
    out = check_expected(close_then_write().frame(expected=True))
    assert list(out["rel_seq"]) == [0, 0, 1, 1, 1, 1, 2]
    assert list(out["rel_ack"]) == [0, 1, 1, 1, 2, 2, 0]
    assert out["conn"].dtype == np.int64 and out["rel_seq"].dtype == np.int64
    assert out["dir"].dtype == object


def test_keeps_input_columns_order_and_index() -> None:
    frame = close_then_write().frame()
    shuffled = frame.iloc[[3, 0, 6, 1, 2, 5, 4]]
    out = annotate_packets(shuffled)
    assert list(out.columns) == [*DECODED_COLUMNS, "conn", "dir", "rel_seq", "rel_ack"]
    assert list(out.index) == [3, 0, 6, 1, 2, 5, 4]
    pd.testing.assert_frame_equal(out.sort_index(), annotate_packets(frame))
    pd.testing.assert_frame_equal(out[DECODED_COLUMNS], shuffled)


def test_reannotating_replaces_columns_and_is_deterministic() -> None:
    frame = normal_close().frame()
    once = annotate_packets(frame)
    pd.testing.assert_frame_equal(annotate_packets(once), once)
    pd.testing.assert_frame_equal(annotate_packets(frame.copy()), once)


def test_empty_frame() -> None:
    empty = close_then_write().frame().iloc[0:0]
    out = annotate_packets(empty)
    assert len(out) == 0
    assert {"conn", "dir", "rel_seq", "rel_ack"} <= set(out.columns)
    assert out["conn"].dtype == np.int64


def test_connect_refused_rst_counts_from_one() -> None:
    out = annotate_packets(connect_refused().frame())
    assert list(out["dir"]) == ["c2s", "s2c"]
    assert list(out["rel_seq"]) == [0, 1]  # as Wireshark shows the RST: Seq=1 Ack=1
    assert list(out["rel_ack"]) == [0, 1]


def test_mid_connection_start_uses_first_seq_minus_one_and_higher_port_client() -> None:
    wire = Wire(client=("10.0.0.1", 51000), server=("10.0.0.2", 443), isn_c=7_000, isn_s=9_000)
    wire.nxt = {"client": 1, "server": 1}
    wire.send("server", "P.", 10).send("client", ".").send("client", "F.")
    out = check_expected(wire.frame(expected=True))
    assert list(out["dir"]) == ["s2c", "c2s", "c2s"]
    assert list(out["rel_seq"]) == [1, 1, 1]
    assert list(out["rel_ack"]) == [1, 11, 11]


def test_equal_ports_without_handshake_first_speaker_is_client() -> None:
    wire = Wire(client=("10.0.0.2", 179), server=("10.0.0.1", 179))
    wire.nxt = {"client": 1, "server": 1}
    wire.send("client", "P.", 19).send("server", ".")
    check_expected(wire.frame(expected=True))


def test_only_one_direction_captured() -> None:
    wire = Wire()
    wire.nxt = {"client": 1, "server": 1}
    frame = wire.send("client", "P.", 10).send("client", "P.", 10).frame()
    out = annotate_packets(frame)
    assert list(out["rel_seq"]) == [1, 11]
    assert list(out["rel_ack"]) == [1, 1]


@pytest.mark.parametrize("isn_c", [(1 << 32) - 3, (1 << 32) - 1, 0])
def test_sequence_wraparound(isn_c: int) -> None:
    wire = Wire(isn_c=isn_c, isn_s=(1 << 32) - 2).handshake()
    for _ in range(3):
        wire.send("client", "P.", 1000).send("server", ".")
    out = check_expected(wire.send("client", "F.").send("server", "F.").send("client", ".")
                         .frame(expected=True))
    assert out["rel_seq"].is_unique is False
    assert out.loc[out["dir"] == "c2s", "rel_seq"].is_monotonic_increasing


def test_wraparound_without_handshake_and_beyond_4_gib() -> None:
    wire = Wire(isn_c=(1 << 32) - 5000)
    wire.nxt = {"client": 1, "server": 1}
    step = 1 << 30
    for _ in range(6):  # 6 GiB: the raw numbers wrap once more, relative ones keep growing
        wire.send("client", "P.", step).send("server", ".")
    out = check_expected(wire.frame(expected=True))
    assert out["rel_seq"].max() == 1 + 5 * step
    assert out["rel_ack"].max() == 1 + 6 * step


def test_two_connections_in_sequence_on_the_same_four_tuple() -> None:
    first = normal_close()
    second = normal_close(Wire(isn_c=900_000, isn_s=70, start_us=first.clock_us + 100))
    out = check_expected(merge(first, second, expected=True))
    assert out["conn"].tolist() == [0] * len(first.rows) + [1] * len(second.rows)


def test_new_syn_after_reset_and_syn_retransmission() -> None:
    refused = connect_refused()
    retry = Wire(isn_c=123_456, isn_s=0, start_us=refused.clock_us + 1000)
    retry.send("client", "S").send("client", "S", seq=0, after_us=1000)  # retransmitted SYN
    retry.send("server", "R.", seq=0, ack=1)
    out = annotate_packets(merge(refused, retry))
    assert out["conn"].tolist() == [0, 0, 1, 1, 1]
    assert out["rel_seq"].tolist() == [0, 1, 0, 0, 1]  # a RST without SYN counts from 1


def test_interleaved_connections_numbered_by_first_packet() -> None:
    a = normal_close(Wire(client=("127.0.0.1", 40001)))
    b = normal_close(Wire(client=("127.0.0.1", 39999), start_us=5))
    out = check_expected(merge(a, b, expected=True))
    assert out["conn"].iloc[0] == 0
    assert out["conn"].iloc[1] == 1


def test_ipv6_endpoints() -> None:
    wire = normal_close(Wire(client=("::1", 40000), server=("::1", 5555)))
    out = check_expected(wire.frame(expected=True))
    assert (out["ip_version"] == 6).all()
    assert out["conn"].nunique() == 1


def test_same_ports_different_addresses_are_different_connections() -> None:
    a = normal_close(Wire(client=("10.0.0.1", 40000), server=("10.0.0.9", 80)))
    b = normal_close(Wire(client=("10.0.0.2", 40000), server=("10.0.0.9", 80), start_us=3))
    check_expected(merge(a, b, expected=True))


def test_scale_200k_packets() -> None:
    wires = []
    for k in range(1000):
        wire = Wire(client=("10.1.0.1", 20000 + k), server=("10.1.0.2", 80),
                    isn_c=(1 << 32) - 150 * k, isn_s=k * 7919, start_us=k * 0.5)
        wire.handshake()
        for _ in range(97):
            wire.send("client", "P.", 100).send("server", ".")
        wire.send("client", "F.").send("server", ".").send("server", "F.").send("client", ".")
        wires.append(wire)
    frame = merge(*wires, expected=True)
    assert len(frame) == 201_000
    out = annotate_packets(frame)
    for column in ("conn", "dir", "rel_seq", "rel_ack"):
        assert (out[column].to_numpy() == frame[f"want_{column}"].to_numpy()).all(), column
    assert set(WANT_COLUMNS) <= set(out.columns)


def test_flags_letters_suffice_without_flag_bits() -> None:
    frame = close_then_write().frame(expected=True)
    out = check_expected(frame.drop(columns="flag_bits"))
    assert "flag_bits" not in out.columns


isns = st.integers(min_value=0, max_value=(1 << 32) - 1)


@settings(max_examples=40, deadline=None)
@given(isn_c=isns, isn_s=isns, sizes=st.lists(st.integers(0, 70_000), max_size=8),
       handshake=st.booleans(), offset_us=st.floats(0, 500), order_seed=st.randoms())
def test_property_numbers_follow_any_isn_and_row_order(
        isn_c: int, isn_s: int, sizes: list[int], handshake: bool, offset_us: float,
        order_seed: random.Random) -> None:
    a = Wire(isn_c=isn_c, isn_s=isn_s)
    b = Wire(client=("10.0.0.1", 65535), server=("10.0.0.2", 1024), isn_c=isn_s,
             isn_s=isn_c, start_us=offset_us)
    for wire in (a, b):
        if handshake:
            wire.handshake()
        else:
            wire.nxt = {"client": 1, "server": 1}
        for size in sizes:
            wire.send("client", "P.", size).send("server", "P.", size // 3)
        wire.send("server", "F.").send("client", "F.").send("server", ".")
    frame = merge(a, b, expected=True)
    rows = list(range(len(frame)))
    order_seed.shuffle(rows)
    out = annotate_packets(frame.iloc[rows]).sort_index()
    conn_of_first = out.groupby("want_conn")["conn"].first()
    assert sorted(conn_of_first) == [0, 1]
    assert (out["conn"] == out["want_conn"].map(conn_of_first)).all()
    if handshake or offset_us > 0:
        assert out["conn"].tolist() == out["want_conn"].tolist()
    for column in ("dir", "rel_seq", "rel_ack"):
        assert out[column].tolist() == out[f"want_{column}"].tolist(), column


def test_new_isn_on_a_reused_port_starts_a_new_connection_even_without_a_seen_close() -> None:
    first = Wire().handshake().send("client", "P.", 10).send("server", ".")  # close not captured
    second = Wire(isn_c=77_777, isn_s=88_888, start_us=first.clock_us + 50).handshake()
    out = check_expected(merge(first, second, expected=True))
    assert out["conn"].tolist() == [0] * 5 + [1] * 3


def test_simultaneous_open_stays_one_connection() -> None:
    wire = Wire().send("client", "S").send("server", "S", seq=0)
    wire.send("client", "S.", seq=0, ack=1).send("server", "S.", seq=0, ack=1)
    out = annotate_packets(wire.frame())
    assert out["conn"].tolist() == [0, 0, 0, 0]
    assert out["dir"].tolist() == ["c2s", "s2c", "c2s", "s2c"]
