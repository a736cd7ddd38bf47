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
