"""Scenario-shaped Traces rendered into every format, plus ladder layout checks.

The Traces come from ``factory.SCENARIOS``, which the other ``test_render_*`` files share.
"""

from __future__ import annotations

import itertools
import pathlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from factory import (
    SCENARIOS,
    call,
    handshake,
    handshake_states,
    idle_gap,
    ipv6,
    linger0,
    long_trace,
    make_trace,
    pipe,
    pkt,
    state,
    user_pcap,
)

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.render import FORMATS, render
from tcptrace_viz.render.ladder_layout import build_ladder

SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_ids(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [el.get("id", "") for el in root.iter() if el.get("id")]


# --- every scenario into every format -----------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_renders_in_every_format(name: str, fmt: str) -> None:
    out = render(SCENARIOS[name](), fmt)
    if isinstance(out, bytes):
        magic = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}
        assert out.startswith(magic[fmt])
    else:
        assert out.strip()
    if fmt == "svg":
        ET.fromstring(out)


def test_unknown_format_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="unknown format"):
        render(make_trace(), "docx")


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


def test_legend_wraps_inside_the_figure_however_many_states() -> None:
    """A capture that walks through every state, all inferred, gets a legend that fits: items
    flow onto more lines rather than being cut at the figure's edges."""
    from tcptrace_viz.render.ladder_figure import FIG_WIDTH
    from tcptrace_viz.render.ladder_legend import MARGIN_INCHES, legend_lines, text_inches

    walk = ["CLOSE", "SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
            "CLOSING", "LAST_ACK", "CLOSE_WAIT", "LISTEN", "SYN_RECV", "CLOSE"]
    steps = list(enumerate(itertools.pairwise(walk)))
    states = [state(10 + i, side, old, new, source="inferred")
              for side in ("client", "server") for i, (old, new) in steps]
    trace = make_trace(handshake(), states, [])
    ladder = build_ladder(trace)
    for width_inches in (FIG_WIDTH, 5.0):
        lines = legend_lines(ladder, width_inches)
        for line in lines:
            width = sum(0.29 + text_inches(item.text, 8.0) for item in line) + 0.2 * (len(line) - 1)
            assert width <= width_inches - 2 * MARGIN_INCHES
    assert len(legend_lines(ladder, 5.0)) > len(legend_lines(ladder, FIG_WIDTH)) >= 2
    svg = render(trace, "svg")
    assert "hatched: state inferred, not traced" in svg
    root = ET.fromstring(svg)
    figure_width = float(root.get("width", "0").removesuffix("pt"))
    for text in root.iter(f"{SVG_NS}text"):
        x = float(re.findall(r"translate\(([\d.\-]+)", text.get("transform", "translate(0"))[0]
                  if "translate" in text.get("transform", "") else text.get("x", "0"))
        assert 0 <= x <= figure_width, text.text
