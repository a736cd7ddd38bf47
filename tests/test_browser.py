"""Open rendered reports in headless Chromium: no console errors or CSP violations, hover links
work both ways, and screenshots land in ``test-artifacts/`` for a person to look at.

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package (the
``browser`` extra).  Locally the tests skip when one is missing; in CI (``CI=true``) they fail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factory import SCENARIOS, make_trace

from tcptrace_viz.model import Trace
from tcptrace_viz.render import RenderOptions, render, render_index

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1600")

# Collects CSP violations from the first moment of every page (injected over DevTools, which
# the page's CSP does not govern).
CSP_PROBE = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    """One headless Chromium for the module, with console logging on."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(Path(path).name)):
            _unavailable(f"{path} is not installed (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install '.[browser]')")
    with tempfile.TemporaryDirectory(prefix="tcptrace-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or CHROMIUM
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(shutil.which("chromedriver") or CHROMEDRIVER)
        browser = webdriver.Chrome(service=service, options=options)
        browser.set_page_load_timeout(60)
        browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_PROBE})
        try:
            yield browser
        finally:
            browser.quit()


def open_page(driver: Any, tmp_path: Path, name: str, html: str) -> list[str]:
    """Load ``html`` from a file and return console errors and CSP violations."""
    page = tmp_path / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    driver.get_log("browser")  # drop what earlier pages logged
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "", "features": []})
    driver.get(page.as_uri())
    problems = [f"console {entry['level']}: {entry['message']}"
                for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    problems += [f"CSP: {v}" for v in driver.execute_script("return window.__csp || []")]
    return problems


def screenshot(driver: Any, name: str, *, dark: bool = False, media: str = "") -> Path:
    """Full-page screenshot into test-artifacts/."""
    features = [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": media, "features": features})
    driver.set_window_size(1280, 800)  # measure the page, not the previous window
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(1280, min(max(height + 40, 800), 8000))
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    return path


def hover(driver: Any, element: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).move_to_element(element).perform()


def highlighted(driver: Any, element_id: str) -> bool:
    return bool(driver.execute_script(
        "var e = document.getElementById(arguments[0]); return !!e && e.classList.contains('hl');",
        element_id))


def report_of(trace: Trace) -> str:
    trace.meta.teaches = trace.meta.teaches or (
        "After the peer's close() a write still succeeds: the socket is in CLOSE_WAIT. The peer "
        "answers the data with RST; only the next write fails (EPIPE).")
    html = render(trace, "html", RenderOptions(capture=b"\n\r\r\n" + bytes(60)))
    return html


@pytest.mark.parametrize("name", ["close-then-write", "linger0", "pipe", "idle-gap",
                                  "user-pcap", "long"])
def test_report_opens_without_errors(driver: Any, tmp_path: Path, name: str) -> None:
    problems = open_page(driver, tmp_path, name, report_of(SCENARIOS[name]()))
    assert problems == []
    assert driver.execute_script("return document.querySelectorAll('#ladder svg').length") == 1
    screenshot(driver, f"report-{name}")


def test_hovering_a_row_highlights_its_arrow_and_back(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    assert open_page(driver, tmp_path, "hover", report_of(make_trace())) == []
    rst_row = driver.find_element(By.CSS_SELECTOR, 'tr[data-ref="p6"]')
    assert "[R] seq 2" in rst_row.text
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", rst_row)
    hover(driver, rst_row)
    assert highlighted(driver, "tv-p6")
    assert highlighted(driver, "tv-p6-label")
    assert not highlighted(driver, "tv-p5")
    screenshot(driver, "hover-row-highlights-rst-arrow")
    # and the other way: hovering a syscall marker in the diagram lights up its table row
    marker = driver.find_element(By.ID, "tv-c4-label")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", marker)
    hover(driver, marker)
    row_class = driver.find_element(By.CSS_SELECTOR, 'tr[data-ref="c4"]').get_attribute("class")
    assert "hl" in row_class.split()
    assert not highlighted(driver, "tv-p6")


def test_dark_mode_and_print_screenshots(driver: Any, tmp_path: Path) -> None:
    assert open_page(driver, tmp_path, "dark", report_of(make_trace())) == []
    screenshot(driver, "report-dark", dark=True)
    background = driver.execute_script(
        "return getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(255, 255, 255)"
    screenshot(driver, "report-print", media="print")
    hidden = driver.execute_script(
        "return getComputedStyle(document.querySelector('a.download')).display")
    assert hidden == "none"


def test_index_opens_without_errors(driver: Any, tmp_path: Path) -> None:
    entries = [(factory(), f"{name}.html") for name, factory in SCENARIOS.items()]
    assert open_page(driver, tmp_path, "index", render_index(entries)) == []
    screenshot(driver, "index")


def test_a_tampered_script_is_blocked_and_reported(driver: Any, tmp_path: Path) -> None:
    """The check above can fail: a script the CSP does not allow shows up as a problem."""
    html = report_of(make_trace()).replace('"use strict";', '"use strict"; var changed = 1;', 1)
    problems = open_page(driver, tmp_path, "tampered", html)
    assert any("script-src" in problem or "Content Security Policy" in problem
               for problem in problems), problems


# --- the player, the state machine and the quiz ---------------------------------------------------

# What the page shows now, in one round trip: the current row, each endpoint's lit state, the
# lit transition, the caption, whether the current row is inside the table's scroll box, and
# for every step the computed visibility of its diagram elements.
PLAYER_PROBE = """
var steps = JSON.parse(document.getElementById('tv-steps').textContent);
function states(cls) {
  return Array.prototype.map.call(document.querySelectorAll('#fsm .fsm-node.' + cls),
                                  function (e) { return e.getAttribute('data-state'); });
}
var now = document.querySelector('tr.now');
var box = document.getElementById('timeline-box').getBoundingClientRect();
var inBox = false;
if (now) {
  var r = now.getBoundingClientRect();
  inBox = r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
}
var vis = steps.map(function (s) {
  return ['', '-label', '-reason'].map(function (p) {
    var e = document.getElementById('tv-' + s.ref + p);
    return e ? getComputedStyle(e).visibility : null;
  }).filter(function (v) { return v !== null; });
});
var lit = Array.prototype.map.call(document.querySelectorAll('#fsm .lit-0, #fsm .lit-1'),
                                   function (e) { return e.id; });
return {now: now ? now.getAttribute('data-ref') : null, on0: states('on-0'),
        on1: states('on-1'), lit: lit, inBox: inBox, vis: vis,
        caption: document.getElementById('tv-caption').textContent,
        ask: document.getElementById('tv-caption').classList.contains('ask'),
        playing: document.body.classList.contains('playing'),
        counter: document.getElementById('tv-counter').textContent};
"""


def expected_states(trace: Trace) -> list[tuple[str, str]]:
    """Each endpoint's RFC 9293 state after each timeline row, from ``trace.states`` alone:
    the last change at or before the row, or before any, the state its first change left."""
    from tcptrace_viz.render.fsm import rfc_state

    sides = trace.sides
    changes = trace.states.reset_index(drop=True)
    timeline = trace.timeline()
    out = []
    for i in range(len(timeline)):
        done = set(timeline.iloc[: i + 1].query("kind == 'state'")["row"])
        pair = []
        for side in sides:
            mine = changes[changes["side"] == side]
            past = mine[mine.index.isin(done)]
            if len(past):
                pair.append(rfc_state(past.iloc[-1]["new"]))
            else:
                pair.append(rfc_state(mine.iloc[0]["old"]) if len(mine) else "")
        out.append((pair[0], pair[1]))
    return out


def expected_edges(trace: Trace) -> list[str]:
    """The transition each timeline row takes (a state change's), ``""`` for the others."""
    from tcptrace_viz.render.fsm import transition_id

    timeline = trace.timeline()
    edges = []
    for kind, row in zip(timeline["kind"], timeline["row"], strict=True):
        change = trace.states.iloc[int(row)] if kind == "state" else None
        edges.append("" if change is None else transition_id(change["old"], change["new"]))
    return edges


def press(driver: Any, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*keys).perform()


def probe(driver: Any) -> dict[str, Any]:
    return dict(driver.execute_script(PLAYER_PROBE))


def viewport_shot(driver: Any, name: str, *, dark: bool = False) -> Path:
    """A screenshot of what a projector shows (1280 x 900), the page scrolled where it is."""
    features = [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "", "features": features})
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    return path


def assert_step(seen: dict[str, Any], index: int, refs: list[str],
                states: list[tuple[str, str]], edges: list[str]) -> None:
    """The page shows step ``index``: its row, both endpoints' states, nothing drawn later."""
    assert seen["playing"] and seen["now"] == refs[index], (index, seen["now"])
    client, server = states[index]
    assert seen["on0"] == ([client] if client else []) or (
        client == "CLOSED" and set(seen["on0"]) == {"CLOSED"}), (index, seen["on0"], client)
    assert set(seen["on1"]) == ({server} if server else set()), (index, seen["on1"], server)
    assert seen["lit"] == ([edges[index]] if edges[index] else []), (index, seen["lit"])
    assert seen["inBox"], f"row {refs[index]} is not scrolled into view"
    assert seen["caption"].strip() and not seen["ask"]
    for j, visibilities in enumerate(seen["vis"]):
        want = "hidden" if j > index else "visible"
        assert all(v == want for v in visibilities), (index, refs[j], visibilities)


def test_player_steps_forward_and_back_in_step_with_the_trace(driver: Any,
                                                              tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    trace = make_trace()
    driver.set_window_size(1280, 900)
    assert open_page(driver, tmp_path, "player", report_of(trace)) == []
    refs = [str(step["ref"]) for step in driver.execute_script(
        "return JSON.parse(document.getElementById('tv-steps').textContent)")]
    states, edges = expected_states(trace), expected_edges(trace)
    assert len(refs) == len(states) == 21
    start = probe(driver)  # "Show all" first: the page as it always looked
    assert not start["playing"] and start["now"] is None
    assert start["on0"] == start["on1"] == [] and start["lit"] == []
    assert all(v == "visible" for vis in start["vis"] for v in vis)
    shots = {refs.index("s5"): "player-1-fin-wait2", refs.index("c3"): "player-2-first-send",
             refs.index("c4"): "player-3-second-send-epipe"}
    for index in range(len(refs)):
        press(driver, Keys.ARROW_RIGHT)
        assert_step(probe(driver), index, refs, states, edges)
        if index in shots:
            viewport_shot(driver, shots[index])
    assert "send() failed with EPIPE" in probe(driver)["caption"]
    press(driver, Keys.ARROW_RIGHT)  # past the end: stays on the last step
    assert probe(driver)["now"] == refs[-1]
    for index in range(len(refs) - 2, -1, -1):
        press(driver, Keys.ARROW_LEFT)
        assert_step(probe(driver), index, refs, states, edges)
    assert "server: send() returned 3" in _caption_at(driver, refs.index("c3"))
    driver.find_element(By.ID, "tv-all").click()
    done = probe(driver)
    assert not done["playing"] and done["lit"] == [] and done["on0"] == []
    assert all(v == "visible" for vis in done["vis"] for v in vis)


def _caption_at(driver: Any, index: int) -> str:
    """Go to step ``index`` with the Home key and Next button; its caption."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    press(driver, Keys.HOME)
    for _ in range(index):
        driver.find_element(By.ID, "tv-next").click()
    return str(probe(driver)["caption"])


def test_player_buttons_and_keys_by_keyboard_alone(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(1280, 900)
    assert open_page(driver, tmp_path, "player-keys", report_of(make_trace())) == []
    press(driver, Keys.SPACE)
    assert probe(driver)["counter"] == "step 1 of 21"
    button = driver.find_element(By.ID, "tv-next")
    driver.execute_script("arguments[0].focus()", button)
    press(driver, Keys.SPACE)  # the focused button acts once, not twice
    assert probe(driver)["counter"] == "step 2 of 21"
    press(driver, Keys.ENTER)
    assert probe(driver)["counter"] == "step 3 of 21"
    press(driver, Keys.ARROW_LEFT)
    assert probe(driver)["counter"] == "step 2 of 21"
    press(driver, Keys.END)
    assert probe(driver)["counter"] == "step 21 of 21"
    press(driver, Keys.ESCAPE)
    assert not probe(driver)["playing"]
    tabbable = driver.execute_script(
        "return ['tv-back', 'tv-next', 'tv-all', 'tv-quiz'].map(function (id) {"
        " var e = document.getElementById(id); return e.tabIndex >= 0 && !e.disabled; })")
    assert tabbable == [True, True, True, True]
    live = driver.find_element(By.ID, "tv-caption").get_attribute("aria-live")
    assert live == "polite"
    # while playing, a click on a timeline row jumps to its step
    press(driver, Keys.ARROW_RIGHT)
    driver.find_element(By.CSS_SELECTOR, 'tr[data-ref="c3"]').click()
    assert probe(driver)["now"] == "c3"


def test_state_machine_screenshot_and_dark_mode(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    trace = make_trace()
    driver.set_window_size(1280, 900)
    assert open_page(driver, tmp_path, "fsm", report_of(trace)) == []
    timeline = trace.timeline()
    # up to the client's FIN_WAIT1 -> FIN_WAIT2: client lit there, server in CLOSE_WAIT
    target = int(timeline.index[(timeline["kind"] == "state") & (timeline["row"] == 5)][0])
    for _ in range(target + 1):
        press(driver, Keys.ARROW_RIGHT)
    seen = probe(driver)
    assert seen["on0"] == ["FIN_WAIT_2"] and seen["on1"] == ["CLOSE_WAIT"]
    assert seen["lit"] == ["fsm-t-FIN_WAIT_1-FIN_WAIT_2"]
    ARTIFACTS.mkdir(exist_ok=True)
    fsm = driver.find_element(By.ID, "fsm")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", fsm)
    assert fsm.screenshot(str(ARTIFACTS / "player-fsm.png"))
    viewport_shot(driver, "player-dark", dark=True)
    background = driver.execute_script(
        "return getComputedStyle(document.querySelector('#fsm')).backgroundColor")
    assert background not in ("rgb(255, 255, 255)", "rgb(246, 247, 249)")
    screenshot(driver, "player-print", media="print")
    printed = probe(driver)
    assert all(v == "visible" for vis in printed["vis"] for v in vis)  # print shows it all
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "", "features": []})


def test_quiz_hides_the_result_until_revealed(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    trace = make_trace()
    driver.set_window_size(1280, 900)
    html = render(trace, "html", RenderOptions(quiz=True))
    assert open_page(driver, tmp_path, "quiz", html) == []
    assert driver.find_element(By.ID, "tv-quiz").is_selected()
    seen = probe(driver)
    assert seen["playing"] and seen["now"] == "c0s"  # quiz mode starts at the first step
    for _ in range(100):  # Next until the first send()'s result is asked
        if seen["now"] == "c3":
            break
        press(driver, Keys.ARROW_RIGHT)
        seen = probe(driver)
    assert seen["now"] == "c3" and seen["ask"]
    assert "What does the server's first send() return?" in seen["caption"]
    index = [str(s["ref"]) for s in driver.execute_script(
        "return JSON.parse(document.getElementById('tv-steps').textContent)")].index("c3")
    assert all(v == "hidden" for v in seen["vis"][index])  # the result is not drawn yet
    cell = driver.find_element(By.CSS_SELECTOR, 'tr[data-ref="c3"] td.text')
    assert cell.value_of_css_property("visibility") == "hidden"
    later = driver.find_element(By.CSS_SELECTOR, 'tr[data-ref="c4"] td.text')
    assert later.value_of_css_property("visibility") == "hidden"  # nor any later answer
    assert driver.find_element(By.ID, "tv-next").text.startswith("Reveal")
    viewport_shot(driver, "player-quiz-asks")
    press(driver, Keys.ARROW_RIGHT)  # reveal
    seen = probe(driver)
    assert seen["now"] == "c3" and not seen["ask"]
    assert "server: send() returned 3" in seen["caption"]
    assert all(v == "visible" for v in seen["vis"][index])
    assert cell.value_of_css_property("visibility") == "visible"
    viewport_shot(driver, "player-quiz-revealed")
    # a state change is asked too: the FSM keeps the old state until it is revealed
    for _ in range(100):
        press(driver, Keys.ARROW_RIGHT)
        seen = probe(driver)
        if seen["now"] and seen["now"].startswith("s") and seen["ask"]:
            break
    assert seen["now"] == "s6" and seen["on0"] == ["FIN_WAIT_2"] and seen["lit"] == []
    press(driver, Keys.ARROW_RIGHT)
    seen = probe(driver)
    assert set(seen["on0"]) == {"CLOSED"} and seen["lit"] == ["fsm-t-ANY-CLOSED"]
    # the toggle turns the quiz off: nothing is asked any more
    driver.find_element(By.ID, "tv-quiz").click()
    press(driver, Keys.ARROW_RIGHT)
    assert not probe(driver)["ask"]


@pytest.mark.parametrize("name", ["linger0", "pipe", "simultaneous-close", "user-pcap", "long"])
def test_every_story_plays_without_errors(driver: Any, tmp_path: Path, name: str) -> None:
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(1280, 900)
    assert open_page(driver, tmp_path, f"play-{name}", report_of(SCENARIOS[name]())) == []
    for keys in (Keys.ARROW_RIGHT * 3, Keys.END, Keys.ARROW_LEFT, Keys.SPACE):
        press(driver, keys)
        seen = probe(driver)
        assert seen["playing"] and seen["caption"].strip() and seen["inBox"], (keys, seen["now"])
    viewport_shot(driver, f"player-{name}")
    press(driver, Keys.ESCAPE)
    assert not probe(driver)["playing"]
    problems = [entry["message"] for entry in driver.get_log("browser")
                if entry["level"] in ("SEVERE", "ERROR")]
    assert problems + driver.execute_script("return window.__csp || []") == []


def test_the_scenario_source_opens_by_keyboard(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(1280, 900)
    assert open_page(driver, tmp_path, "source", report_of(make_trace())) == []
    details = driver.find_element(By.CSS_SELECTOR, "details.source")
    assert details.get_attribute("open") is None  # collapsed
    summary = details.find_element(By.TAG_NAME, "summary")
    driver.execute_script("arguments[0].focus(); arguments[0].scrollIntoView()", summary)
    press(driver, Keys.ENTER)
    assert details.get_attribute("open") is not None
    assert "def close_then_write(ctx: ScenarioContext)" in details.text
    assert not probe(driver)["playing"]  # Enter on the summary is the summary's, not the player's
    height = driver.execute_script("return arguments[0].getBoundingClientRect().height", details)
    assert height > 400  # the whole file shows, not a clipped box
    screenshot(driver, "report-source")


def _many_connections(tmp_path: Path, name: str = "many.pcap") -> Path:
    """A capture of 60 connections: ordinary closes, with resets, refusals and retransmissions
    among them (each its own client port, 43000 on, one after the other)."""
    from builders import (
        connect_refused,
        linger0,
        merge,
        normal_close,
        pcap_file,
        retransmission,
        wire_bytes,
    )

    makers = [normal_close, normal_close, linger0, normal_close, connect_refused, retransmission]
    wires = []
    for i in range(60):
        wire = makers[i % len(makers)]()
        port = 43000 + i
        for row in wire.rows:
            for key in ("sport", "dport"):
                if row[key] == 40000:
                    row[key] = port
            row["ts_ns"] += i * 10_000_000
        wires.append(wire)
    frame = merge(*wires)
    path = tmp_path / name
    path.write_bytes(pcap_file(wire_bytes(frame), frame["ts_ns"].tolist()))
    return path


def _capture_report(path: Path) -> str:
    from tcptrace_viz import read_capture

    return render(read_capture(path), "html")


def _visible_conns(driver: Any) -> list[int]:
    return [int(n) for n in driver.execute_script(
        "return Array.prototype.slice.call(document.querySelectorAll("
        "'#tv-connections tbody tr')).filter(function (tr) { return !tr.hidden; })"
        ".map(function (tr) { return tr.getAttribute('data-conn'); });")]


def _column(driver: Any, index: int) -> list[str]:
    return [str(text) for text in driver.execute_script(
        "var column = arguments[0]; return Array.prototype.slice.call(document"
        ".querySelectorAll('#tv-connections tbody tr')).filter(function (tr) {"
        " return !tr.hidden; }).map(function (tr) {"
        " return tr.cells[column].textContent.trim(); });", index)]


def test_the_connection_table_sorts_by_a_clicked_heading(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    html = _capture_report(_many_connections(tmp_path))
    assert open_page(driver, tmp_path, "connections-sort", html) == []
    assert _visible_conns(driver) == list(range(60))  # in capture order at first
    heads = driver.find_elements(By.CSS_SELECTOR, "#tv-connections thead th button.sort")
    titles = [head.text.strip() for head in heads]
    packets = titles.index("packets")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", heads[packets])
    heads[packets].click()  # a number: largest first
    counts = [int(text) for text in _column(driver, packets)]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    th = driver.find_elements(By.CSS_SELECTOR, "#tv-connections thead th")[packets]
    assert th.get_attribute("aria-sort") == "descending"
    heads[packets].click()  # again: the other way round
    assert [int(text) for text in _column(driver, packets)] == sorted(counts)
    closed = titles.index("closed with")
    heads[closed].click()  # words: A to Z, ties kept in capture order
    kinds = _column(driver, closed)
    assert kinds == sorted(kinds)
    first_fin = kinds.index("FIN")
    order = _visible_conns(driver)
    fins = order[first_fin:first_fin + kinds.count("FIN")]
    assert fins == sorted(fins)
    heads[0].click()  # by number: largest first, then back to the capture's order
    heads[0].click()
    assert _visible_conns(driver) == list(range(60))


def test_the_connection_table_filters_by_words_and_flags(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    html = _capture_report(_many_connections(tmp_path))
    assert open_page(driver, tmp_path, "connections-filter", html) == []
    counter = driver.find_element(By.ID, "tv-conn-count")
    assert counter.text == "all 60 shown"
    box = driver.find_element(By.ID, "tv-conn-search")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    box.send_keys("43017")
    assert _visible_conns(driver) == [17]
    assert counter.text == "1 of 60 shown"
    box.clear()
    box.send_keys(" ")  # an input event with no words: everything again
    assert len(_visible_conns(driver)) == 60
    refused = driver.find_element(By.CSS_SELECTOR, 'button[data-flag="refused"]')
    refused.click()
    assert refused.get_attribute("aria-pressed") == "true"
    assert _visible_conns(driver) == list(range(4, 60, 6))  # every sixth is refused
    box.send_keys("43010")  # words and a flag: both must hold
    assert _visible_conns(driver) == [10]
    box.clear()
    box.send_keys(" ")
    resent = driver.find_element(By.CSS_SELECTOR, 'button[data-flag="retrans"]')
    resent.click()  # one flag at a time
    assert refused.get_attribute("aria-pressed") == "false"
    assert _visible_conns(driver) == list(range(5, 60, 6))
    resent.click()  # pressed again: off
    assert len(_visible_conns(driver)) == 60
    row = driver.find_element(By.CSS_SELECTOR, '#tv-connections tr[data-conn="7"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    row.click()
    draw = driver.find_element(By.ID, "tv-conn-draw").text
    assert draw.startswith("To draw connection 7: tcptrace-viz report ")
    assert draw.endswith("many.pcap --connection 7")
    screenshot(driver, "report-connections-filtered")


def test_the_connection_table_reads_without_javascript(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    html = _capture_report(_many_connections(tmp_path))
    start = html.rindex("<script>")
    plain = html[:start] + html[html.index("</script>", start) + len("</script>"):]
    assert open_page(driver, tmp_path, "connections-no-script", plain) == []
    assert not driver.find_element(By.ID, "tv-conn-controls").is_displayed()
    rows = driver.find_elements(By.CSS_SELECTOR, "#tv-connections tbody tr")
    assert len(rows) == 60
    assert "43000" in rows[0].text  # a plain table, in the capture's order
    box = driver.find_element(By.ID, "tv-connections")
    height = driver.execute_script("return arguments[0].clientHeight", box)
    assert height < driver.execute_script("return arguments[0].scrollHeight", box)  # bounded
    ladder = driver.find_element(By.ID, "ladder")
    assert ladder.location["y"] < box.location["y"]  # the ladder is not pushed down


def test_names_from_the_capture_stay_text_in_the_table(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    name = "x<img src=y onerror=alert(1)>.pcap"
    html = _capture_report(_many_connections(tmp_path, name))
    assert open_page(driver, tmp_path, "connections-hostile", html) == []
    assert driver.find_elements(By.CSS_SELECTOR, "img") == []
    row = driver.find_element(By.CSS_SELECTOR, '#tv-connections tr[data-conn="3"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    row.click()
    assert name in driver.find_element(By.ID, "tv-conn-draw").text


def test_several_ladders_in_one_report_open_without_errors(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    from tcptrace_viz import read_capture
    from tcptrace_viz.render import prepare

    trace = read_capture(_many_connections(tmp_path))
    more = tuple((prepare(trace, conn), "") for conn in (4, 5))
    html = render(prepare(trace, 2), "html", RenderOptions(more=more))
    assert open_page(driver, tmp_path, "connections-several", html) == []
    assert len(driver.find_elements(By.CSS_SELECTOR, "figure.ladder svg")) == 3
    link = driver.find_element(By.CSS_SELECTOR, '#tv-connections tr[data-conn="5"] a')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()  # a drawn row leads to its ladder
    assert driver.execute_script("return location.hash") == "#connection-5"
    screenshot(driver, "report-several-connections")
