"""``tcptrace-viz run``: a user's own program, traced for real, against the built-in scenarios.

The programs in ``tests/programs/`` reproduce built-in scenarios without the project's code, in
Python and in C (compiled here with the system compiler); ``run`` on each must give the wire
sequence, the state changes and the errno the built-in scenario gives on this kernel.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from builders import own_leftovers, unmeasured_env
from capturing import capture

from tcptrace_viz.analysis.selection import select
from tcptrace_viz.capture import program_session
from tcptrace_viz.capture.program_run import ProgramPlan
from tcptrace_viz.capture.program_session import ProgramResult, run_program
from tcptrace_viz.capture.worker_process import TracerPlan
from tcptrace_viz.model import Trace
from tcptrace_viz.render.program_facts import call_findings
from tcptrace_viz.scenarios import get
from tcptrace_viz.scenarios.expectation import outcome_problem

PROGRAMS = Path(__file__).parent / "programs"
SAME_CALL = {"sendto": "send", "write": "send", "sendmsg": "send", "recvfrom": "recv",
             "read": "recv", "recvmsg": "recv", "accept4": "accept"}
"""The syscalls a program makes for what a scenario's steps log by the library's name."""

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C programs, built with the system compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed to build the test programs"
    folder = tmp_path_factory.mktemp("programs")
    for source in PROGRAMS.glob("*.c"):
        subprocess.run([compiler, "-Wall", "-Werror", "-O1", "-o", str(folder / source.stem),
                        str(source)], check=True)
    return folder


def _command(language: str, name: str, compiled: Path) -> tuple[str, ...]:
    if language == "c":
        return (str(compiled / name),)
    return (sys.executable, str(PROGRAMS / f"{name}.py"))


def _run(*command: str, name: str = "program") -> ProgramResult:
    return run_program(ProgramPlan(name, command=command))


def _as_scenario_logs(trace: Trace) -> Trace:
    """The trace with each call named as the scenarios' steps log it (sendto -> send)."""
    calls = trace.syscalls.copy()
    calls["call"] = calls["call"].map(lambda name: SAME_CALL.get(name, name))
    return dataclasses.replace(trace, syscalls=calls)


def _wire(trace: Trace) -> list[tuple[str, str]]:
    return list(zip(trace.packets["dir"], trace.packets["flags"], strict=True))


def _meaningful(trace: Trace) -> list[tuple[str, str]]:
    """The wire without its bare ACKs: whether the kernel acknowledges a FIN on its own or
    with the data that follows depends on timing, in a program and in a scenario alike."""
    return [token for token in _wire(trace) if token[1] != "."]


def _moves(trace: Trace) -> set[tuple[str, str, str]]:
    """Each side's state changes; FIN_WAIT2 -> FIN_WAIT2 (the socket handed to its timewait
    form, which happens or not by timing: CI saw it in one built-in run) is not a change."""
    return {(str(row.side), str(row.old), str(row.new))
            for row in trace.states.itertuples(index=False) if row.old != row.new}


@pytest.mark.parametrize("language", ["python", "c"])
@pytest.mark.parametrize("scenario", ["close-then-write", "linger0", "connect-refused"])
def test_a_program_shows_what_the_built_in_scenario_shows(scenario: str, language: str,
                                                          compiled: Path) -> None:
    ran = _run(*_command(language, scenario.replace("-", "_"), compiled))
    trace = ran.capture.trace
    assert ran.exit_code == 0 and not ran.interrupted
    assert trace.meta.source == "run" and trace.meta.syscall_source == "tracepoint"
    assert trace.sides == ["client", "server"]
    for outcome in get(scenario).outcomes:
        assert outcome_problem(_as_scenario_logs(trace), outcome) == "", trace.syscalls
    builtin = capture(scenario).trace
    assert _meaningful(trace) == _meaningful(builtin)
    assert _moves(trace) == _moves(builtin)
    errors = [str(errno) for errno in trace.syscalls["errno"] if errno]
    assert errors == [str(errno) for errno in builtin.syscalls["errno"] if errno]
    assert trace.meta.stats["lost"] == 0


def test_every_socket_fd_is_named_with_its_connection(compiled: Path) -> None:
    trace = _run(str(compiled / "close_then_write")).capture.trace
    client = trace.meta.endpoints["client"]
    assert any(line.endswith("(listening)") for line in trace.meta.fds)
    assert any(f"{client} ->" in line for line in trace.meta.fds), trace.meta.fds
    connect = trace.syscalls[trace.syscalls["call"] == "connect"].iloc[0]
    assert connect["side"] == "client" and trace.meta.endpoints["server"] in connect["args"]
    assert connect["comm"] == "close_then_write" and connect["pid"] > 0  # who made the call
    assert set(trace.syscalls["pid"]) == {connect["pid"]}
    # Only socket fds are rows: the program's stdout write is not one
    assert set(trace.syscalls["args"].str.extract(r"fd (\d+)")[0].dropna()) <= {"3", "4", "5"}


def test_a_forked_child_s_calls_are_traced(tmp_path: Path) -> None:
    ran = _run(sys.executable, str(PROGRAMS / "forking_server.py"))
    trace = ran.capture.trace
    assert ran.exit_code == 0
    pids = {line.split()[1] for line in trace.meta.fds}
    assert len(pids) == 2, trace.meta.fds  # the parent and the child that answered
    sends = trace.syscalls[trace.syscalls["call"] == "sendto"]
    assert list(sends["ret"]) == ["21"] and list(sends["side"]) == ["server"]
    assert "F." in set(trace.packets["flags"])


def test_a_program_killed_by_sigpipe(compiled: Path) -> None:
    ran = _run(str(compiled / "sigpipe"))
    trace = ran.capture.trace
    assert ran.exit_code == 128 + signal.SIGPIPE
    assert trace.meta.exit_status == "killed by SIGPIPE"
    writes = trace.syscalls[trace.syscalls["call"] == "write"]
    assert list(writes["ret"]) == ["3", ""] and list(writes["errno"]) == ["", "EPIPE"]
    assert list(writes["signal"]) == ["", "SIGPIPE"]


@pytest.mark.parametrize("fate, action, exit_code", [
    ("ignore", "ignored", 0), ("handler", "handled", 0),
    ("default", "killed", 128 + signal.SIGPIPE)])
def test_what_sigpipe_did_is_the_kernel_s_word(fate: str, action: str, exit_code: int) -> None:
    ran = _run(sys.executable, str(PROGRAMS / "sigpipe_fates.py"), fate)
    trace = ran.capture.trace
    assert ran.exit_code == exit_code
    raised = trace.syscalls[trace.syscalls["signal"] == "SIGPIPE"]
    assert list(raised["errno"]) == ["EPIPE"] and list(raised["signal_action"]) == [action]
    said = [text for text in call_findings(trace) if "SIGPIPE" in text]
    assert ("killed the process" in said[0]) == (action == "killed"), said
    assert ("lived on" in said[0]) == (action != "killed"), said


def test_each_connection_s_ladder_has_its_own_calls() -> None:
    trace = _run(sys.executable, str(PROGRAMS / "two_connections.py")).capture.trace
    pairs = {(str(local), str(remote)) for local, remote in zip(
        trace.syscalls["local"], trace.syscalls["remote"], strict=True) if remote}
    assert len(set(trace.packets["conn"])) == 2 and len(pairs) == 4, pairs  # both ends, twice
    errors = []
    for conn in (0, 1):
        calls = select(trace, conn).trace.syscalls
        ports = {str(row.sport) for row in trace.packets[trace.packets["conn"] == conn]
                 .itertuples()}
        named = calls[calls["remote"] != ""]
        # every call that names a connection names this one
        assert all(str(local).rpartition(":")[2] in ports for local in named["local"])
        assert list(calls["call"]).count("accept4") == 1, calls
        errors.append([str(e) for e in calls["errno"] if e])
    assert errors == [[], ["ECONNRESET"]]


def test_without_tracefs_the_states_are_sampled_and_the_calls_said_unavailable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(program_session, "plan_tracer",
                        lambda: TracerPlan(None, "tracefs is not available (test)"))
    trace = _run(sys.executable, str(PROGRAMS / "forking_server.py")).capture.trace
    assert trace.meta.syscall_source == "unavailable" and not len(trace.syscalls)
    assert "tracefs is not available" in trace.meta.syscall_note
    assert _wire(trace)[0] == ("c2s", "S") and trace.meta.stats["lost"] == 0
    # Sampled every few ms: a fast program's passing states can be missed, the TIME_WAIT
    # that outlives it cannot
    assert set(trace.states["source"]) == {"sampled"}
    assert "TIME_WAIT" in set(trace.states["new"])


def _cli(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tcptrace_viz", "run", "--out", str(tmp_path / "captures"),
         "--reports", str(tmp_path / "reports"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=unmeasured_env())


def test_a_server_and_a_client_are_each_named_after_their_program(tmp_path: Path) -> None:
    client = ("import urllib.request; "
              "urllib.request.urlopen('http://127.0.0.1:8000/').read()")
    process = _cli(tmp_path, "--name", "web", "--server",
                   f"{sys.executable} -m http.server 8000 --bind 127.0.0.1",
                   "--client", f"{sys.executable} -c \"{client}\"")
    stdout, stderr = process.communicate(timeout=90)
    assert process.returncode == 0, stderr
    assert "program: exited with status 0" in stdout
    document = json.loads(next((tmp_path / "captures" / "web").glob("*/trace.json"))
                          .read_text())["meta"]
    assert document["source"] == "run" and len(document["programs"]) == 2
    sides = json.loads(next((tmp_path / "captures" / "web").glob("*/trace.json"))
                       .read_text())["syscalls"]
    assert {row["side"] for row in sides} == {"client", "http.server"}  # not python3
    assert "killed by SIGTERM" in document["programs"][0]  # the server, ended after the client
    html = (tmp_path / "reports" / "web.html").read_text()
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "http.server" in html and "web.html" in index
    assert "exited with status 0" in index  # how the client ended, where a verdict would be
    assert own_leftovers(process.pid, str(tmp_path)) == []


def test_ctrl_c_ends_a_program_that_never_exits_and_keeps_the_trace(tmp_path: Path) -> None:
    process = _cli(tmp_path, "--", sys.executable, "-u", str(PROGRAMS / "never_exits.py"))
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "listening"  # the program's own line
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "tcptrace_viz/" not in stderr  # the program's own KeyboardInterrupt is its own
    assert stderr.splitlines()[-1] == "tcptrace-viz: interrupted"
    assert "(interrupted)" in stdout
    document = json.loads(next((tmp_path / "captures" / "never_exits").glob("*/trace.json"))
                          .read_text())["meta"]
    assert document["interrupted"] is True
    assert "SIGINT" in document["programs"][0]
    assert own_leftovers(process.pid, str(tmp_path)) == []
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit()
                and "never_exits" in _cmdline(pid)]


def _cmdline(pid: str) -> str:
    """A process's command line, ``""`` when it has exited since /proc was listed."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""


@pytest.mark.parametrize("args, says", [
    (["--", "no-such-program-here"], "no-such-program-here: command not found"),
    (["--", "./nowhere/prog"], "./nowhere/prog: no such file"),
    ([], "no command to run"),
    (["--server", "python3"], "--server and --client go together"),
])
def test_a_command_that_cannot_run_gets_one_sentence_and_exit_2(tmp_path: Path,
                                                                args: list[str],
                                                                says: str) -> None:
    process = _cli(tmp_path, *args)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert stderr.count("\n") == 1 and says in stderr, stderr
    assert not (tmp_path / "captures").exists()
