"""Nothing a reader needs is clipped: every scenario in every text format at 100 columns shows
its endpoints, ports, syscall results and title whole, and every text of the SVG starts inside
the figure.

The traces are ``factory.SCENARIOS`` plus ``long_ipv6()``: global IPv6 addresses of eight
groups, poll() flags and a title long enough to wrap anywhere they could be cut.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

import pytest
from factory import SCENARIOS, call, close_then_write_rows, ipv6, make_trace, user_pcap

from tcptrace_viz.model import Trace
from tcptrace_viz.render import prepare, render
from tcptrace_viz.render.ladder_model import Ladder
from tcptrace_viz.render.mermaid import mermaid_escape
from tcptrace_viz.render.safe_text import printable
from tcptrace_viz.render.text import KEEP_EACH_END, MAX_EVENTS, WIDTH, ladder_text
from tcptrace_viz.render.text_columns import columns_for, wrap_text

SVG_NS = "{http://www.w3.org/2000/svg}"
CLIENT6 = "2001:db8:7463:7476:5c2a:91ff:fe3b:4f3c"
SERVER6 = "2001:db8:7463:7476:5c2a:91ff:fe3b:4f3d"
POLL_FLAGS = "POLLIN|POLLPRI|POLLERR|POLLHUP|POLLRDNORM|POLLRDHUP"


def long_ipv6() -> Trace:
    """close-then-write between two long global IPv6 addresses, with results that need room."""
    packets, states, syscalls = close_then_write_rows()
    for row in packets:
        client_sends = row["dir"] == "c2s"
        row["src"], row["dst"] = (CLIENT6, SERVER6) if client_sends else (SERVER6, CLIENT6)
    for row in states:
        mine, peer = (CLIENT6, SERVER6) if row["side"] == "client" else (SERVER6, CLIENT6)
        row["local"] = f"[{mine}]:{row['local'].rsplit(':', 1)[1]}"
        row["remote"] = f"[{peer}]:{row['remote'].rsplit(':', 1)[1]}"
    syscalls += [
        call(250, "server", "poll", "POLLIN", ret=POLL_FLAGS),
        call(260, "client", "poll", "POLLIN|POLLOUT", ret=POLL_FLAGS),
        call(270, "client", "send", "b'x' * 65536, MSG_DONTWAIT", errno="EWOULDBLOCK"),
        call(280, "server", "getsockopt", "SO_ERROR", ret="ECONNRESET (connection reset by peer)"),
    ]
    return make_trace(
        packets, states, syscalls, family="ipv6", scenario="close-then-write-ipv6",
        endpoints={"client": f"[{CLIENT6}]:40000", "server": f"[{SERVER6}]:5555"},
        title="a write after the peer's close() is answered with RST; the second write fails "
              "with EPIPE, over IPv6 between two global addresses")


def long_ipv6_pcap() -> Trace:
    """A capture a user brings, between long IPv6 addresses (states inferred, no syscalls)."""
    trace = user_pcap()
    for column, value in (("src", CLIENT6), ("dst", SERVER6)):
        c2s = trace.packets["dir"] == "c2s"
        trace.packets.loc[c2s, column] = value
        trace.packets.loc[~c2s, column] = SERVER6 if value == CLIENT6 else CLIENT6
    return trace


TRACES: dict[str, Callable[[], Trace]] = {
    **SCENARIOS, "ipv6-factory": ipv6, "long-ipv6": long_ipv6, "long-ipv6-pcap": long_ipv6_pcap,
}
_CUT = re.compile(r"\.\.\.(\s*\||$|[-=<>])")
"""``...`` where ``truncate`` leaves it: before a lifeline, at the end of a line, in an arrow."""


def _ladder(trace: Trace) -> Ladder:
    return prepare(trace).ladder(MAX_EVENTS, KEEP_EACH_END)


def _side_texts(ladder: Ladder) -> Iterator[str]:
    """The texts written beside the lifelines: syscall results, states, reset reasons."""
    for event in ladder.events:
        if event.kind in ("syscall", "state"):
            yield printable(event.label)
        elif event.kind == "packet" and event.rst and event.reason:
            yield f"RST: {printable(event.reason)}"


def _words(text: str) -> list[str]:
    """The pieces a wrapped text keeps whole (it breaks after spaces, ``|``, commas, ``/``)."""
    return [word for word in re.split(r"(?<=[ |,/])", text) if word.strip()]


def assert_nothing_cut(ladder: Ladder, text: str, width: int = WIDTH) -> None:
    """The text ladder ``text`` of ``ladder`` is no wider than ``width`` and shows the
    endpoints, every side text and the title whole."""
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    for lifeline in ladder.lifelines:
        if lifeline.address:
            assert any(printable(lifeline.address) in line for line in lines), lifeline.address
    for line in lines:
        if line.strip().startswith("... ") or re.fullmatch(r"[\s:.]*", line):
            continue  # an elision: "... 56 packets (frames 21-76) not drawn ..."
        assert not _CUT.search(line), f"cut: {line!r}"
    body = " ".join(line.strip() for line in lines)
    for side_text in _side_texts(ladder):
        for word in _words(side_text):
            assert word.strip() in body, f"{word!r} of {side_text!r} is missing"
    heading = "".join("".join(lines[: lines.index("")]).split())  # a long word may break
    assert "".join(printable(ladder.title).split()) in heading


@pytest.mark.parametrize("name", list(TRACES))
def test_text_ladder_cuts_nothing_at_100_columns(name: str) -> None:
    trace = TRACES[name]()
    assert_nothing_cut(_ladder(trace), render(trace, "txt"))


@pytest.mark.parametrize("width", [80, 120, 200])
@pytest.mark.parametrize("name", ["long-ipv6", "long", "user-pcap", "long-ipv6-pcap"])
def test_text_ladder_cuts_nothing_at_other_widths(name: str, width: int) -> None:
    trace = TRACES[name]()
    ladder = _ladder(trace)
    assert_nothing_cut(ladder, ladder_text(ladder, trace.meta, width), width)


def test_long_endpoints_get_header_lines_and_short_ones_stay_in_the_header() -> None:
    text = render(long_ipv6(), "txt")
    assert f"client  [{CLIENT6}]:40000" in text.splitlines()
    assert f"server  [{SERVER6}]:5555" in text.splitlines()
    header = next(line for line in text.splitlines() if line.lstrip().startswith("t (ms)"))
    assert header.split() == ["t", "(ms)", "client", "|", "|", "server"]
    short = render(SCENARIOS["close-then-write"](), "txt")
    assert any(line.lstrip().startswith("t (ms) client 127.0.0.1:40000 |")
               and line.endswith("| server 127.0.0.1:5555") for line in short.splitlines())


def test_a_long_result_wraps_beside_its_lifeline() -> None:
    lines = render(long_ipv6(), "txt").splitlines()
    first = next(i for i, line in enumerate(lines) if "poll() -> POLLIN|" in line
                 and line.index("poll()") > line.index("|"))
    rows = lines[first:first + 3]
    bar = rows[0].index("| poll()")
    assert all(row[bar] == "|" for row in rows)  # the right lifeline runs on beside them
    assert not any(row[:bar].strip(" |") for row in rows[1:])  # no time, no left text
    assert "".join(row[bar + 1:].strip() for row in rows) == f"poll() -> {POLL_FLAGS}"


def test_markdown_and_mermaid_cut_nothing() -> None:
    for make in TRACES.values():
        trace = make()
        md = render(trace, "md")
        fenced = re.search(r"<summary>Text ladder</summary>\n\n(`{3,})\n(.*?)\n\1\n", md,
                           flags=re.S)
        assert fenced, "no text ladder in the Markdown"
        assert_nothing_cut(_ladder(trace), fenced.group(2))
        mermaid = render(trace, "mermaid")
        ladder = prepare(trace).ladder()
        for lifeline in ladder.lifelines:
            assert f" as {mermaid_escape(lifeline.label)}\n" in mermaid
        for event in ladder.events:
            if event.kind == "syscall":
                assert f": {mermaid_escape(event.label)}\n" in mermaid
        assert mermaid in md


def test_a_long_mermaid_title_wraps_into_a_note() -> None:
    trace = long_ipv6()
    out = render(trace, "mermaid")
    lines = out.splitlines()
    assert "    title close-then-write-ipv6" in lines
    note = next(line for line in lines if line.startswith("    Note over C,S: "))
    assert lines.index(note) < next(i for i, line in enumerate(lines) if "->>" in line)
    pieces = note.split(": ", 1)[1].split("<br/>")
    assert len(pieces) > 1 and all(len(piece) <= 60 for piece in pieces)
    assert " ".join(pieces) == mermaid_escape(str(trace.meta.title))
    short = render(SCENARIOS["linger0"](), "mermaid")
    assert "    title linger0: SO_LINGER {1, 0}: close() sends RST\n" in short
    assert "<br/>" not in short


# --- the SVG --------------------------------------------------------------------------------------

_TRANSLATE = re.compile(r"translate\(\s*([-\d.e]+)[\s,]+([-\d.e]+)\s*\)")


def _text_anchors(svg: str) -> Iterator[tuple[str, float, float]]:
    """(text, x, y) of every ``<text>`` element, its ancestors' translations applied."""
    root = ET.fromstring(svg)

    def walk(node: ET.Element, dx: float, dy: float) -> Iterator[tuple[str, float, float]]:
        for found in _TRANSLATE.finditer(node.get("transform", "")):
            dx, dy = dx + float(found.group(1)), dy + float(found.group(2))
        if node.tag == f"{SVG_NS}text":
            yield ("".join(node.itertext()), dx + float(node.get("x", 0)),
                   dy + float(node.get("y", 0)))
            return
        for child in node:
            yield from walk(child, dx, dy)

    yield from walk(root, 0.0, 0.0)


@pytest.mark.parametrize("name", list(TRACES))
def test_every_svg_text_starts_inside_the_figure(name: str) -> None:
    svg = render(TRACES[name](), "svg")
    assert isinstance(svg, str)
    root = ET.fromstring(svg)
    _, _, width, height = (float(v) for v in root.get("viewBox", "").split())
    anchors = list(_text_anchors(svg))
    assert anchors, "the SVG has no <text> elements (fonttype 'none' expected)"
    for text, x, y in anchors:
        assert 0 <= x <= width and 0 <= y <= height, f"{text!r} at ({x}, {y})"


_MONO_ADVANCE = 0.602
"""DejaVu Sans Mono's advance width, in ems (1233 of 2048 units): monospace text's extent is
known without drawing it."""
_OVERFLOWING: dict[str, str] = {}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(reason=_OVERFLOWING[name], strict=True))
    if name in _OVERFLOWING else name for name in TRACES])
def test_every_monospace_svg_text_ends_inside_the_figure(name: str) -> None:
    svg = render(TRACES[name](), "svg")
    assert isinstance(svg, str)
    root = ET.fromstring(svg)
    width = float(root.get("viewBox", "").split()[2])
    for node in root.iter(f"{SVG_NS}text"):
        style = node.get("style", "")
        if "Mono" not in style:
            continue
        found = re.search(r"font-size: ([\d.]+)px", style)
        assert found, style
        size = float(found.group(1))
        text = "".join(node.itertext())
        extent = len(text) * size * _MONO_ADVANCE
        x = float(node.get("x", 0))
        anchor = re.search(r"text-anchor: (\w+)", style)
        left, right = {"start": (x, x + extent), "end": (x - extent, x),
                       "middle": (x - extent / 2, x + extent / 2)}[
                           anchor.group(1) if anchor else "start"]
        assert left >= -1 and right <= width + 1, f"{text!r} spans {left:.0f}..{right:.0f}"


# --- the pieces -----------------------------------------------------------------------------------


def test_wrap_text_breaks_after_spaces_bars_and_commas_and_keeps_every_character() -> None:
    assert wrap_text("", 10) == []
    assert wrap_text("close() = 0", 20) == ["close() = 0"]
    lines = wrap_text(f"poll() -> {POLL_FLAGS}", 20, indent="  ")
    assert lines[0] == "poll() -> POLLIN|"
    assert all(len(line) <= 20 for line in lines)
    assert all(line.startswith("  ") for line in lines[1:])
    assert "".join(line.strip() for line in lines) == f"poll() -> {POLL_FLAGS}"
    words = wrap_text("the peer's FIN, then an RST: reset", 12)
    assert " ".join(words) == "the peer's FIN, then an RST: reset"
    long_word = wrap_text("x" * 25, 10)
    assert long_word == ["x" * 10] * 2 + ["x" * 5]
    hostile = wrap_text("word " * 200, 10)
    assert len(hostile) == 6 and hostile[-1].endswith("...")


def test_columns_share_the_room_and_prefer_whole_headers() -> None:
    roomy = columns_for(89, arrow_need=24, left_need=16, right_need=15, left_head=22,
                        right_head=20)
    assert roomy.heads_inline and roomy.left == 22 and roomy.left + roomy.arrow + roomy.right == 89
    tight = columns_for(89, arrow_need=24, left_need=16, right_need=40, left_head=47,
                        right_head=45)
    assert not tight.heads_inline
    assert tight.left == 16 and tight.right >= 40
    squeezed = columns_for(89, arrow_need=40, left_need=60, right_need=60)
    assert squeezed.left + squeezed.arrow + squeezed.right == 89
    assert min(squeezed.left, squeezed.right) >= 14


def test_a_long_segment_label_shrinks_then_wraps_to_stay_between_the_lifelines() -> None:
    """time-wait-assassination's "... injected discarded (NO_SOCKET)" crossed both lifelines."""
    from tcptrace_viz.render.figure_style import current
    from tcptrace_viz.render.figure_text import MONO_ADVANCE, SMALLEST_LABEL_PT, label_between

    room = 4.0  # inches between the arrow's ends

    def inches(line: str, size: float) -> float:
        return len(line) * current().pt(size) * MONO_ADVANCE / 72

    short = "[.] seq 1 ack 1 win 63 len 0"
    assert label_between(short, room, 8.5) == ([short], 8.5)
    long = "[.] seq 1 ack 1 win 65535 len 0 injected discarded (NO_SOCKET)"
    lines, size = label_between(long, room, 8.5)
    assert lines == [long] and SMALLEST_LABEL_PT <= size < 8.5 and inches(long, size) <= room
    longest = long + " and a comment that goes on and on"
    lines, size = label_between(longest, room, 8.5)
    assert size == SMALLEST_LABEL_PT and len(lines) == 2
    assert all(inches(line, size) <= room for line in lines)
    assert "".join(lines).replace(" ", "") == longest.replace(" ", "")  # nothing cut
