"""Parsing the kernel's trace text, the socket table and turning them into state rows."""

from __future__ import annotations

import socket

import pandas as pd

from tcptrace_viz.capture.kernel_states import (
    MINI_SOCKET_NOTE,
    SentReset,
    follow_timewait_sockets,
    packet_reasons,
    states_from_events,
)
from tcptrace_viz.capture.tracefs import KernelTracer
from tcptrace_viz.kernel.netns import run_addresses
from tcptrace_viz.kernel.sockettable import SocketEntry, _address
from tcptrace_viz.kernel.syscalls import errno_name, poll_flags_to_str

LINES = """\
 python3-5622 [001] ..... 1795607381.266375: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=0 dport=5555 saddr=127.0.0.9 daddr=127.0.0.9 saddrv6=::ffff:127.0.0.9 daddrv6=::ffff:127.0.0.9 oldstate=TCP_CLOSE newstate=TCP_SYN_SENT
 python3-5622 [001] ..s2. 1795607381.267065: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=5555 dport=43548 saddr=127.0.0.9 daddr=127.0.0.9 saddrv6=::ffff:127.0.0.9 daddrv6=::ffff:127.0.0.9 oldstate=TCP_ESTABLISHED newstate=TCP_CLOSE
 python3-5622 [001] ..s2. 1795607381.267049: tcp_receive_reset: family=AF_INET sport=5555 dport=43548 saddr=127.0.0.9 daddr=127.0.0.9 saddrv6=::ffff:127.0.0.9 daddrv6=::ffff:127.0.0.9 sock_cookie=1
 python3-5622 [001] ..... 1795607381.267073: tcp_send_reset: skbaddr=0 skaddr=0 src=127.0.0.9:43548 dest=127.0.0.9:5555 state=TCP_CLOSE reason=TCP_ABORT_ON_LINGER
 other-1 [000] ..... 1795607381.267080: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=22 dport=50000 saddr=10.0.0.1 daddr=10.0.0.2 saddrv6=::ffff:10.0.0.1 daddrv6=::ffff:10.0.0.2 oldstate=TCP_ESTABLISHED newstate=TCP_CLOSE
"""


def _events():
    tracer = KernelTracer("/nonexistent")
    return [event for line in LINES.splitlines() if (event := tracer._parse(line))]


def test_trace_lines_parse_with_context() -> None:
    events = _events()
    assert len(events) == 5
    assert not events[0].softirq and events[1].softirq
    # Process context: start of the microsecond; softirq: its end.
    assert events[0].ts_ns % 1000 == 0 and events[1].ts_ns % 1000 == 999


def test_only_this_runs_sockets_become_states() -> None:
    rows, sent = states_from_events(_events(), {"127.0.0.9"}, 5555, until_ns=2**62)
    # Every row is a real state change: no row made of a reset reason alone.
    assert [row["new"] for row in rows] == ["SYN_SENT", "CLOSE"]
    assert rows[0]["side"] == "client" and rows[1]["side"] == "server"
    assert rows[1]["reason"] == "RST received"
    assert [(reset.local, reset.reason) for reset in sent] == [
        ("127.0.0.9:43548", "TCP_ABORT_ON_LINGER")]


C, S = "127.0.0.9:40000", "127.0.0.9:5555"


def _packets(*rows: tuple[int, str, str]) -> pd.DataFrame:
    """(ts_ns, sender endpoint, flags) -> a minimal packets table."""
    out = []
    for ts, sender, flags in rows:
        receiver = S if sender == C else C
        out.append({"ts_ns": ts, "src": sender.rsplit(":", 1)[0],
                    "sport": int(sender.rsplit(":", 1)[1]), "dst": receiver.rsplit(":", 1)[0],
                    "dport": int(receiver.rsplit(":", 1)[1]), "flags": flags})
    return pd.DataFrame(out)


def _close_row(ts: int, old: str) -> dict:
    return {"ts_ns": ts, "side": "client", "local": C, "remote": S, "old": old,
            "new": "CLOSE", "source": "tracepoint", "reason": ""}


def test_an_orphaned_fin_wait2_lives_on_until_the_peers_fin() -> None:
    """close() before the peer's FIN: the full socket's CLOSE is a hand-over to a mini-socket,
    still FIN_WAIT2; TIME_WAIT starts when the peer's FIN arrives, not before."""
    rows = [_close_row(100, "FIN_WAIT2")]
    packets = _packets((50, C, "F."), (90, S, "."), (5000, S, "F."), (5010, C, "."))
    follow_timewait_sockets(rows, packets, [SocketEntry(C, S, "TIME_WAIT")], [], 5555, 9000)
    assert [(r["old"], r["new"], r["source"]) for r in rows] == [
        ("FIN_WAIT2", "FIN_WAIT2", "tracepoint"), ("FIN_WAIT2", "TIME_WAIT", "socket-table")]
    assert rows[0]["reason"] == MINI_SOCKET_NOTE
    assert rows[1]["ts_ns"] == 5001  # just after the peer's FIN, before the ACK of it


def test_a_fin_wait2_that_got_the_fin_enters_time_wait_at_once() -> None:
    rows = [_close_row(5003, "FIN_WAIT2")]
    packets = _packets((50, C, "F."), (90, S, "."), (5000, S, "F."), (5010, C, "."))
    follow_timewait_sockets(rows, packets, [SocketEntry(C, S, "TIME_WAIT")], [], 5555, 9000)
    assert [(r["new"], r["ts_ns"]) for r in rows] == [("TIME_WAIT", 5003)]


def test_a_mini_socket_ends_with_its_reset() -> None:
    """The question's client: data reaches the FIN_WAIT2 mini-socket, which answers RST and is
    removed; the client is not drawn CLOSE before that RST."""
    rows = [_close_row(100, "FIN_WAIT2")]
    packets = _packets((50, C, "F."), (90, S, "."), (7000, S, "P."), (7010, C, "R"))
    sent = [SentReset(7005, C, S, "TCP_TIMEWAIT_SOCKET", "TIME_WAIT")]
    follow_timewait_sockets(rows, packets, [], sent, 5555, 9000)
    assert [(r["new"], r["ts_ns"]) for r in rows] == [("FIN_WAIT2", 100), ("CLOSE", 7005)]
    assert "TCP_TIMEWAIT_SOCKET" in rows[1]["reason"]
    assert packet_reasons(packets, sent) == ["", "", "", "TCP_TIMEWAIT_SOCKET"]


def test_socket_table_addresses() -> None:
    assert _address("0100007F:15B3") == "127.0.0.1:5555"
    assert _address("00000000000000000000000001000000:0050") == "[::1]:80"


def test_names_not_numbers() -> None:
    assert errno_name(32) == "EPIPE"
    assert poll_flags_to_str(0x2001) == "POLLIN|POLLRDHUP"
    assert poll_flags_to_str(0) == "0"


def test_run_addresses_differ_per_pid() -> None:
    assert run_addresses(socket.AF_INET, 1234) != run_addresses(socket.AF_INET, 1235)
    assert run_addresses(socket.AF_INET, 1234)[0].startswith("127.")
    assert ":" in run_addresses(socket.AF_INET6, 1234)[0]


def test_a_time_wait_listed_then_gone_ends_after_the_rst_it_received() -> None:
    """RFC 1337's assassination: the steps saw TIME_WAIT in the table, an RST reached it, and
    a later read no longer lists it: CLOSE sorts right after that RST, from the socket table."""
    rows = [_close_row(100, "FIN_WAIT2")]
    packets = _packets((50, C, "F."), (90, S, "."), (200, S, "F."), (210, C, "."),
                       (6000, S, "."), (6010, C, "."), (6020, S, "R"), (7000, S, "."),
                       (7010, C, "R"))
    tables = [(300, [SocketEntry(C, S, "TIME_WAIT")]), (6500, [])]
    follow_timewait_sockets(rows, packets, [], [], 5555, 9000, tables)
    assert [(r["new"], r["ts_ns"], r["source"]) for r in rows] == [
        ("FIN_WAIT2", 100, "tracepoint"), ("TIME_WAIT", 201, "socket-table"),
        ("CLOSE", 6021, "socket-table")]
    assert "RST it received" in rows[2]["reason"]


def test_a_mini_socket_gone_without_a_segment_ends_when_the_table_said_so() -> None:
    """TCP_LINGER2: the FIN_WAIT2 mini-socket times out; its end is the read that missed it."""
    rows = [_close_row(100, "FIN_WAIT2")]
    packets = _packets((50, C, "F."), (90, S, "."))
    tables = [(150, [SocketEntry(C, S, "FIN_WAIT2")]), (1100, [])]
    follow_timewait_sockets(rows, packets, [], [], 5555, 9000, tables)
    assert [(r["new"], r["ts_ns"]) for r in rows] == [("FIN_WAIT2", 100), ("CLOSE", 1100)]
    assert rows[1]["reason"] == "no longer in the socket table"


def test_a_full_socket_listed_before_its_close_is_not_a_mini_socket() -> None:
    """A read that listed the full socket (before the tracepoint's CLOSE) says nothing about a
    mini-socket: the CLOSE stands."""
    rows = [_close_row(100, "FIN_WAIT1")]
    packets = _packets((50, C, "F."))
    follow_timewait_sockets(rows, packets, [], [], 5555, 9000,
                            [(60, [SocketEntry(C, S, "FIN_WAIT1")]), (200, [])])
    assert [(r["new"], r["ts_ns"]) for r in rows] == [("CLOSE", 100)]


def test_a_reset_sent_for_no_socket_is_no_sockets_close() -> None:
    """RFC 1337's second copy: the client's kernel resets it for no socket (state UNKNOWN)
    a millisecond after the client's own CLOSE; that CLOSE did not send it."""
    tracer = KernelTracer("/nonexistent")
    lines = [
        " python3-5622 [001] ..s2. 1795607381.266000: inet_sock_set_state: family=AF_INET "
        "protocol=IPPROTO_TCP sport=43548 dport=5555 saddr=127.0.0.9 daddr=127.0.0.9 "
        "saddrv6=::ffff:127.0.0.9 daddrv6=::ffff:127.0.0.9 oldstate=TCP_FIN_WAIT2 "
        "newstate=TCP_CLOSE",
        " python3-5622 [001] ..s2. 1795607381.267000: tcp_send_reset: skbaddr=0 skaddr=0 "
        "src=127.0.0.9:43548 dest=127.0.0.9:5555 state=TCP_UNKNOWN reason=NO_SOCKET",
    ]
    events = [event for line in lines if (event := tracer._parse(line))]
    rows, sent = states_from_events(events, {"127.0.0.9"}, 5555, until_ns=2**62)
    assert [(row["new"], row["reason"]) for row in rows] == [("CLOSE", "")]
    assert [(reset.reason, reset.state) for reset in sent] == [("NO_SOCKET", "UNKNOWN")]
