"""The short texts drawn on a ladder: syscall results, state names, durations, the title."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from tcptrace_viz.event_text import signal_words

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tcptrace_viz.meta import TraceMeta

FIN_RECV_CALLS: Final = frozenset({"recv", "recvfrom", "recvmsg", "read"})
"""Calls whose result 0 means the peer's FIN (or, without a wire, end of file)."""
_FLAGS_RE: Final = re.compile(r"[A-Z][A-Z0-9_]*(\|[A-Z][A-Z0-9_]*)*")
"""A result that is a set of flags (``POLLIN|POLLRDHUP``): written ``poll() -> POLLIN``."""
WOULD_BLOCK: Final = frozenset({"EAGAIN", "EWOULDBLOCK"})
"""Errnos of a non-blocking call that would have had to wait: an answer the program asked for
(try again later), not a failure."""
NOT_FAILURES: Final = WOULD_BLOCK | {"EINPROGRESS"}
"""Errnos that are answers, not failures: a non-blocking connect() says EINPROGRESS (the
handshake goes on; poll() tells when it is done)."""


def call_failed(errno: object, signal: object) -> bool:
    """Whether a syscall's result is shown as a failure (red and bold in the diagram, the
    error style in the timeline): killed by a signal, or any errno but ``NOT_FAILURES``."""
    return bool(signal) or (bool(errno) and str(errno) not in NOT_FAILURES)


def calls_failed(errno: pd.Series[Any], signal: pd.Series[Any]) -> np.ndarray:
    """``call_failed`` for whole columns of the syscall table, as a boolean array."""
    return ((errno.astype(bool) & ~errno.astype(str).isin(NOT_FAILURES))
            | signal.astype(bool)).to_numpy(dtype=bool)


def short_syscall(row: Any, has_wire: bool = True) -> str:
    """The ladder's syscall label: ``close()``, ``send() = 3``, ``send() -> EPIPE``,
    ``send() -> EAGAIN (would block)``, ``recv() = 0 (FIN)``, ``poll() -> POLLIN|POLLRDHUP``,
    ``write() killed by SIGPIPE``."""
    text = f"{row.call}()"
    ret = str(row.ret)
    if row.signal and not row.errno and not ret:
        return f"{text} killed by {row.signal}"
    if row.errno:
        text += f" -> {row.errno}"
        if str(row.errno) in WOULD_BLOCK:
            text += " (would block)"
    elif ret:
        if ret.lstrip("-").isdigit():
            text += f" = {ret}"
            if ret == "0" and row.call in FIN_RECV_CALLS:
                text += " (FIN)" if has_wire else " (EOF)"
        elif _FLAGS_RE.fullmatch(ret):
            text += f" -> {ret}"
        else:
            text += f" = {ret}"
    if row.signal:
        text += f", {signal_words(row, short=True)}"
    return text


def state_label(state: str, observed: bool) -> str:
    """``[FIN_WAIT1]``; guesses get a question mark: ``[FIN_WAIT1?]``."""
    return f"[{state}]" if observed else f"[{state}?]"


def human_duration(seconds: float, ascii_only: bool = False) -> str:
    """``5.0 s``, ``250 ms``, ``80 µs`` (``us`` when ``ascii_only``)."""
    if seconds >= 1:
        return f"{seconds:.1f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds * 1e6:.0f} {'us' if ascii_only else 'µs'}"


def title_of(meta: TraceMeta) -> str:
    """One line naming what the trace shows."""
    scenario = str(meta.scenario or "")
    title = str(meta.title or "")
    if scenario and title:
        return f"{scenario}: {title}"
    if scenario or title:
        return scenario or title
    if meta.file:
        return f"capture {meta.file}"
    return "TCP trace"


def name_of(meta: TraceMeta) -> str:
    """The scenario (or capture file) alone, for a bold heading."""
    return str(meta.scenario or "") or (f"capture {meta.file}" if meta.file
                                              else "TCP trace")
