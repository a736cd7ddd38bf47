"""Text from a capture is data: it stays inert in HTML, SVG, PNG, Mermaid, Markdown and text."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from factory import call, close_then_write_rows, make_trace, pkt, state
from matplotlib.text import Text

from tcptrace_viz.model import Trace
from tcptrace_viz.render import RenderOptions, render, render_index
from tcptrace_viz.render.ladder_figure import ladder_figure
from tcptrace_viz.render.ladder_layout import build_ladder
from tcptrace_viz.render.markdown import md_code, md_text
from tcptrace_viz.render.mermaid import mermaid_escape
from tcptrace_viz.render.templating import UntrustedSvgError, environment, trusted_svg

SCRIPT = "<script>alert(1)</script>"
ATTR = '" onmouseover="x'
MATH = "$x$"
CLOSE_SVG = "</svg>"
HOSTILE = f"{SCRIPT} {ATTR} {MATH} {CLOSE_SVG} & ' | ` ; # %% [a](javascript:x) @all"
SVG_NS = "{http://www.w3.org/2000/svg}"


def hostile_trace(**meta: object) -> Trace:
    packets, states, syscalls = close_then_write_rows()
    packets[5] = pkt(200, "server", "P.", 1, 2, length=3, payload=HOSTILE, comment=HOSTILE)
    states[6] = state(205, "client", "FIN_WAIT2", "CLOSE", reason=HOSTILE)
    syscalls[3] = call(190, "server", "send", HOSTILE, ret="3")
    syscalls.append(call(400, "client", f"x{HOSTILE}", HOSTILE, errno=HOSTILE))
    base: dict[str, object] = {
        "title": HOSTILE, "teaches": HOSTILE, "verdict_detail": HOSTILE, "steps": HOSTILE,
        "expected": [HOSTILE], "observed": [HOSTILE], "kernel": HOSTILE,
        "sysctls": {HOSTILE: HOSTILE}, "captured_at": HOSTILE, "file": HOSTILE,
        "scenario": f"s{HOSTILE}", "problem": HOSTILE, "partial": True,
    }
    base.update(meta)
    return make_trace(packets, states, syscalls, **base)


HOSTILE_CAPTURE = RenderOptions(capture=b"\n\r\r\n" + HOSTILE.encode())
"""An HTML report's options embedding a "capture" that holds the hostile text."""


class _Collector(HTMLParser):
    """Every start tag and attribute name the browser's parser would see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector


# --- HTML --------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["capture", "file"])
def test_hostile_text_is_inert_in_html(source: str) -> None:
    page = render(hostile_trace(source=source), "html", HOSTILE_CAPTURE)
    assert "<script>alert" not in page
    parsed = parse_html(page)
    # ours, allowed by its hash, and the player's steps as data (type="application/json")
    assert parsed.tags.count("script") == 2
    assert ("type", "application/json") in parsed.attrs
    assert all(not name.startswith("on") for name, _ in parsed.attrs)
    # the ladder and the state machine: the "</svg>" in the data did not close either
    assert parsed.tags.count("svg") == 2
    text = "".join(parsed.text)
    assert SCRIPT in text and MATH in text  # shown, as text
    # the inline SVG still parses as XML after the page escaped around it
    start, end = page.index("<svg"), page.index("</svg>") + len("</svg>")
    root = ET.fromstring(page[start:end])
    assert not list(root.iter(f"{SVG_NS}script"))


def test_pcapng_download_name_cannot_break_the_attribute() -> None:
    page = render(hostile_trace(scenario=f'a"b{SCRIPT}'), "html", HOSTILE_CAPTURE)
    parsed = parse_html(page)
    downloads = [value for name, value in parsed.attrs if name == "download"]
    assert len(downloads) == 1
    assert downloads[0] is not None and downloads[0].endswith(".pcapng")


def test_index_escapes_and_refuses_script_links() -> None:
    page = render_index([(hostile_trace(), "javascript:alert(1)"),
                         (make_trace(), "close-then-write.html")])
    assert "<script" not in page
    parsed = parse_html(page)
    hrefs = [value for name, value in parsed.attrs if name == "href"]
    assert hrefs == ["#", "close-then-write.html"]
    assert "script" not in parsed.tags


def test_templates_autoescape_even_with_html_j2_suffix() -> None:
    env = environment()
    template = env.get_template("index.html.j2")
    assert template.environment.autoescape is True
    page = template.render(csp="x", css="", rows=[], kernel=SCRIPT, tool_version="",
                           passed=0, failed=0)
    assert SCRIPT not in page and "&lt;script&gt;" in page


# --- SVG and PNG -------------------------------------------------------------------------------


def test_hostile_text_is_inert_in_svg() -> None:
    svg = render(hostile_trace(), "svg")
    assert "<script>alert" not in svg
    root = ET.fromstring(svg)
    assert not list(root.iter(f"{SVG_NS}script"))
    for element in root.iter():
        assert all(not name.lower().startswith("on") for name in element.attrib)
    texts = ["".join(el.itertext()) for el in root.iter(f"{SVG_NS}text")]
    assert any(MATH in text for text in texts), "mathtext must not eat the dollars"
    assert any(SCRIPT in text for text in texts)


def test_no_text_on_the_figure_is_parsed_as_math() -> None:
    fig = ladder_figure(build_ladder(hostile_trace()))
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    assert texts
    assert all(not t.get_parse_math() and not t.get_usetex() for t in texts)
    assert any(MATH in t.get_text() for t in texts)


def test_png_renders_hostile_text() -> None:
    png = render(hostile_trace(), "png")
    assert png.startswith(b"\x89PNG")


def test_trusted_svg_rejects_active_content() -> None:
    ns = 'xmlns="http://www.w3.org/2000/svg"'
    for bad in (f"<svg {ns}><script>alert(1)</script></svg>",
                f'<svg {ns}><g onload="x"/></svg>',
                f'<svg {ns}><foreignObject><div/></foreignObject></svg>',
                f'<svg {ns} xmlns:l="http://www.w3.org/1999/xlink"><use l:href="http://x/y#z"/></svg>',
                "<svg><unclosed></svg>",
                f"<html {ns}/>"):
        with pytest.raises(UntrustedSvgError):
            trusted_svg(bad)
    assert str(trusted_svg(f'<?xml version="1.0"?>\n<svg {ns}><text>&lt;b&gt;</text></svg>')
               ).startswith("<svg")


# --- Mermaid, Markdown, text --------------------------------------------------------------------


def test_hostile_text_is_inert_in_mermaid() -> None:
    out = render(hostile_trace(), "mermaid")
    # the only HTML is the line breaks of a long title's note, between escaped pieces
    bare = out.replace("<br/>", "")
    assert "<script" not in out and "<" not in bare and ">" not in bare.replace("->>", "")
    assert "%%" not in out
    assert MATH in out
    lines = out.splitlines()
    assert lines[0] == "sequenceDiagram"
    allowed = re.compile(
        r"    (title |participant [CS] as |[CS](->>|-x)[CS]: |Note over (C|S|C,S): )")
    for line in lines[1:]:
        assert allowed.match(line), line
        body = line.split(": ", 1)[-1] if ":" in line else line
        # a ';' would start a new statement and '#' an entity: only our entity codes remain
        assert re.sub(r"#(\d+|[a-z]+);", "", body).count(";") == 0
        assert "#" not in re.sub(r"#(\d+|[a-z]+);", "", body)


def test_mermaid_escape_is_single_pass() -> None:
    assert mermaid_escape("a;b#c") == "a#59;b#35;c"
    assert mermaid_escape("<b>") == "#lt;b#gt;"


def test_hostile_text_is_inert_in_markdown() -> None:
    out = render(hostile_trace(), "md")
    # outside code (where Markdown shows HTML literally) "<" only appears escaped as "\<"
    prose = re.sub(r"^(`{3,})[^\n]*\n.*?^\1$", "", out, flags=re.S | re.M)
    prose = re.sub(r"(`+)(.+?)\1", "", prose)
    assert "<script" in out.replace("\\<script", "")  # the literal text is still there
    assert not re.search(r"(?<!\\)<script", prose)
    table = [line for line in out.splitlines() if line.startswith("| 0.")]
    assert table
    for line in table:
        # exactly five unescaped pipes: four cells
        assert len(re.findall(r"(?<!\\)\|", line)) == 5, line
    assert "](javascript" not in prose.replace("\\](javascript", "")


def test_markdown_helpers() -> None:
    assert md_text("a|b") == "a\\|b"
    assert md_text("<b>") == "\\<b>"
    assert md_text("$x$ @all") == "\\$x\\$ \\@all"
    assert md_code("a`b") == "``a`b``"
    assert md_code("x|y") == "`x\\|y`"


def test_text_ladder_keeps_dollars_and_stays_narrow() -> None:
    out = render(hostile_trace(), "txt")
    assert max(len(line) for line in out.splitlines()) <= 100
    assert MATH in out
