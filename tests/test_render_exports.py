"""Markdown and Mermaid exports: structure a ticket or wiki can rely on."""

from __future__ import annotations

import re

from factory import (
    close_then_write_rows,
    idle_gap,
    linger0,
    long_trace,
    make_trace,
    pipe,
    simultaneous_close,
    state,
)

from tcptrace_viz.render import TextFormat, render
from tcptrace_viz.render.ladder_layout import build_ladder


def text(trace, fmt: TextFormat, **kwargs) -> str:
    return render(trace, fmt, **kwargs)


def test_mermaid_has_participants_messages_and_notes() -> None:
    trace = make_trace()
    out = text(trace, "mermaid")
    lines = out.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert "    participant C as client 127.0.0.1:40000" in lines
    assert "    participant S as server 127.0.0.1:5555" in lines
    messages = [line for line in lines if re.match(r"    [CS](->>|-x)[CS]: ", line)]
    assert len(messages) == len(trace.packets)
    assert "    C-xS: [R] seq 2 win 512 len 0 (reset reason: NO_SOCKET)" in lines
    assert "    Note over S: state CLOSE_WAIT" in lines
    assert "    Note over S: send() -#gt; EPIPE" in lines
    states = [line for line in lines if ": state " in line]
    assert len(states) == len(trace.states)


def test_mermaid_says_a_state_handed_to_the_timewait_socket_is_orphaned() -> None:
    packets, states, calls = close_then_write_rows()
    states.insert(2, state(116, "client", "FIN_WAIT2", "FIN_WAIT2"))
    out = text(make_trace(packets, states, calls), "mermaid")
    assert "    Note over C: state FIN_WAIT2 (orphaned)" in out.splitlines()


def test_mermaid_marks_gaps_elisions_and_inferred_states() -> None:
    assert "    Note over C,S: ... 5.0 s idle ..." in text(idle_gap(), "mermaid")
    long = text(long_trace(), "mermaid")
    assert "not drawn ..." in long
    drawn = build_ladder(long_trace()).packets_drawn
    assert len(re.findall(r"^    [CS](->>|-x)[CS]: ", long, flags=re.M)) == drawn
    trace = simultaneous_close()
    trace.states.loc[0, "source"] = "inferred"
    assert "(inferred)" in text(trace, "mermaid")


def test_mermaid_without_packets() -> None:
    out = text(pipe(), "mermaid")
    assert "participant C as writer" in out and "participant S as reader" in out
    assert "->>" not in out
    assert "Note over C: write() -#gt; EPIPE" in out


def test_markdown_sections() -> None:
    out = text(linger0(), "md")
    assert out.startswith("# linger0\n")
    assert "**Verdict: PASS**" in out
    assert "| expected (any of) | observed |" in out
    assert "```mermaid\nsequenceDiagram\n" in out
    assert "<details><summary>Text ladder</summary>" in out
    assert "| t (ms) | what | who | description |" in out
    # A result sits where the call returned (it started at 0.200 ms and took 5 µs).
    assert "| 0.205 | syscall | server | `send(b'123', MSG_NOSIGNAL) -> ECONNRESET` |" in out


def test_markdown_counts_lost_bytes() -> None:
    out = text(long_trace(), "md")
    assert "**280,000 bytes lost**" in out


def test_markdown_fence_survives_backticks_in_titles() -> None:
    out = text(make_trace(title="a ``` b"), "md")
    fences = re.findall(r"^`{3,}", out, flags=re.M)
    assert fences == ["````"] * 4  # open and close, mermaid and text ladder, all longer than ```


def test_inferred_states_give_no_reset_reason() -> None:
    """Only the kernel knows why it reset; a foreign capture's RST gets no invented reason."""
    from tcptrace_viz.analysis import annotate_packets, infer_all_states

    captured = make_trace()
    packets = annotate_packets(captured.packets)
    inferred = infer_all_states(packets, sorted(set(packets["conn"].tolist())))
    assert "RST sent" in set(inferred["reason"])
    trace = make_trace(packets=captured.packets.assign(reason="").to_dict("records"),
                       states=inferred.to_dict("records"), syscalls=[], source="file")
    lines = text(trace, "mermaid").splitlines()
    assert "    C-xS: [R] seq 2 win 512 len 0" in lines
    assert "reset reason" not in text(trace, "svg")
