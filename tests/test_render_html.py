"""The HTML report and index: self-contained, CSP-locked, linked diagram and table."""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from factory import SCENARIOS, long_trace, make_trace, pipe, user_pcap

from tcptrace_viz.meta import TraceMeta
from tcptrace_viz.model import Trace
from tcptrace_viz.render import RenderOptions, render, render_index

SVG_NS = "{http://www.w3.org/2000/svg}"


class Page(HTMLParser):
    """Tags, attributes, the CSP, the inline script and the JSON data blocks of a page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.data_blocks: dict[str, str] = {}
        self._in_script: str | None = None  # "" for a script, the id for a data block
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_script = None
        if tag == "script":
            kind = dict(attrs).get("type")
            self._in_script = str(dict(attrs).get("id")) if kind == "application/json" else ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script == "":
            self.scripts.append(data)
        elif self._in_script is not None:
            self.data_blocks[self._in_script] = self.data_blocks.get(self._in_script, "") + data

    def attrs(self, name: str) -> list[str]:
        return [str(a[name]) for _, a in self.elements if name in a and a[name] is not None]

    @property
    def csp(self) -> str:
        metas = [a for tag, a in self.elements
                 if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
        assert len(metas) == 1
        return str(metas[0]["content"])


def report(trace=None, options: RenderOptions | None = None, **kwargs) -> tuple[str, Page]:
    out = render(trace if trace is not None else make_trace(**kwargs), "html", options)
    return out, Page(out)


def test_csp_forbids_everything_external_and_allows_our_script_by_hash() -> None:
    html, page = report()
    csp = page.csp
    assert "default-src 'none'" in csp
    assert "img-src data:" in csp
    assert "unsafe-eval" not in csp and "script-src 'unsafe-inline'" not in csp
    assert len(page.scripts) == 1  # the player's steps are data, never run
    assert list(page.data_blocks) == ["tv-steps"]
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    # the script is exactly what sits between the tags, so the hash matches in a browser too
    assert f"<script>{page.scripts[0]}</script>" in html


def test_no_external_resources() -> None:
    html, page = report()
    for name in ("src", "href", "xlink:href", "action", "poster", "srcset"):
        for value in page.attrs(name):
            assert value.startswith(("#", "data:")), (name, value)
    assert "@import" not in html and "url(http" not in html
    assert "@font-face" not in html
    assert not [tag for tag, _ in page.elements if tag in ("link", "iframe", "img", "object")]


def test_pcapng_is_embedded_as_a_download() -> None:
    data = b"\n\r\r\n" + bytes(range(256))
    _, page = report(options=RenderOptions(capture=data))
    links = [a for tag, a in page.elements if tag == "a" and "download" in a]
    assert len(links) == 1
    assert links[0]["download"] == "close-then-write.pcapng"
    href = str(links[0]["href"])
    assert href.startswith("data:application/octet-stream;base64,")
    assert base64.b64decode(href.split(",", 1)[1]) == data


def test_no_download_link_without_pcapng() -> None:
    _, page = report()
    assert not [a for tag, a in page.elements if tag == "a" and "download" in a]


def test_header_shows_verdict_expected_observed_and_environment() -> None:
    html, _ = report(teaches="After close(), a write still succeeds.",
                     sysctls={"net.ipv4.tcp_fin_timeout": "60"},
                     captured_at="2025-11-24T00:00:00Z", verdict="fail",
                     observed=["server send #2 = 3"])
    assert 'class="badge fail"' in html
    assert "After close(), a write still succeeds." in html
    assert "server send #2 -&gt; EPIPE" in html and "server send #2 = 3" in html
    assert "net.ipv4.tcp_fin_timeout" in html and "6.1.0-test" in html
    assert "2025-11-24T00:00:00Z" in html and "0.0.0-test" in html


def test_pass_badge() -> None:
    html, _ = report()
    assert 'class="badge pass"' in html


def test_rows_and_svg_ids_link_up() -> None:
    html, page = report()
    refs = page.attrs("data-ref")
    trace = make_trace()
    assert len(refs) == len(trace.timeline())
    start, end = html.index("<svg"), html.index("</svg>") + len("</svg>")
    root = ET.fromstring(html[start:end])
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    for ref in refs:
        assert f"tv-{ref}" in ids or f"tv-{ref}-label" in ids, ref
    packet_rows = [r for r in refs if r.startswith("p")]
    assert len(packet_rows) == len(trace.packets)


def test_light_dark_and_print_styles() -> None:
    html, _ = report()
    assert "prefers-color-scheme: dark" in html
    assert "@media print" in html
    assert '<meta name="color-scheme" content="light dark">' in html


def test_report_without_meta_still_renders() -> None:
    trace = make_trace()
    trace.meta = TraceMeta()
    html, page = report(trace)
    assert "<svg" in html and page.csp


def test_pipe_report_has_no_packets_but_a_diagram() -> None:
    html, page = report(pipe())
    assert "<svg" in html
    assert page.attrs("data-ref") == ["c0", "c1", "c2"]


def test_long_report_warns_about_undrawn_packets() -> None:
    html, _ = report(long_trace())
    assert "The diagram draws" in html and "of 804 packets" in html
    assert "bytes</strong> were thrown away" in html


def test_user_capture_gets_connection_table_and_findings() -> None:
    html, page = report(user_pcap())
    assert "Connections in this capture" in html
    assert "Findings for connection 0" in html
    assert "127.0.0.1:40001" in html  # the second connection is listed
    assert page.attrs("data-finding-ref")  # findings point at packet rows


def test_capture_reports_have_no_connection_table() -> None:
    html, _ = report()
    assert "Connections in this capture" not in html


def test_connection_option_selects_rows() -> None:
    out = render(user_pcap(), "html", connection=1)
    assert "Findings for connection 1" in out


# --- index ----------------------------------------------------------------------------------------


def test_index_has_one_row_per_scenario_with_link_and_results() -> None:
    entries = [(SCENARIOS[name](), f"{name}.html")
               for name in ("close-then-write", "linger0", "pipe", "simultaneous-close")]
    html = render_index(entries)
    page = Page(html)
    assert page.attrs("href") == [f"{name}.html" for name in
                                  ("close-then-write", "linger0", "pipe", "simultaneous-close")]
    rows = re.findall(r"<tr>\s*<td><a href", html)
    assert len(rows) == 4
    assert "send() = 3" in html and "send() -&gt; EPIPE" in html
    assert "send() -&gt; ECONNRESET" in html
    assert "FIN from client; RST from client" in html
    assert "RST from client" in html
    assert "FIN from client and server" in html
    assert "CLOSING → TIME_WAIT" in html
    assert "4 passed, 0 failed" in html
    assert "script-src 'none'" in page.csp and not page.scripts


def test_index_of_nothing() -> None:
    assert "No reports yet." in render_index([])


# --- the lesson: player steps, state machine, quiz, the scenario's source -------------------------

CLOSER = "</script><script>alert(1)</script><!--"


def test_steps_are_one_per_timeline_row_in_a_json_data_block() -> None:
    import json

    _, page = report()
    steps = json.loads(page.data_blocks["tv-steps"])
    assert [step["ref"] for step in steps] == page.attrs("data-ref")
    assert all(step["caption"] for step in steps)
    by_ref = {step["ref"]: step for step in steps}
    assert by_ref["s5"]["st"] == ["FIN_WAIT_2", "CLOSE_WAIT"]
    assert by_ref["s5"]["edge"] == "fsm-t-FIN_WAIT_1-FIN_WAIT_2"
    assert by_ref["s5"]["caption"].startswith("client: FIN_WAIT1 → FIN_WAIT2")
    assert by_ref["s6"]["edge"] == "fsm-t-ANY-CLOSED"  # Linux's abort, not in the RFC figure
    assert by_ref["c3"]["caption"].startswith("server: send() returned 3 — the kernel accepted")
    assert "it only knows the peer sent a FIN" in by_ref["c3"]["caption"]
    assert by_ref["c3"]["quiz"] == "What does the server's first send() return?"
    assert by_ref["c4"]["quiz"] == "What does the server's second send() return?"
    assert "failed with EPIPE" in by_ref["c4"]["caption"]
    assert by_ref["p3"]["caption"].startswith("client → server: FIN+ACK")
    assert steps[-1]["st"] == ["CLOSED", "CLOSED"]
    assert by_ref["p0"]["quiz"] == ""  # packets are shown, not asked


def test_hostile_capture_text_cannot_leave_the_step_data() -> None:
    import json

    from factory import call, close_then_write_rows, pkt, state

    packets, states, syscalls = close_then_write_rows()
    packets[6] = pkt(210, "client", "R", 2, 0, reason=CLOSER, payload=CLOSER)
    states[6] = state(205, "client", "FIN_WAIT2", "CLOSE", reason=CLOSER)
    syscalls[3] = call(190, "server", f"send{CLOSER}", CLOSER, ret=CLOSER, duration_us=20)
    html, page = report(make_trace(packets, states, syscalls, scenario=CLOSER))
    start = html.index('<script type="application/json" id="tv-steps">')
    block = html[start:html.index("</script>", start)]
    assert "<" not in block.split(">", 1)[1] and "&" not in block  # escaped as \\u003c
    assert "\\u003c/script\\u003e" in block
    steps = json.loads(page.data_blocks["tv-steps"])
    captions = " ".join(step["caption"] + step["quiz"] for step in steps)
    assert CLOSER in captions  # the text is kept, as text
    assert len(page.scripts) == 1 and list(page.data_blocks) == ["tv-steps"]
    assert "The scenario's own source code" not in html  # not a built-in's name


def test_every_linux_state_has_a_node_in_the_state_machine() -> None:
    from tcptrace_viz.render.fsm import RFC_STATES, fsm_svg, node_id, rfc_state, transition_ids
    from tcptrace_viz.render.templating import trusted_svg
    from tcptrace_viz.tcp import TCP_STATES

    svg = fsm_svg(["client", "server"])
    trusted_svg(svg)  # the report's trust rules: no script, no on*, no link out
    root = ET.fromstring(svg)
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids))
    states = {el.get("data-state") for el in root.iter() if el.get("data-state")}
    assert states == set(RFC_STATES)
    for linux in TCP_STATES.values():
        assert node_id(rfc_state(linux)) in ids, linux
    assert set(transition_ids()) <= set(ids)
    labels = {"".join(el.itertext()) for el in root.iter(f"{SVG_NS}text")}
    assert "close/ FIN" in labels and "rcv FIN/ ACK" in labels


def test_state_machine_sits_beside_the_ladder_only_when_there_are_states() -> None:
    html, _ = report()
    assert html.count("<svg") == 2 and 'id="fsm-n-CLOSE_WAIT"' in html
    pipe_html, _ = report(pipe())
    assert pipe_html.count("<svg") == 1 and 'id="fsm"' not in pipe_html


def test_quiz_option_starts_the_page_in_quiz_mode() -> None:
    html, _ = report()
    assert 'data-quiz="off"' in html and 'id="tv-quiz">' in html
    quiz, page = report(options=RenderOptions(quiz=True))
    assert 'data-quiz="on"' in quiz and 'id="tv-quiz" checked>' in quiz
    assert page.csp == report()[1].csp  # the same script, the same hash


def test_player_controls_are_hidden_until_the_script_runs() -> None:
    _, page = report()
    players = [a for tag, a in page.elements if a.get("id") == "player"]
    assert len(players) == 1 and "hidden" in players[0]
    caption = [a for tag, a in page.elements if a.get("id") == "tv-caption"]
    assert caption[0]["aria-live"] == "polite"


def test_a_built_in_scenario_shows_its_own_source_collapsed() -> None:
    from importlib import resources

    from markupsafe import escape

    html, _ = report()
    source = resources.files("tcptrace_viz.scenarios.builtin").joinpath(
        "close_then_write.py").read_text("utf-8")
    assert '<details class="source">' in html
    assert "tcptrace_viz/scenarios/builtin/close_then_write.py" in html
    assert str(escape(source)) in html
    pipe_html, _ = report(pipe())
    assert "tcptrace_viz/scenarios/builtin/pipe.py" in pipe_html
    for other in (user_pcap(), make_trace(scenario="no-such-scenario")):
        assert "The scenario's own source code" not in report(other)[0]


def _capture_of(count: int, name: str = "many.pcap") -> Trace:
    """A user's capture of ``count`` ordinary closes, read back from a real pcap file."""
    import tempfile
    from pathlib import Path

    from builders import merge, normal_close, pcap_file, wire_bytes

    from tcptrace_viz import read_capture

    wires = []
    for i in range(count):
        wire = normal_close()
        for row in wire.rows:
            for key in ("sport", "dport"):
                if row[key] == 40000:
                    row[key] = 20000 + i
            row["ts_ns"] += i * 1_000_000
        wires.append(wire)
    frame = merge(*wires)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(pcap_file(wire_bytes(frame), frame["ts_ns"].tolist()))
        trace = read_capture(path)
    trace.meta.file = name
    return trace


def test_a_capture_of_many_connections_keeps_its_table_small_and_below_the_ladder() -> None:
    html, page = report(_capture_of(300))
    rows = [a for tag, a in page.elements if tag == "tr" and "data-conn" in a]
    assert len(rows) == 300
    start = html.index('<section id="connections">')
    table = html[start:html.index("</section>", start)]
    assert len(table) / 300 < 230  # bytes a row: 1,500 connections stay under 350 KB
    assert html.index('id="lesson"') < start  # the ladder comes first
    assert "300 connections: 300 closed with FIN." in html
    assert page.attrs("data-sort")[0].isdigit()  # durations sort by value
    controls = [a for tag, a in page.elements if a.get("id") == "tv-conn-controls"]
    assert "hidden" in controls[0]  # the script shows them; without it, a plain table


def test_a_hostile_file_name_is_escaped_in_the_table_and_its_commands() -> None:
    name = '"><script>alert(1)</script>.pcap'
    trace = _capture_of(3)
    trace.meta.file = name
    html, page = report(trace)
    assert "<script>alert" not in html
    assert len(page.scripts) == 1
    boxes = [a for tag, a in page.elements if a.get("id") == "tv-connections"]
    assert boxes[0]["data-file"] == name  # the attribute holds it as text
