"""Developer sessions: ``nox`` runs tests, oldest, browser, lint and typecheck (what CI runs).

The test sessions need root for the capture tests (network namespaces, tracefs) and a few
system packages (tshark, chromium, nftables); when run as root they install what is missing
with apt-get.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "oldest", "browser", "lint", "typecheck"]

SYSTEM_PACKAGES = {"tshark": "tshark", "chromium": "chromium", "chromedriver": "chromium-driver",
                   "cc": "gcc", "tcptrace": "tcptrace", "nft": "nftables"}


def _install_system_packages(session: nox.Session, commands: list[str]) -> None:
    """apt-get install the Debian packages providing ``commands`` that are not on PATH."""
    missing = [SYSTEM_PACKAGES[command] for command in commands if shutil.which(command) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        session.warn(f"not root or no apt-get: cannot install {', '.join(missing)}")
        return
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-q", external=True, env=env)
    session.run("apt-get", "install", "-y", "-q", "--no-install-recommends", *missing,
                external=True, env=env)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, capture tests included (they need root; CI is root), under coverage.

    A C compiler builds the reader's optional extension, which CI must test (the tests also
    check the numpy/Python fallbacks give the same results).  Coverage follows the capture's
    forked worker and the CLI subprocesses ([tool.coverage.run] in pyproject.toml); the table
    is printed at the end.
    """
    _install_system_packages(session, ["tshark", "cc", "nft"])  # nft: --drop, lost segments
    session.install(".[test]")
    # The data files go to the session's own folder, not the checkout or a test's tmp_path;
    # anyone may write there: some capture tests run the tool as user nobody.
    data = os.path.join(session.create_tmp(), "coverage")
    os.makedirs(data, exist_ok=True)
    os.chmod(data, 0o1777)
    session.env["COVERAGE_FILE"] = os.path.join(data, ".coverage")
    session.run("coverage", "erase")
    # The pytest script, not `-m pytest`: that would put the checkout first on sys.path and test
    # ./tcptrace_viz (without its compiled extension) instead of the installed package.
    pytest = os.path.join(session.bin, "pytest")
    session.run("coverage", "run", pytest, "-m", "not browser", *session.posargs)
    session.run("coverage", "combine", "--quiet")
    session.run("coverage", "report")


@nox.session
def oldest(session: nox.Session) -> None:
    """The tests that need no root, on the oldest pandas, numpy and pyarrow pyproject.toml
    accepts (a newer pyarrow needs numpy 2)."""
    session.install(".[test]", "pandas==2.1.4", "numpy==1.26.4", "pyarrow==16.1.0")
    session.run("pytest", "-m", "not browser and not root", *session.posargs)


@nox.session
def browser(session: nox.Session) -> None:
    """Open rendered reports in headless Chromium: no console errors, hover works, screenshots."""
    _install_system_packages(session, ["chromium", "chromedriver"])
    session.install(".[test,browser]")
    session.run("pytest", "-m", "browser", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff."""
    session.install("ruff")
    session.run("ruff", "check", "tcptrace_viz", "tests", "benchmarks", "examples", "noxfile.py",
                "setup.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install(".", "mypy", "pandas-stubs")
    session.run("mypy", "tcptrace_viz")


@nox.session(default=False)
def capture(session: nox.Session) -> None:
    """Run every scenario into captures/ and reports/ (needs root)."""
    session.install(".")
    _install_system_packages(session, ["nft"])  # the scenarios that lose a segment
    session.run("tcptrace-viz", "capture", "--all", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Reader benchmarks against dpkt, scapy, tshark and tcptrace (see benchmarks/README.md)."""
    _install_system_packages(session, ["tshark", "tcptrace", "cc"])
    session.install(".[test]")
    session.run("python", "benchmarks/bench_reader.py", *session.posargs)
