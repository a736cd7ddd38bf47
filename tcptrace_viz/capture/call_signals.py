"""What signals did to a traced program's calls, from ``signal:signal_generate`` and
``signal:signal_deliver``.

A signal sent to a thread while one of its calls ran (SIGPIPE by a write to a reset
connection) is written on that call; what it did comes from the kernel's own word: dropped on
generation because the target ignores it, a handler run on delivery, or the default action,
which for SIGPIPE ends the process (delivered with no handler, or turned by the kernel into the
group's SIGKILL).
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Sequence
from typing import Protocol

from tcptrace_viz.capture.tracefs import KernelEvent


class SignalledCall(Protocol):
    """A traced call a signal can be written on."""

    enter: KernelEvent
    exit_ns: int | None
    signal: str
    signal_action: str


SIG_DFL, SIG_IGN = 0, 1
"""``sa_handler`` values in ``signal_deliver``: the default action, ignored."""
TRACE_SIGNAL_IGNORED = 1
"""``signal_generate``'s ``res`` for a signal dropped because its target ignores it."""


def attach_signals(calls: Sequence[SignalledCall], signals: Iterable[KernelEvent]) -> None:
    """A signal sent to a thread while one of its calls ran (SIGPIPE by a write, a Ctrl-C
    during a blocked accept) is written on that call, with what it did (see
    :func:`signal_action`)."""
    signals = list(signals)
    generated = [event for event in signals if event.event == "signal_generate"]
    delivered = [event for event in signals if event.event == "signal_deliver"]
    for event in generated:
        try:
            signum, target = int(event.fields.get("sig", "0")), int(event.fields.get("pid", "0"))
            name = signal.Signals(signum).name
        except ValueError:
            continue
        if signum == signal.SIGCHLD:
            continue
        for call in calls:
            end = call.exit_ns if call.exit_ns is not None else None
            if call.enter.pid == target and call.enter.ts_ns <= event.ts_ns and (
                    end is None or event.ts_ns <= end + 1000):
                if not call.signal:
                    call.signal = name
                    call.signal_action = signal_action(event, delivered)
                break


def signal_action(generated: KernelEvent, delivered: list[KernelEvent]) -> str:
    """What a signal did to its thread, as the kernel's ``signal_generate`` and
    ``signal_deliver`` tracepoints tell it: ``ignored`` (dropped on generation), ``handled``
    (a handler ran), ``killed`` (the default action ended the process: delivered with no
    handler, or turned into the group's SIGKILL), ``""`` when the trace does not say."""
    fields = generated.fields
    if fields.get("res", "") == str(TRACE_SIGNAL_IGNORED):
        return "ignored"
    signum, target = fields.get("sig", ""), int(fields.get("pid", "0") or 0)
    for event in delivered:
        if event.ts_ns < generated.ts_ns or event.pid != target:
            continue
        sig, handler = event.fields.get("sig", ""), event.fields.get("sa_handler", "")
        try:
            action = int(handler, 16)
        except ValueError:
            return ""
        if sig == str(int(signal.SIGKILL)) or (sig == signum and action == SIG_DFL):
            return "killed"
        if sig == signum:
            return "ignored" if action == SIG_IGN else "handled"
    return ""
