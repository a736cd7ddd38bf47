"""A program's calls in plain words: a signal that killed it, or one it survived."""

from __future__ import annotations

from factory import make_trace

from tcptrace_viz.render.program_facts import call_findings

BASE = {"ts_ns": 1_000, "side": "client", "call": "sendto", "args": "b'x'", "duration_ns": 10,
        "pid": 7, "comm": "python3"}


def test_sigpipe_that_killed_the_process_is_told_as_such() -> None:
    trace = make_trace(syscalls=[{**BASE, "ret": "", "errno": "", "signal": "SIGPIPE"}])
    assert call_findings(trace) == [
        "The client's sendto() raised SIGPIPE, which killed the process before the call "
        "returned."]


def test_sigpipe_a_program_ignores_is_not_said_to_kill_it() -> None:
    trace = make_trace(syscalls=[{**BASE, "ret": "", "errno": "EPIPE", "signal": "SIGPIPE",
                                  "signal_action": "ignored"}])
    found = call_findings(trace)
    assert found[0].startswith("The client's sendto() failed with EPIPE")
    assert found[1] == ("The client's sendto() raised SIGPIPE and the process lived on (ignores "
                        "it, as Python does): the call returned EPIPE.")


def test_a_signal_whose_fate_was_not_traced_is_not_given_one() -> None:
    trace = make_trace(syscalls=[{**BASE, "ret": "", "errno": "EPIPE", "signal": "SIGPIPE"}])
    said = call_findings(trace)[1]
    assert "lived on" not in said and "the trace does not say" in said
