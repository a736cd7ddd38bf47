"""Scenario-shaped Traces rendered into every format, plus ladder layout checks.

The builders here (``SCENARIOS``) are reused by the other ``test_render_*`` files.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from factory import CLIENT, T0, call, close_then_write_rows, make_trace, pkt, state

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.model import Trace
from tcptrace_viz.render import FORMATS, render
from tcptrace_viz.render.ladder_layout import build_ladder

SVG_NS = "{http://www.w3.org/2000/svg}"


def handshake(t0: float = 0) -> list[dict]:
    return [pkt(t0, "client", "S", 0, 0), pkt(t0 + 10, "server", "S.", 0, 1),
            pkt(t0 + 20, "client", ".", 1, 1)]


def handshake_states(t0: float = 0) -> list[dict]:
    return [state(t0 + 15, "client", "SYN_SENT", "ESTABLISHED"),
            state(t0 + 25, "server", "SYN_RECV", "ESTABLISHED")]


def close_then_write() -> Trace:
    return make_trace()


def linger0() -> Trace:
    packets = [*handshake(), pkt(100, "client", "R.", 1, 1, reason="TCP_ABORT_ON_LINGER")]
    states = [*handshake_states(),
              state(100, "client", "ESTABLISHED", "CLOSE", reason="RST sent: TCP_ABORT_ON_LINGER"),
              state(105, "server", "ESTABLISHED", "CLOSE")]
    syscalls = [call(90, "client", "setsockopt", "SO_LINGER {1, 0}", ret="0"),
                call(95, "client", "close", ret="0"),
                call(200, "server", "send", "b'123', MSG_NOSIGNAL", errno="ECONNRESET")]
    return make_trace(packets, states, syscalls, scenario="linger0",
                      title="SO_LINGER {1, 0}: close() sends RST",
                      expected=["server send -> ECONNRESET"],
                      observed=["server send -> ECONNRESET"])


def pipe() -> Trace:
    syscalls = [call(0, "writer", "pipe", ret="0"), call(10, "reader", "close", ret="0"),
                call(20, "writer", "write", "b'123'", errno="EPIPE")]
    return make_trace([], [], syscalls, scenario="pipe", sides=["writer", "reader"],
                      endpoints={}, title="a pipe knows its reader is gone",
                      expected=["write -> EPIPE"], observed=["write -> EPIPE"])


def simultaneous_close() -> Trace:
    packets = [*handshake(), pkt(100, "client", "F.", 1, 1), pkt(101, "server", "F.", 1, 1),
               pkt(110, "client", ".", 2, 2), pkt(111, "server", ".", 2, 2)]
    states = [*handshake_states(),
              state(99, "client", "ESTABLISHED", "FIN_WAIT1"),
              state(100, "server", "ESTABLISHED", "FIN_WAIT1"),
              state(105, "client", "FIN_WAIT1", "CLOSING"),
              state(106, "server", "FIN_WAIT1", "CLOSING"),
              state(115, "client", "CLOSING", "TIME_WAIT", source="socket-table"),
              state(116, "server", "CLOSING", "TIME_WAIT", source="socket-table")]
    syscalls = [call(98, "client", "close", ret="0"), call(98.5, "server", "close", ret="0")]
    return make_trace(packets, states, syscalls, scenario="simultaneous-close")


def idle_gap() -> Trace:
    """close-then-write with a 5 s pause before the server writes."""
    packets, states, syscalls = close_then_write_rows()
    shift = 5_000_000  # µs

    def later(rows: list[dict], after_us: float) -> list[dict]:
        out = []
        for row in rows:
            moved = dict(row)
            if moved["ts_ns"] - T0 >= after_us * 1000:
                moved["ts_ns"] += shift * 1000
            out.append(moved)
        return out

    return make_trace(later(packets, 150), later(states, 150), later(syscalls, 150),
                      scenario="question")


def long_trace(n_data: int = 400) -> Trace:
    """A bulk transfer: many data segments and ACKs, then a reset."""
    packets = list(handshake())
    t = 100.0
    for i in range(n_data):
        packets.append(pkt(t, "client", "P.", 1 + 1000 * i, 1, length=1000))
        packets.append(pkt(t + 1, "server", ".", 1, 1 + 1000 * (i + 1)))
        t += 3
    packets.append(pkt(t + 10, "client", "R.", 1 + 1000 * n_data, 1))
    states = [*handshake_states(),
              state(t + 10, "client", "ESTABLISHED", "CLOSE",
                    reason="RST sent: TCP_ABORT_ON_LINGER"),
              state(t + 15, "server", "ESTABLISHED", "CLOSE")]
    syscalls = [call(90, "client", "send", "b'...' x 400000", ret="400000"),
                call(t + 5, "client", "close", ret="0")]
    return make_trace(packets, states, syscalls, scenario="linger0-data-loss",
                      bytes_accepted=400000, bytes_delivered=120000)


def ipv6() -> Trace:
    trace = make_trace(family="ipv6", endpoints={"client": "[::1]:40000",
                                                 "server": "[::1]:5555"})
    for frame in (trace.packets,):
        frame["src"] = "::1"
        frame["dst"] = "::1"
    trace.states["local"] = trace.states["local"].str.replace("127.0.0.1", "[::1]")
    trace.states["remote"] = trace.states["remote"].str.replace("127.0.0.1", "[::1]")
    return trace


def user_pcap() -> Trace:
    """A capture a user brings: two connections, states inferred, no syscalls."""
    packets, _, _ = close_then_write_rows()
    second = []
    for row in packets:
        row2 = dict(row)
        row2["conn"] = 1
        row2["ts_ns"] += 1_000_000
        if row2["sport"] == CLIENT[1]:
            row2["sport"] = 40001
        if row2["dport"] == CLIENT[1]:
            row2["dport"] = 40001
        second.append(row2)
    frames = [dict(row, frame=i + 1) for i, row in enumerate(packets + second)]
    states = [state(100, "client", "ESTABLISHED", "FIN_WAIT1", source="inferred"),
              state(110, "server", "ESTABLISHED", "CLOSE_WAIT", source="inferred")]
    return make_trace(frames, states, [], scenario="", source="file", file="bug-1234.pcap",
                      verdict="", expected=[], observed=[], kernel="", sysctls={})


SCENARIOS: dict[str, Callable[[], Trace]] = {
    "close-then-write": close_then_write,
    "linger0": linger0,
    "pipe": pipe,
    "simultaneous-close": simultaneous_close,
    "idle-gap": idle_gap,
    "long": long_trace,
    "ipv6": ipv6,
    "user-pcap": user_pcap,
}


def svg_ids(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [el.get("id", "") for el in root.iter() if el.get("id")]


# --- every scenario into every format -----------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_renders_in_every_format(name: str, fmt: str) -> None:
    out = render(SCENARIOS[name](), fmt)
    if isinstance(out, bytes):
        assert fmt == "png" and out.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        assert out.strip()
    if fmt == "svg":
        ET.fromstring(out)


def test_unknown_format_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="unknown format"):
        render(make_trace(), "pdf")


def test_unknown_connection_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="connection 7"):
        render(make_trace(), "txt", connection=7)


# --- the SVG ladder -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["close-then-write", "linger0", "simultaneous-close",
                                  "idle-gap", "ipv6"])
def test_svg_has_one_arrow_group_per_packet(name: str) -> None:
    trace = SCENARIOS[name]()
    ids = svg_ids(render(trace, "svg"))
    arrows = [i for i in ids if re.fullmatch(r"tv-p\d+", i)]
    assert len(arrows) == len(trace.packets)
    assert arrows == [f"tv-p{i}" for i in range(len(trace.packets))]


def test_long_trace_caps_arrows_and_marks_the_elision() -> None:
    trace = long_trace()
    ladder = build_ladder(trace)
    svg = render(trace, "svg")
    arrows = [i for i in svg_ids(svg) if re.fullmatch(r"tv-p\d+", i)]
    assert ladder.packets_total == len(trace.packets) == 804
    assert len(arrows) == ladder.packets_drawn < len(trace.packets)
    elided = ladder.of_kind("elided")
    assert elided and "not drawn" in elided[0].label
    assert "not drawn" in svg
    # the head and the tail are kept: the handshake and the final reset
    assert "tv-p0" in arrows and f"tv-p{len(trace.packets) - 1}" in arrows
    # the figure grows with the events, but stays bounded
    assert ladder.height < 200


def test_state_bands_match_states_table_per_side() -> None:
    for name in ("close-then-write", "linger0", "simultaneous-close", "long"):
        trace = SCENARIOS[name]()
        ladder = build_ladder(trace)
        svg_band_ids = [i for i in svg_ids(render(trace, "svg")) if re.fullmatch(r"tv-s\d+", i)]
        for lane, side in enumerate(trace.sides):
            expected = list(trace.states.loc[trace.states["side"] == side, "new"])
            bands = [b.state for b in ladder.bands if b.lane == lane]
            assert bands == expected, (name, side)
        assert len(svg_band_ids) == len(trace.states)


def test_bands_change_exactly_at_the_transition() -> None:
    ladder = build_ladder(make_trace())
    by_ref = {e.ref: e for e in ladder.events}
    for band in ladder.bands:
        assert band.y0 == by_ref[band.ref].y
        assert band.y1 > band.y0


def test_observed_and_inferred_states_look_different() -> None:
    svg = render(user_pcap(), "svg")
    assert "inferred" in svg
    assert "<path" in svg and "hatch" in svg.lower()  # matplotlib defines hatch patterns


def test_reset_reason_is_on_the_rst_arrow() -> None:
    ladder = build_ladder(linger0())
    rst = [e for e in ladder.of_kind("packet") if e.rst]
    assert [e.reason for e in rst] == ["TCP_ABORT_ON_LINGER"]
    svg = render(linger0(), "svg")
    assert "reset reason: TCP_ABORT_ON_LINGER" in svg
    assert "RST: TCP_ABORT_ON_LINGER" in render(linger0(), "txt")


def test_idle_gap_is_compressed_and_marked() -> None:
    ladder = build_ladder(idle_gap())
    gaps = ladder.of_kind("gap")
    assert len(gaps) == 1
    assert gaps[0].label == "5.0 s idle"
    # the 5 s pause takes about as much room as a few events, not 5 s worth of microseconds
    assert ladder.height < build_ladder(make_trace()).height + 5
    assert "5.0 s idle" in render(idle_gap(), "svg")
    assert "5.0 s idle" in render(idle_gap(), "txt")


def test_pipe_without_packets_draws_its_syscalls() -> None:
    ladder = build_ladder(pipe())
    assert not ladder.has_wire
    assert [e.label for e in ladder.of_kind("syscall")] == [
        "pipe() = 0", "close() = 0", "write() -> EPIPE"]
    assert [lifeline.label for lifeline in ladder.lifelines] == ["writer", "reader"]
    svg = render(pipe(), "svg")
    assert "write() -&gt; EPIPE" in svg
    ids = svg_ids(svg)
    assert {"tv-c0", "tv-c1", "tv-c2"} <= set(ids)


def test_ipv6_endpoints_are_bracketed() -> None:
    ladder = build_ladder(ipv6())
    assert ladder.lifelines[0].address == "[::1]:40000"
    assert ladder.lifelines[1].address == "[::1]:5555"


def test_connection_selects_one_connection() -> None:
    trace = user_pcap()
    first = build_ladder(trace)
    second = build_ladder(trace, connection=1)
    assert first.packets_total == second.packets_total == 7
    assert second.lifelines[0].address == "127.0.0.1:40001"
    assert "Connection 0 of 2" in first.note
    assert "Connection 1 of 2" in render(trace, "txt", connection=1)
    # inferred states belong to connection 0's addresses only
    assert len(first.bands) == 2 and not second.bands


def test_syscall_labels_read_like_the_issue() -> None:
    syscalls = [call(0, "server", "poll", "POLLIN|POLLRDHUP", ret="POLLIN|POLLRDHUP"),
                call(1, "server", "recv", "4096", ret="0"),
                call(2, "server", "send", "b'1'", ret="1"),
                call(3, "server", "write", "b'1'", signal="SIGPIPE"),
                call(4, "client", "close", ret="0")]
    ladder = build_ladder(make_trace([], [], syscalls))
    assert [e.label for e in ladder.of_kind("syscall")] == [
        "poll() -> POLLIN|POLLRDHUP", "recv() = 0 (EOF)", "send() = 1",
        "write() killed by SIGPIPE", "close() = 0"]
    assert [e.error for e in ladder.of_kind("syscall")] == [False, False, False, True, False]


def test_svg_is_deterministic() -> None:
    assert render(make_trace(), "svg") == render(make_trace(), "svg")


# --- the text ladder ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_text_ladder_fits_100_columns(name: str) -> None:
    text = render(SCENARIOS[name](), "txt")
    assert max(len(line) for line in text.splitlines()) <= 100


def test_text_ladder_arrows_point_from_sender() -> None:
    text = render(make_trace(), "txt")
    lines = text.splitlines()
    psh = next(line for line in lines if "[P.] seq 1:4 ack 2 len 3" in line)
    assert "|<-" in psh and psh.rstrip().endswith("-|")
    rst = next(line for line in lines if "[R] seq 2" in line)
    assert "|===" in rst and "=>|" in rst
    syn = next(line for line in lines if "[S] seq 0" in line)
    assert "->|" in syn
    # state changes and syscall results are written on their own side
    close_wait = next(line for line in lines if "[CLOSE_WAIT]" in line)
    assert close_wait.index("[CLOSE_WAIT]") > syn.index("->|")
    epipe = next(line for line in lines if "send() -> EPIPE" in line)
    assert epipe.index("send()") > syn.index("->|")
    assert "Verdict: PASS" in text


def test_text_ladder_strips_terminal_escapes() -> None:
    syscalls = [call(0, "client", "send\x1b[2J", ret="1")]
    text = render(make_trace([], [], syscalls, title="evil\x1b]0;pwned\x07"), "txt")
    assert "\x1b" not in text and "\x07" not in text


def test_text_and_markdown_do_not_import_matplotlib() -> None:
    code = ("import sys\nsys.path.insert(0, 'tests')\nfrom factory import make_trace\n"
            "from tcptrace_viz.render import render\n"
            "render(make_trace(), 'txt')\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
            "assert 'scapy' not in sys.modules\n")
    root = pathlib.Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_reset_reason_as_the_capture_writes_it() -> None:
    """The capture writes the kernel's reason on the RST segment it explains; state rows'
    notes ("RST sent: ...", "RST received") say why a socket closed, not why a segment left."""
    states = [*handshake_states(),
              state(99, "server", "ESTABLISHED", "CLOSE", reason="RST received"),
              state(101, "client", "ESTABLISHED", "CLOSE", reason="RST sent: TCP_STATE")]
    packets = [*handshake(), pkt(100, "client", "R.", 1, 1, reason="TCP_STATE")]
    ladder = build_ladder(make_trace(packets, states, []))
    assert [e.reason for e in ladder.of_kind("packet") if e.rst] == ["TCP_STATE"]
    without = [*handshake(), pkt(100, "client", "R.", 1, 1)]
    ladder = build_ladder(make_trace(without, states, []))
    assert [e.reason for e in ladder.of_kind("packet") if e.rst] == [""]
