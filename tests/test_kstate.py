"""Parsing the kernel's trace text, the socket table and turning them into state rows."""

from __future__ import annotations

import socket

from tcptrace_viz.capture.kstate import KernelTracer
from tcptrace_viz.capture.kstates import apply_time_wait, states_from_events
from tcptrace_viz.capture.netns import run_addresses
from tcptrace_viz.capture.sockettable import SocketEntry, _address
from tcptrace_viz.capture.syscalls import errno_name, poll_flags_to_str

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
    rows = states_from_events(_events(), {"127.0.0.9"}, 5555, until_ns=2**62)
    assert [row["new"] for row in rows] == ["SYN_SENT", "CLOSE", ""]
    assert rows[0]["side"] == "client" and rows[1]["side"] == "server"
    assert rows[1]["reason"] == "RST received"
    assert "TCP_ABORT_ON_LINGER" in rows[2]["reason"]


def test_time_wait_rewrites_the_last_close() -> None:
    rows = [{"ts_ns": 1, "side": "client", "local": "127.0.0.9:40000",
             "remote": "127.0.0.9:5555", "old": "FIN_WAIT2", "new": "CLOSE",
             "source": "tracepoint", "reason": ""}]
    apply_time_wait(rows, [SocketEntry("127.0.0.9:40000", "127.0.0.9:5555", "TIME_WAIT")],
                    5555, 5)
    assert rows[0]["new"] == "TIME_WAIT" and rows[0]["source"] == "socket-table"


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
