"""``reports/index.html``: all scenarios side by side, one row each, linking to their reports.

A row is an :class:`IndexRow`, made from a Trace (:func:`index_row`) and kept between runs as
plain JSON (:meth:`IndexRow.to_json`, read back from untrusted JSON by
:meth:`IndexRow.from_json`), so that the index of one scenario's run still lists the others.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from tcptrace_viz.analysis.selection import rows_of
from tcptrace_viz.render.labels import short_syscall
from tcptrace_viz.render.templating import content_security_policy, environment, static_text
from tcptrace_viz.render.thumbnail import DATA_PNG
from tcptrace_viz.render.wording import settings_text, verdict_word
from tcptrace_viz.vocabulary import sender as who_sent

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace

WRITE_CALLS: Final = frozenset({"send", "sendall", "write", "sendto", "sendmsg", "writev"})
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
    family: str = ""
    """``ipv4`` or ``ipv6`` for a capture (as in its meta), else empty."""
    thumbnail: str = ""
    """The top of the ladder as a ``data:image/png;base64,`` URI, or empty."""
    kernel: str = ""
    """The kernel release the run was on."""
    tool_version: str = ""
    """The tcptrace-viz version that made the run."""
    scenario: str = ""
    """The scenario's name (``name`` is what the index calls the row)."""
    settings: str = ""
    """What ``--sysctl`` set for the run, e.g. ``net.ipv4.tcp_fin_timeout=2``."""

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON object."""
        document = dataclasses.asdict(self)
        document["first_write"], document["later_write"] = (list(self.first_write),
                                                            list(self.later_write))
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> IndexRow | None:
        """A row read back from untrusted JSON; None when it is not one.  Text fields must be
        text, the link stays relative (:func:`safe_href`), the thumbnail a PNG data: URI."""
        def text(key: str) -> str:
            value = document.get(key, "")
            return value if isinstance(value, str) else ""

        def pair(key: str) -> tuple[str, str]:
            value = document.get(key)
            if isinstance(value, list | tuple) and len(value) == 2:
                return str(value[0]), str(value[1])
            return ("", "none")

        states = document.get("states")
        if not text("name") or not text("href"):
            return None
        thumbnail = text("thumbnail")
        if not (thumbnail.startswith(DATA_PNG)
                and _BASE64.fullmatch(thumbnail.removeprefix(DATA_PNG))):
            thumbnail = ""
        return cls(name=text("name"), title=text("title"), first_write=pair("first_write"),
                   later_write=pair("later_write"), closers=text("closers"),
                   states=[str(item) for item in states] if isinstance(states, list) else [],
                   verdict=text("verdict"), href=safe_href(text("href")), family=text("family"),
                   thumbnail=thumbnail, kernel=text("kernel"),
                   tool_version=text("tool_version"), scenario=text("scenario"),
                   settings=text("settings"))


_BASE64: Final = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def render_index(entries: Sequence[tuple[Trace, str] | IndexRow]) -> str:
    """The index page: ``entries`` are rows, or (trace, relative href of its report)."""
    rows = [entry if isinstance(entry, IndexRow) else index_row(*entry) for entry in entries]
    first = next((row for row in rows if row.kernel or row.tool_version), None)
    context = {
        "csp": content_security_policy(None),
        "css": static_text("report.css"),
        "rows": rows,
        "kernel": first.kernel if first else "",
        "tool_version": first.tool_version if first else "",
        "passed": sum(1 for row in rows if row.verdict == "PASS"),
        "failed": sum(1 for row in rows if row.verdict == "FAIL"),
    }
    return environment().get_template("index.html.j2").render(context)


def index_row(trace: Trace, href: str, thumbnail: str = "") -> IndexRow:
    """Summarise one trace for the index; ``thumbnail`` is its ladder's data: URI, if any."""
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
        # a program (tcptrace-viz run) is not judged: how it ended stands in the column
        verdict=verdict_word(meta) or str(meta.exit_status or ""),
        href=safe_href(href),
        family=str(meta.family or ""),
        thumbnail=thumbnail if thumbnail.startswith(DATA_PNG) else "",
        kernel=str(meta.kernel or ""),
        tool_version=str(meta.tool_version or ""),
        scenario=str(meta.scenario or ""),
        settings=settings_text(meta),
    )


def _closers(trace: Trace) -> str:
    """``FIN from client; RST from client``: who ended the connection, and how."""
    sides = trace.sides
    parts = []
    for letter, name in (("F", "FIN"), ("R", "RST")):
        senders: list[str] = []
        packets = trace.packets
        flagged = packets[packets["flags"].str.contains(letter, regex=False)] if len(
            packets) else packets
        for row in rows_of(flagged):
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
        # a state held on by another kernel object (orphaned) is the same state, said once
        states = [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]
        if states:
            paths.append(f"{side}: {' → '.join(states)}")
    return paths


def safe_href(href: str) -> str:
    """Keep relative links and http(s); anything else (``javascript:``, ``data:``) becomes ``#``."""
    scheme = urlsplit(href).scheme.lower()
    if scheme in ("", "http", "https", "file"):
        return href
    return "#"
