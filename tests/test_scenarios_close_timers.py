"""The close cases that turn on a lost segment, a timer or a setting, run ten times in a row.

Each runs for real (root: a network namespace, nft loss rules, tracefs), so each must behave the
same way every time on this kernel, IPv4 and IPv6 alike.
"""

from __future__ import annotations

import socket

import pytest
from capturing import capture

pytestmark = pytest.mark.root

TIMER_CASES = ("close-syn-sent", "fin-wait2-linger2", "fin-user-timeout",
               "keepalive-timeout", "accept-overflow-abort")


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("name", TIMER_CASES)
def test_the_timer_teardowns_pass_ten_runs_in_a_row(name: str, family: int) -> None:
    """Every one of ten runs matches the outcome the scenario declares."""
    for run in range(10):
        trace = capture(name, family).trace
        assert trace.meta.verdict == "pass", (run, trace.meta.verdict_detail)


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("name", ["time-wait-assassination", "time-wait-rfc1337"])
def test_the_time_wait_pair_passes_ten_runs_in_a_row(name: str, family: int) -> None:
    """tcp_rfc1337 0 and 1, ten runs each: the RST kills TIME_WAIT, or TIME_WAIT ignores it."""
    for run in range(10):
        trace = capture(name, family).trace
        assert trace.meta.verdict == "pass", (run, trace.meta.verdict_detail)


@pytest.mark.parametrize("rfc1337", ["0", "1"])
def test_time_wait_ends_at_the_rst_only_when_tcp_rfc1337_is_0(rfc1337: str) -> None:
    """The client's TIME_WAIT ends right after the server's first RST (socket table) with 0;
    with 1 it is still listed at the end.  The two injected segments are counted as such."""
    name = "time-wait-assassination" if rfc1337 == "0" else "time-wait-rfc1337"
    trace = capture(name).trace
    assert trace.meta.sysctls["net.ipv4.tcp_rfc1337"] == rfc1337
    client = trace.states[trace.states["side"] == "client"]
    packets = trace.packets
    first_rst = int(packets.loc[packets["flags"].str.contains("R"), "ts_ns"].iloc[0])
    if rfc1337 == "0":
        end = client.iloc[-1]
        assert (end["old"], end["new"], end["source"]) == ("TIME_WAIT", "CLOSE", "socket-table")
        assert first_rst < int(end["ts_ns"]) <= first_rst + 1
    else:
        assert client.iloc[-1]["new"] == "TIME_WAIT"
        assert "still listed" in trace.meta.facts["note"]
    stats = trace.meta.stats
    assert stats["injected"] == 2
    assert stats["not_captured_unexplained"] == 0 and stats["lost"] == 0
    assert stats["kernel_sent_segs"] + 2 == stats["tcp_segments"]
