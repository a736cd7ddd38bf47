"""connections(): one summary row per connection."""

from __future__ import annotations

import pandas as pd
from builders import (
    Wire,
    close_then_write,
    close_unread,
    connect_refused,
    linger0,
    merge,
    mid_connection,
    normal_close,
    retransmission,
    shutdown_half_close,
    simultaneous_close,
    zero_window,
)
from factory import make_trace

from tcptrace_viz.analysis import CONNECTION_COLUMNS, annotate_packets, connections


def one(wire: Wire) -> dict[str, object]:
    table = connections(annotate_packets(wire.frame()))
    assert len(table) == 1
    return dict(table.iloc[0])


def test_columns_and_dtypes() -> None:
    table = connections(close_then_write().frame())
    assert list(table.columns) == list(CONNECTION_COLUMNS)
    assert {name: str(dtype) for name, dtype in table.dtypes.items()} == CONNECTION_COLUMNS


def test_close_then_write() -> None:
    row = one(close_then_write())
    assert row["client"] == "127.0.0.1:40000" and row["server"] == "127.0.0.1:5555"
    assert (row["closed_by"], row["close_kind"], row["rst_from"]) == ("client", "FIN", "client")
    assert (row["packets"], row["bytes_c2s"], row["bytes_s2c"]) == (7, 0, 3)
    assert row["handshake"]
    assert row["duration_s"] == (row["last_ts_ns"] - row["first_ts_ns"]) / 1e9
    assert row["summary"] == (
        "127.0.0.1:40000 connected to 127.0.0.1:5555; the client closed first with FIN; then "
        "the client sent RST; 7 packets, 0 bytes to the server and 3 back, over 60 µs.")


def test_normal_and_half_close() -> None:
    for wire in (normal_close(), shutdown_half_close()):
        row = one(wire)
        assert (row["closed_by"], row["close_kind"], row["rst_from"]) == ("client", "FIN", "")


def test_abortive_closes() -> None:
    for wire in (linger0(), close_unread()):
        row = one(wire)
        assert (row["closed_by"], row["close_kind"], row["rst_from"]) == ("client", "RST",
                                                                          "client")
        assert "reset it (RST instead of FIN)" in str(row["summary"])


def test_refused() -> None:
    row = one(connect_refused())
    assert (row["closed_by"], row["close_kind"], row["rst_from"]) == ("server", "RST", "server")
    assert "which refused it with RST" in str(row["summary"])


def test_simultaneous_close() -> None:
    row = one(simultaneous_close())
    assert (row["closed_by"], row["close_kind"]) == ("both", "simultaneous")


def test_open_and_mid_connection() -> None:
    row = one(Wire().handshake().send("client", "P.", 5))
    assert (row["closed_by"], row["close_kind"]) == ("", "open")
    assert "still open" in str(row["summary"])
    row = one(mid_connection())
    assert not row["handshake"]
    assert (row["client"], row["closed_by"]) == ("10.0.0.1:51000", "server")
    assert "mid-connection" in str(row["summary"])


def test_retransmissions_and_zero_window_are_counted() -> None:
    row = one(retransmission())
    assert (row["retransmissions"], row["zero_window"]) == (1, 0)
    assert "(1 retransmission)" in str(row["summary"])
    assert "over 200 ms" in str(row["summary"])
    row = one(zero_window())
    assert (row["retransmissions"], row["zero_window"]) == (0, 2)
    assert one(connect_refused())["zero_window"] == 0  # an RST's window 0 is no zero window


def test_several_connections_and_the_same_tuple_twice() -> None:
    first = normal_close()
    again = linger0()
    for row in again.rows:
        row["ts_ns"] += round(first.clock_us * 1000)
    other = close_then_write()
    other.ends["client"] = ("127.0.0.1", 40001)
    for row in other.rows:
        row["sport" if row["sport"] == 40000 else "dport"] = 40001
        row["ts_ns"] += 5_000
    table = connections(merge(first, again, other))
    assert list(table["conn"]) == [0, 1, 2]
    assert list(table["close_kind"]) == ["FIN", "FIN", "RST"]
    assert list(table["client"]) == ["127.0.0.1:40000", "127.0.0.1:40001", "127.0.0.1:40000"]
    assert table["packets"].sum() == len(first.rows) + len(again.rows) + len(other.rows)


def test_ipv6_endpoints_are_bracketed() -> None:
    row = one(normal_close(Wire(client=("fe80::1", 40000), server=("fe80::2", 5555))))
    assert (row["client"], row["server"]) == ("[fe80::1]:40000", "[fe80::2]:5555")


def test_empty_and_trace_packets() -> None:
    table = connections(close_then_write().frame().iloc[0:0])
    assert len(table) == 0 and list(table.columns) == list(CONNECTION_COLUMNS)
    row = dict(connections(make_trace().packets).iloc[0])
    assert (row["closed_by"], row["rst_from"]) == ("client", "client")


def test_deterministic() -> None:
    frame = merge(normal_close(), linger0())
    pd.testing.assert_frame_equal(connections(frame), connections(frame.copy()))
