"""findings(): plain-word observations about one connection."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from builders import (
    Wire,
    close_then_write,
    close_unread,
    connect_refused,
    linger0,
    linger0_data_loss,
    mid_connection,
    normal_close,
    retransmission,
    shutdown_half_close,
    simultaneous_close,
    zero_window,
)
from factory import make_trace

from tcptrace_viz.analysis import Finding, annotate_packets, findings


def kinds(wire: Wire) -> list[str]:
    return [f.kind for f in findings(wire.frame(), 0)]


def by_kind(wire: Wire) -> dict[str, Finding]:
    return {f.kind: f for f in findings(annotate_packets(wire.frame()), 0)}


def test_finding_is_frozen() -> None:
    finding = Finding("closed-first", "x", 1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.kind = "y"  # type: ignore[misc]


def test_close_then_write_tells_the_puzzle() -> None:
    found = by_kind(close_then_write())
    assert set(found) == {"closed-first", "data-after-fin"}
    assert found["closed-first"].text == "The client closed first (FIN at frame 4)."
    assert found["closed-first"].frame == 4
    puzzle = found["data-after-fin"]
    assert puzzle.text.startswith("The server sent 3 bytes after the client's FIN; the client "
                                  "answered with RST (frame 7)")
    assert puzzle.frame == 6


def test_findings_are_ordered_by_time() -> None:
    found = findings(close_then_write().frame(), 0)
    assert [f.ts_ns for f in found] == sorted(f.ts_ns for f in found)


def test_shutdown_is_a_half_close_without_reset() -> None:
    found = by_kind(shutdown_half_close())
    assert set(found) == {"closed-first", "half-close", "time-wait"}
    assert "delivered" in found["half-close"].text


def test_normal_close_time_wait() -> None:
    found = by_kind(normal_close())
    assert set(found) == {"closed-first", "time-wait"}
    assert found["time-wait"].text.startswith("The client ends in TIME_WAIT")


@pytest.mark.parametrize("story", [linger0, close_unread])
def test_rst_instead_of_fin(story: Callable[[], Wire]) -> None:
    found = by_kind(story())
    assert set(found) == {"closed-first", "abortive-close"}
    assert found["closed-first"].text.startswith("The client closed first (RST at frame")
    assert "instead of closing it with FIN" in found["abortive-close"].text


def test_abortive_close_counts_unread_and_unacknowledged_bytes() -> None:
    text = by_kind(close_unread())["abortive-close"].text
    assert "The client had received 100 bytes from the server" in text
    assert "never acknowledged" not in text
    text = by_kind(linger0_data_loss())["abortive-close"].text
    assert "2,000 bytes the client had sent were never acknowledged by the server" in text
    assert "had received" not in text


def test_refused_connect() -> None:
    found = findings(connect_refused().frame(), 0)
    assert [f.kind for f in found] == ["refused"]
    assert found[0].text.startswith("The server refused the connection: it answered the "
                                    "client's SYN (frame 1) with RST (frame 2)")


def test_simultaneous_close() -> None:
    found = by_kind(simultaneous_close())
    assert set(found) == {"simultaneous-close", "time-wait"}
    assert "frames 4 and 5" in found["simultaneous-close"].text
    assert found["time-wait"].text.startswith("Both sides end in TIME_WAIT")


def test_rst_after_an_orderly_close_began() -> None:
    wire = Wire().handshake().send("client", "F.").send("server", ".").send("server", "R.")
    found = by_kind(wire)
    assert found["rst-after-fin"].text.startswith(
        "The server sent RST (frame 6) after the client's FIN (frame 4)")


def test_data_after_fin_without_answer() -> None:
    wire = Wire().handshake().send("client", "F.").send("server", "P.", 3)
    assert "no answer from the client" in by_kind(wire)["data-after-fin"].text


def test_retransmission_and_zero_window() -> None:
    found = by_kind(retransmission())
    assert found["retransmission"].text.startswith(
        "The client retransmitted 1 segment (first at frame 5: seq 1:101)")
    assert found["retransmission"].frame == 5
    found = by_kind(zero_window())
    assert found["zero-window"].text.startswith(
        "The server advertised a zero window (frame 5; 2 segments in all)")


def test_mid_connection() -> None:
    found = findings(mid_connection().frame(), 0)
    assert found[0].kind == "mid-connection" and found[0].frame == 1
    assert "closed-first" in [f.kind for f in found]


def test_trace_packets_work_too() -> None:
    assert [f.kind for f in findings(make_trace().packets, 0)] == ["closed-first",
                                                                   "data-after-fin"]


def test_deterministic() -> None:
    frame = close_then_write().frame()
    assert findings(frame, 0) == findings(frame.copy(), 0)


def test_bytes_the_capture_missed_are_said_and_whether_they_arrived() -> None:
    wire = Wire().handshake().send("server", "P.", 10)
    wire.send("server", "P.", 10, seq=21).send("client", ".")  # 11:21 never captured; ACKed
    gap = by_kind(wire)["capture-gap"]
    assert gap.text == ("The capture misses 10 bytes the server sent (seq 11:21), before frame "
                        "5: the client acknowledged them, so they were sent and received but "
                        "not captured.")
    unacked = Wire().handshake().send("server", "P.", 10).send("server", "P.", 10, seq=21)
    assert "they were never captured" in by_kind(unacked)["capture-gap"].text
    resent = Wire().handshake().send("server", "P.", 10).send("server", "P.", 10, seq=21)
    resent.send("server", "P.", 10, seq=11)  # the hole filled by a later copy: no gap
    assert "capture-gap" not in by_kind(resent)
    assert "capture-gap" not in by_kind(normal_close())
