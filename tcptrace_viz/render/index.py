"""``reports/index.html``: all scenarios side by side, one row each, linking to their reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from tcptrace_viz.analysis.selection import rows_of
from tcptrace_viz.meta import TraceMeta
from tcptrace_viz.render.labels import short_syscall
from tcptrace_viz.render.templating import content_security_policy, environment, static_text
from tcptrace_viz.render.wording import verdict_word
from tcptrace_viz.vocabulary import sender as who_sent

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace

WRITE_CALLS: Final = frozenset({"send", "write", "sendto", "sendmsg", "writev"})
"""Calls that count as "a write" in the comparison."""


@dataclasses.dataclass(frozen=True)
class IndexRow:
    """What the index says about one scenario."""

    name: str
    title: str
    first_write: tuple[str, str]
    """(side, result) of the first write, or ``("", "none")``."""
    later_write: tuple[str, str]
    """(side, result) of the last write when there were several."""
    closers: str
    states: list[str]
    verdict: str
    href: str


def render_index(entries: Sequence[tuple[Trace, str]]) -> str:
    """The index page: ``entries`` are (trace, relative href of its report)."""
    rows = [index_row(trace, href) for trace, href in entries]
    first = entries[0][0].meta if entries else TraceMeta()
    context = {
        "csp": content_security_policy(None),
        "css": static_text("report.css"),
        "rows": rows,
        "kernel": first.kernel,
        "tool_version": first.tool_version,
        "passed": sum(1 for row in rows if row.verdict == "PASS"),
        "failed": sum(1 for row in rows if row.verdict == "FAIL"),
    }
    return environment().get_template("index.html.j2").render(context)


def index_row(trace: Trace, href: str) -> IndexRow:
    """Summarise one trace for the index."""
    meta = trace.meta
    has_wire = bool(len(trace.packets))
    writes = [(str(row.side), short_syscall(row, has_wire)) for row in rows_of(trace.syscalls)
              if row.call in WRITE_CALLS]
    none = ("", "none")
    return IndexRow(
        name=meta.display_name,
        title=str(meta.title or ""),
        first_write=writes[0] if writes else none,
        later_write=writes[-1] if len(writes) > 1 else none,
        closers=_closers(trace),
        states=_state_paths(trace),
        verdict=verdict_word(meta),
        href=safe_href(href),
    )


def _closers(trace: Trace) -> str:
    """``FIN from client; RST from client``: who ended the connection, and how."""
    sides = trace.sides
    parts = []
    for letter, name in (("F", "FIN"), ("R", "RST")):
        senders: list[str] = []
        for row in rows_of(trace.packets):
            if letter not in row.flags:
                continue
            sender = who_sent(row.dir, sides, row.src, row.sport)
            if sender not in senders:
                senders.append(str(sender))
        if senders:
            parts.append(f"{name} from {' and '.join(senders)}")
    if not parts:
        return "no packets" if not len(trace.packets) else "neither"
    return "; ".join(parts)


def _state_paths(trace: Trace) -> list[str]:
    """Per side, the states it went through: ``client: ESTABLISHED → FIN_WAIT1 → …``."""
    paths = []
    for side in trace.sides:
        states = [str(s) for s in trace.states.loc[trace.states["side"] == side, "new"]]
        if states:
            paths.append(f"{side}: {' → '.join(states)}")
    return paths


def safe_href(href: str) -> str:
    """Keep relative links and http(s); anything else (``javascript:``, ``data:``) becomes ``#``."""
    scheme = urlsplit(href).scheme.lower()
    if scheme in ("", "http", "https", "file"):
        return href
    return "#"
