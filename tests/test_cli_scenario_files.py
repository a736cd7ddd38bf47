"""``capture --file`` and ``check --file``: a user's scenario file on the command line, and the
report choices (``--style``, ``--proportional-time``, ``--quiz``, ``--format pdf``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from builders import TS0, pcap_file, syn

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WRONG = '''
from tcptrace_viz import CallOutcome, Outcome, ScenarioContext, scenario


@scenario(name="wrong-on-purpose", title="expects what Linux does not do", teaches="t",
          steps="C close(); S send()",
          outcomes=(Outcome("never", calls=(CallOutcome("server", "send", 1,
                                                         errno="EPIPE"),)),))
def wrong(ctx: ScenarioContext) -> None:
    client, server = ctx.connected_pair()
    ctx.close("client", client)
    ctx.wait_fin("server", server)
    ctx.send("server", server, b"ok")
'''


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tcptrace_viz", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.root
def test_check_file_is_a_kernel_behaviour_regression_suite(tmp_path: Path) -> None:
    good = _cli("check", "--file", EXAMPLES / "server_closes_first.py", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert good.stdout.splitlines()[0].split() == ["server-closes-first", "PASS"]
    wrong = tmp_path / "wrong.py"
    wrong.write_text(WRONG)
    failed = _cli("check", "--file", wrong, "--file", EXAMPLES / "half_close_echo.py",
                  cwd=tmp_path)
    assert failed.returncode == 1, failed.stderr
    lines = failed.stdout.splitlines()
    assert lines[0].split()[:2] == ["wrong-on-purpose", "FAIL"]
    assert lines[1].split() == ["half-close-echo", "PASS"]
    only = _cli("check", "--file", wrong, "-s", "linger0", cwd=tmp_path)
    assert only.returncode == 0 and "wrong-on-purpose" not in only.stdout


@pytest.mark.root
def test_capture_file_with_the_report_choices(tmp_path: Path) -> None:
    done = _cli("capture", "--file", EXAMPLES / "half_close_echo.py", "--set", "request=7",
                "--style", "projector", "--proportional-time", "--quiz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "reports" / "half-close-echo.html").read_text()
    assert 'data-quiz="on"' in html and "time to scale" in html
    assert "Key moments" in html
    assert (tmp_path / "reports" / "half-close-echo.png").read_bytes().startswith(b"\x89PNG")
    folder = next((tmp_path / "captures" / "half-close-echo").iterdir())
    pdf = _cli("report", folder, "-f", "pdf", "-o", tmp_path / "lesson.pdf", cwd=tmp_path)
    assert pdf.returncode == 0, pdf.stderr
    assert (tmp_path / "lesson.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(("text", "said"), [
    ("import os\n", "bad.py: registers no scenario"),
    ("x = (\n", "bad.py:1: this scenario file does not compile"),
    ("raise OSError('boom')\n", "bad.py:1: this scenario file raised OSError: boom"),
])
def test_a_bad_scenario_file_is_one_sentence_and_exit_2(tmp_path: Path, text: str,
                                                        said: str) -> None:
    (tmp_path / "bad.py").write_text(text)
    for command in ("check", "capture"):
        done = _cli(command, "--file", "bad.py", cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr.strip().startswith("tcptrace-viz: ") and said in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_file_scenario_name_needs_its_file(tmp_path: Path) -> None:
    done = _cli("check", "-s", "half-close-echo", cwd=tmp_path)
    assert done.returncode == 2 and "scenarios need --file FILE" in done.stderr


def test_report_pdf_and_projector_from_a_pcap(tmp_path: Path) -> None:
    pcap = tmp_path / "small.pcap"
    pcap.write_bytes(pcap_file([syn(sport=40000)], [TS0]))
    done = _cli("report", pcap, "-f", "pdf", "--style", "projector", "-o", "out.pdf",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.pdf").read_bytes().startswith(b"%PDF-")
    bad = _cli("report", pcap, "--style", "huge", cwd=tmp_path)
    assert bad.returncode == 2


BLIND_RST = '''\
from tcptrace_viz import (TH_ACK, TH_RST, CallOutcome, Outcome, ScenarioContext, scenario)


@scenario(
    name="blind-rst",
    title="an RST with the right sequence number, sent by a third party, ends the connection",
    teaches="TCP accepts an RST whose seq is exactly rcv_nxt: whoever can guess it can reset.",
    steps="C connect; X sends RST to the client with seq = server's next; C recv()",
    outcomes=(Outcome("Linux", wire=("s2c R",),
                      calls=(CallOutcome("client", "recv", 1, errno="ECONNRESET"),)),),
)
def blind_rst(ctx: ScenarioContext) -> None:
    raw = ctx.raw_tcp()
    client, server = ctx.connected_pair()
    port = client.getsockname()[1]
    synack = next(s for s in raw.read() if s.sport == ctx.server_port and s.dport == port)
    ctx.inject("server", raw, sport=ctx.server_port, dport=port, seq=synack.seq + 1, ack=0,
               flags=TH_RST)
    ctx.wait_error("client", client)
    ctx.recv("client", client)
'''


@pytest.mark.root
def test_a_file_sends_a_hand_made_segment_with_the_raw_api(tmp_path: Path) -> None:
    """A third party's RST with the right sequence number, written from the README's API
    table only: the client is reset, the injected segment is counted as such, and no other
    segment is given a drop that was not its own (the SYN's buffer is reused later)."""
    path = tmp_path / "rst_inject.py"
    path.write_text(BLIND_RST)
    done = _cli("capture", "--file", path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the scenario injected 1" in done.stdout
    assert "discarded" not in done.stdout and "LOST" not in done.stdout
    assert "inject() = 40" in done.stdout
