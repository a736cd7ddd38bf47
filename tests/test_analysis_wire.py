"""Tests of ``builders.Wire``, the builder of decoded packet frames the analysis tests use."""

from __future__ import annotations

from builders import DECODED_COLUMNS, Wire, close_then_write, merge


def test_wire_numbers_follow_the_conversation() -> None:
    frame = close_then_write().frame()
    assert list(frame.columns) == DECODED_COLUMNS
    assert list(frame["flags"]) == ["S", "S.", ".", "F.", ".", "P.", "R"]
    assert list(frame["frame"]) == [1, 2, 3, 4, 5, 6, 7]
    assert frame["seq"].iloc[0] == 1000 and frame["ack"].iloc[1] == 1001
    assert frame["seq"].iloc[6] == 1002 and frame["ack"].iloc[6] == 0


def test_merge_interleaves_by_time() -> None:
    a = Wire().handshake()
    b = Wire(client=("127.0.0.1", 40001), start_us=15).handshake()
    frame = merge(a, b)
    assert frame["ts_ns"].is_monotonic_increasing
    assert list(frame["sport"].head(3)) == [40000, 5555, 40001]
