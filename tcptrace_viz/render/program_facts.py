"""What a report says of a user's own program (``tcptrace-viz run``), in every format.

A program has no expectation to judge; its report says instead what was run and how it ended,
where its system calls came from and what they cannot show, which fd was which connection, and
what happened: the wire's findings (who closed first, RST instead of FIN, data after FIN...)
and the calls' own (EPIPE, ECONNRESET, a process killed by SIGPIPE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from tcptrace_viz.meta import TraceMeta
    from tcptrace_viz.model import Trace
    from tcptrace_viz.render.prepared import Prepared

NOTABLE_ERRNOS: Final = {
    "EPIPE": "the peer's RST had arrived after it closed (or this side had shut down writing)",
    "ECONNRESET": "the peer reset the connection",
    "ECONNREFUSED": "nothing listened on the port: the SYN was answered by RST",
    "ETIMEDOUT": "the kernel gave up retransmitting or keepalive probing",
    "ENOTCONN": "the socket was not (or no longer) connected",
}
"""The socket errors a finding names, with what each means."""


def is_program(meta: TraceMeta) -> bool:
    """The trace is of a user's program (``tcptrace-viz run``)."""
    return meta.source == "run"


def program_items(meta: TraceMeta) -> list[tuple[str, str]]:
    """Label/value pairs: the command, each program and how it ended, the syscalls' source and
    limits, the fds."""
    items: list[tuple[str, str]] = []
    if meta.command:
        items.append(("command", "; ".join(meta.command)))
    items += [("program", line) for line in meta.programs]
    if meta.interrupted:
        items.append(("run", "interrupted (Ctrl-C or SIGTERM): the program was stopped; the "
                             "trace holds everything up to then"))
    if meta.syscall_source:
        source = ("the kernel's syscall tracepoints" if meta.syscall_source == "tracepoint"
                  else "not traced")
        items.append(("system calls", f"{source}; {meta.syscall_note}" if meta.syscall_note
                      else source))
    items += [("fd", line) for line in meta.fds]
    return items


def call_findings(trace: Trace) -> list[str]:
    """One sentence per notable socket error or signal among the syscalls, first seen first."""
    calls = trace.syscalls
    if not len(calls):
        return []
    said: list[str] = []
    seen: set[str] = set()
    for row in calls.itertuples(index=False):
        errno, signal = str(row.errno), str(row.signal)
        key = errno if errno in NOTABLE_ERRNOS else ""
        if key and key not in seen:
            seen.add(key)
            said.append(f"The {row.side}'s {row.call}() failed with {errno}: "
                        f"{NOTABLE_ERRNOS[errno]}.")
        if signal and signal not in seen:
            seen.add(signal)
            said.append(_signal_finding(str(row.side), str(row.call), signal, errno,
                                        str(row.ret), str(row.signal_action)))
    return said


def _signal_finding(side: str, call: str, signal: str, errno: str, ret: str,
                    action: str) -> str:
    """What a signal raised by a call did, as far as the kernel's tracepoints said: it killed
    the process (before the call returned, or on its way back), a handler caught it, it was
    ignored; without their word, only that it was raised."""
    if not errno and not ret:
        return (f"The {side}'s {call}() raised {signal}, which killed the process before "
                "the call returned.")
    returned = errno or ret
    if action == "killed":
        return (f"The {side}'s {call}() returned {returned} and raised {signal}, whose default "
                "action killed the process.")
    if action in ("ignored", "handled"):
        how = "ignores it, as Python does" if action == "ignored" else "a handler caught it"
        return (f"The {side}'s {call}() raised {signal} and the process lived on ({how}): "
                f"the call returned {returned}.")
    return (f"The {side}'s {call}() raised {signal} and returned {returned} (the trace does "
            "not say whether the signal killed the process).")


def run_lines(prepared: Prepared) -> list[tuple[str, str]]:
    """The console's lines for a program, in place of a verdict: how it ended, the findings
    on the connection drawn and the calls', the run's facts."""
    from tcptrace_viz.analysis.findings import findings

    trace = prepared.trace
    meta = trace.meta
    lines = [("program: ", (meta.exit_status or "did not end by itself")
              + (" (interrupted)" if meta.interrupted else ""))]
    selection = prepared.selection
    shown = selection.connection if selection.connection is not None else (
        selection.connections[0] if selection.connections else None)
    found = [item.text for item in findings(trace.packets, shown)] if shown is not None else []
    lines += [("  finding: ", text) for text in [*found, *call_findings(trace)]]
    lines += [(f"  {label}: ", value) for label, value in program_items(meta)
              if label not in ("command", "program") or len(meta.programs) > 1]
    return lines
