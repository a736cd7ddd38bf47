"""The command line's edges: help, listing, usage errors and bad input (no root needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tcptrace_viz.cli import main
from tcptrace_viz.scenarios import CATALOGUE


def test_list_shows_every_scenario() -> None:
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0
    for name in CATALOGUE:
        assert name in result.output


def test_every_command_has_help_with_an_example() -> None:
    for command in ("capture", "report", "check", "list"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0
        assert "Example" in result.output


def test_usage_errors_exit_2() -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["capture"]).exit_code == 2
    unknown = runner.invoke(main, ["capture", "--scenario", "nope"])
    assert unknown.exit_code == 2 and "tcptrace-viz list" in unknown.output
    both = runner.invoke(main, ["capture", "--all", "-s", "linger0"])
    assert both.exit_code == 2


def test_bad_input_is_one_sentence(tmp_path: Path) -> None:
    not_a_capture = tmp_path / "notes.pcap"
    not_a_capture.write_text("hello, this is not a capture\n")
    for target in (not_a_capture, tmp_path / "missing.pcapng"):
        run = subprocess.run([sys.executable, "-m", "tcptrace_viz", "report", str(target)],
                             capture_output=True, text=True, cwd=tmp_path, check=False)
        assert run.returncode == 2
        assert "Traceback" not in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
        assert str(target.name) in run.stderr


def test_commands_that_do_not_capture_do_not_import_scapy() -> None:
    code = ("import sys; from click.testing import CliRunner; from tcptrace_viz.cli import main;"
            "CliRunner().invoke(main, ['list']); CliRunner().invoke(main, ['report', '--help']);"
            "import tcptrace_viz.store, tcptrace_viz.pcap, tcptrace_viz.analysis;"
            "print('scapy' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert run.stdout.strip() == "False"
