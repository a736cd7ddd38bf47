"""One-line, plain-text descriptions of packets, state changes and syscalls.

These strings are shared by every renderer (text ladder, tables, Markdown, Mermaid, HTML) so a
segment reads the same everywhere.  They are plain text: renderers escape them for their format.
"""

from __future__ import annotations

from typing import Any, Final

NEVER_REACHED_TCP = frozenset({"NETFILTER_DROP", "dropped by the loss rule (no tracer: the "
                               "kernel's reason not seen)", "IP_INHDR", "IP_CSUM",
                               "OTHERHOST", "IP_RPFILTER", "IP_NOPROTO", "PKT_TOO_SMALL",
                               "TCP_CSUM"})
"""Drop reasons of segments TCP never saw (labelled LOST); any other reason is a segment TCP
received and discarded (labelled discarded)."""


def describe_packet(row: Any, injected: bool = False) -> str:
    """tcpdump-style label: ``[P.] seq 1:4 ack 1 win 512 len 3``, then ``injected`` for a
    segment a scenario sent by hand (``ctx.inject``: no kernel sent it), and ``LOST (reason)``
    or ``discarded (reason)`` for a segment the receiving kernel dropped."""
    parts = [f"[{row.flags}]"]
    if row.len:
        parts.append(f"seq {row.rel_seq}:{row.rel_seq + row.len}")
    else:
        parts.append(f"seq {row.rel_seq}")
    if "." in row.flags:
        parts.append(f"ack {row.rel_ack}")
    parts.append(f"win {row.win}")
    parts.append(f"len {row.len}")
    if injected:
        parts.append("injected")
    drop = getattr(row, "drop", "")
    if drop:  # never reached TCP (a loss rule, a full queue), or TCP read it and threw it away
        parts.append(f"{'LOST' if drop in NEVER_REACHED_TCP else 'discarded'} ({drop})")
    return " ".join(parts)


def describe_state(row: Any) -> str:
    """``ESTABLISHED -> CLOSE_WAIT`` plus the reason and a note when not traced."""
    text = f"{row.old} -> {row.new}" if row.old else str(row.new)
    if row.reason:
        text += f" ({row.reason})"
    if row.source and row.source != "tracepoint":
        text += f" [{row.source}]"
    return text


SIGNAL_ACTIONS: Final = {"killed": "killed the process", "handled": "handled",
                         "ignored": "ignored"}
"""What a signal raised by a call did, as a label says it (``SIGPIPE (killed the process)``)."""


def signal_words(row: Any, short: bool = False) -> str:
    """The signal a call raised and, when traced, what it did: ``SIGPIPE (ignored)``;
    ``short`` says ``killed`` for ``killed the process``."""
    action = str(getattr(row, "signal_action", "") or "")
    if action not in SIGNAL_ACTIONS:
        return str(row.signal)
    return f"{row.signal} ({action if short else SIGNAL_ACTIONS[action]})"


def describe_syscall(row: Any) -> str:
    """``send(b'123') = 3``, ``send(b'456') -> EPIPE``, ``write(...) killed by SIGPIPE``; a
    program's call (``run``) names its process: ``curl 7407: sendto(fd 5, 78 bytes) = 78``."""
    text = f"{row.call}({row.args})"
    pid = getattr(row, "pid", 0)
    if pid and int(pid) > 0:  # a program's call, seen by the kernel's tracepoints
        text = f"{getattr(row, 'comm', '') or 'pid'} {int(pid)}: {text}"
    if row.signal:
        return f"{text} killed by {row.signal}" if not row.ret and not row.errno else (
            f"{text} -> {row.errno or row.ret}, {signal_words(row)}")
    if row.errno:
        return f"{text} -> {row.errno}"
    if row.ret != "":
        return f"{text} = {row.ret}"
    return text


def describe_call_start(row: Any) -> str:
    """``connect(127.0.0.1:5555) called``: where a call that spans other events began."""
    return f"{row.call}({row.args}) called"


def size_text(n: int) -> str:
    """``1.5 MiB``, ``12.0 KiB``, ``300 bytes``."""
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KiB"
    return f"{n} bytes"
