"""The command line's edges: help, listing, usage errors and bad input (no root needed)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from builders import TS0, Iface, Packet, Section, pcap_file, pcapng_file, syn
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


def _run_on_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run the CLI with standard error on a pseudo-terminal, as a user at a shell would.

    Returns the exit code, what the terminal showed and standard output.
    """
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "tcptrace_viz", *args], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=terminal, text=True)
    os.close(terminal)
    shown = bytearray()
    deadline = time.monotonic() + 120
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                process.kill()
                raise AssertionError(f"tcptrace-viz {' '.join(args)} did not finish in 120 s")
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    stdout, _ = process.communicate(timeout=120)
    return process.returncode, shown.decode("utf-8", "replace"), stdout


def _small_pcap(folder: Path) -> Path:
    frames = [syn(sport=40000 + i) for i in range(50)]
    path = folder / "small.pcap"
    path.write_bytes(pcap_file(frames, [TS0 + i * 1000 for i in range(len(frames))]))
    return path


def test_report_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    capture = _small_pcap(tmp_path)
    code, shown, stdout = _run_on_terminal(["report", str(capture), "-o", "out.txt"], tmp_path)
    assert code == 0, shown
    assert "reading small.pcap: 100%" in shown
    assert "finding the connections of 50 TCP segments…" in shown
    assert "inferring the TCP states of 50 connections…" in shown
    assert "rendering txt…" in shown
    assert stdout.strip() == "wrote out.txt"


def test_report_shows_no_progress_when_not_on_a_terminal(tmp_path: Path) -> None:
    capture = _small_pcap(tmp_path)
    run = subprocess.run([sys.executable, "-m", "tcptrace_viz", "report", str(capture), "-o",
                          "out.txt"], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert run.returncode == 0
    assert run.stderr == ""
    assert run.stdout.strip() == "wrote out.txt"


def test_an_error_while_reading_starts_on_its_own_line(tmp_path: Path) -> None:
    """The percentage line is still open when reading fails: the error must not join it."""
    only_unsupported = pcapng_file(Section([Iface(linktype=147)], [Packet(syn(), TS0)]))
    capture = tmp_path / "dlt147.pcapng"
    capture.write_bytes(only_unsupported)
    code, shown, _ = _run_on_terminal(["report", str(capture), "-o", "out.txt"], tmp_path)
    assert code == 2
    lines = shown.replace("\r\n", "\n").strip().split("\n")
    assert lines[-2].endswith("reading dlt147.pcapng: 100%")
    assert lines[-1].startswith("tcptrace-viz: ") and "link type" in lines[-1]


def test_an_error_after_progress_starts_on_its_own_line(tmp_path: Path) -> None:
    capture = _small_pcap(tmp_path)
    code, shown, _ = _run_on_terminal(["report", str(capture), "--connection", "999", "-o",
                                       "out.txt"], tmp_path)
    assert code == 2
    last = shown.strip().splitlines()[-1]
    assert last.startswith("tcptrace-viz: ") and "no connection 999" in last


def test_report_embeds_a_users_file_under_its_own_name(tmp_path: Path) -> None:
    capture = _small_pcap(tmp_path)
    out = tmp_path / "r.html"
    assert CliRunner().invoke(main, ["report", str(capture), "-o", str(out)]).exit_code == 0
    html = out.read_text()
    assert 'download="small.pcap"' in html and "not embedded" not in html


def test_report_says_when_a_capture_is_too_big_to_embed(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tcptrace_viz.outputs.EMBED_LIMIT", 100)
    capture = _small_pcap(tmp_path)
    out = tmp_path / "r.html"
    assert CliRunner().invoke(main, ["report", str(capture), "-o", str(out)]).exit_code == 0
    html = out.read_text()
    assert "download=" not in html
    assert "small.pcap (4.4 KiB) is not embedded in this report" in html


def test_a_capture_that_dropped_frames_says_so() -> None:
    from factory import make_trace

    from tcptrace_viz.render.console import console_summary

    trace = make_trace(stats={"dropped": 22455, "tcp_segments": 9065})
    summary = console_summary(trace, [])
    assert ("lost: 22,455 frames not captured: the packet ring was full; the packets shown "
            "are incomplete") in summary
    assert "lost:" not in console_summary(make_trace(stats={"dropped": 0}), [])
    named = make_trace(stats={"dropped": 0, "tcp_segments": 9065, "lost": 169,
                              "losses": ["169 segments sent but dropped by lo's receive backlog"]})
    assert "lost: 169 segments sent but dropped by lo's receive backlog" in console_summary(
        named, [])
    assert summary.lower().count("verdict") == 1  # the ladder's own verdict line is left out


def _capture_folder(root: Path) -> Path:
    """A saved capture folder (trace.json + trace.pcapng), made without capturing."""
    import pandas as pd

    from tcptrace_viz.analysis import annotate_packets
    from tcptrace_viz.model import Trace
    from tcptrace_viz.pcap import LINKTYPE_ETHERNET, decode_frames
    from tcptrace_viz.store import pcapng_bytes, save_capture

    frames = [syn(sport=40000)]
    times = [TS0]
    packets = annotate_packets(decode_frames(frames, times, LINKTYPE_ETHERNET))
    states = pd.DataFrame([{"ts_ns": TS0 + 1, "side": "client", "local": "127.0.0.1:40000",
                            "remote": "127.0.0.2:5555", "old": "CLOSE", "new": "SYN_SENT",
                            "source": "tracepoint", "reason": ""}])
    trace = Trace.build(packets=packets, states=states,
                        meta={"scenario": "demo", "title": "a demo", "source": "capture"})
    return save_capture(trace, pcapng_bytes(trace, frames, times), root)


def test_a_captures_own_files_report_like_its_folder(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _capture_folder(tmp_path / "captures")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    outputs = []
    for target in (folder, folder / "trace.pcapng", folder / "trace.json"):
        markdown = runner.invoke(main, ["report", str(target), "-f", "md", "-o", "-"])
        assert markdown.exit_code == 0, markdown.output
        outputs.append(markdown.output)
        written = runner.invoke(main, ["report", str(target)])
        assert written.output.strip() == "wrote reports/demo.html"
        html = (tmp_path / "reports" / "demo.html").read_text()
        assert 'download="demo.pcapng"' in html
    assert outputs[0] == outputs[1] == outputs[2]
    assert "SYN_SENT" in outputs[0] and "(inferred)" not in outputs[0]


def test_a_reports_folder_that_is_a_file_is_one_sentence(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    capture = _small_pcap(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").write_text("not a folder")
    result = CliRunner().invoke(main, ["report", str(capture)])
    assert result.exit_code == 2
    assert result.output.startswith("tcptrace-viz: cannot write reports/small.html: reports "
                                    "cannot be made a folder")
    inside_a_file = CliRunner().invoke(main, ["report", str(capture), "-o",
                                              str(capture / "x.html")])
    assert inside_a_file.exit_code == 2
    assert f"{capture} is not a folder" in inside_a_file.output


def test_an_output_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    capture = _small_pcap(tmp_path)
    target = tmp_path / "missing" / "r.html"
    result = CliRunner().invoke(main, ["report", str(capture), "-o", str(target)])
    assert result.exit_code == 2
    assert f"{target.parent} does not exist" in result.output
    assert not target.parent.exists()


def test_a_scenario_without_tcp_says_so() -> None:
    from factory import make_trace

    from tcptrace_viz.render.console import console_summary

    no_tcp = make_trace(packets=[], states=[], stats={"tcp_segments": 0}, scenario="pipe")
    summary = console_summary(no_tcp, [])
    assert "capture: no TCP segments and no TCP states" in summary
    assert "states from" not in summary
