"""What ``connections`` and ``report`` do with a capture of many connections: list, filter, pick.

``connections FILE`` prints the summary line and the table (text, CSV, JSON, Markdown) of the
connections the filters keep; ``report FILE`` with the same filters draws the most telling of
them (:func:`tcptrace_viz.analysis.triage.choose`) and says which and why; ``--connection N``
(repeatable) draws those named, ``--all-connections`` every one kept (at most
:data:`ALL_CONNECTIONS_MAX`, and says so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import click

from tcptrace_viz.errors import BadInputError

if TYPE_CHECKING:
    from pathlib import Path

    from tcptrace_viz.analysis.selection import Selection
    from tcptrace_viz.analysis.triage import Filters
    from tcptrace_viz.big_capture import OpenCapture
    from tcptrace_viz.model import Trace
    from tcptrace_viz.progress import Progress
    from tcptrace_viz.render.options import RenderOptions

F = TypeVar("F", bound=Callable[..., Any])
ALL_CONNECTIONS_MAX: Final = 20
"""``--all-connections`` draws at most this many ladders (the table lists every connection)."""
SEVERAL_FORMATS: Final = ("html", "md", "txt")
"""The formats that draw several connections in one report."""


def drawing_options(function: F) -> F:
    """``report``'s choice of the connections drawn and of the time origin."""
    function = click.option("--absolute-time", is_flag=True,
                            help="Count times from the capture's first packet, not from the "
                                 "drawn connection's.")(function)
    function = click.option("--all-connections", is_flag=True,
                            help="Draw every connection the filters keep (at most "
                                 f"{ALL_CONNECTIONS_MAX}; html, md, txt).")(function)
    return click.option("--connection", "-c", "connection", type=int, multiple=True,
                        help="Draw this connection (see `tcptrace-viz connections FILE`); "
                             "repeat it for several (html, md, txt); default: the most "
                             "telling one (a reset, a refusal, retransmissions...).")(function)


@dataclasses.dataclass(frozen=True)
class Drawing:
    """The connections a report draws, and why."""

    first: int | None
    """The one drawn in full (ladder, timeline); None: let the report choose among all."""
    why: str = ""
    """Why ``first`` (empty when it was named)."""
    more: tuple[tuple[int, str], ...] = ()
    """Those drawn after it, each with why."""
    note: str = ""
    """What was left undrawn (``--all-connections`` past its cap)."""
    default: tuple[int, str] | None = None
    """With ``first`` None: the connection the report will choose, and why (for stderr)."""

    def lines(self) -> list[str]:
        """What the command says on stderr about its choice."""
        drawn = [self.first, *(conn for conn, _ in self.more)]
        out = [f"drawing connection {self.first}: {self.why}"] if self.why and not self.more \
            else []
        if self.default is not None:
            out.append("drawing connection {}: {}".format(*self.default))
        if self.more:
            out.append("drawing connections " + ", ".join(str(c) for c in drawn))
        return out + ([self.note] if self.note else [])


def check_host(host: str | None) -> None:
    """Refuse a ``--host`` that is no IPv4 or IPv6 address (BadInputError)."""
    import ipaddress

    if host is None:
        return
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise BadInputError(f"--host {host}: not an IPv4 or IPv6 address") from None


def connections_output(trace: Trace, filters: Filters, fmt: str, limit: int) -> str:
    """The ``connections`` command's output for ``trace``."""
    from tcptrace_viz.analysis.connection_table import capture_connections
    from tcptrace_viz.analysis.triage import matching, summary_line
    from tcptrace_viz.render.connection_list import connection_list

    check_host(filters.host)
    table = capture_connections(trace)
    summary = summary_line(table, trace.meta.frames_total)
    kept = table[matching(table, filters)] if filters.active else table
    heading = (f"{len(kept):,} of them {filters.describe()}" if filters.active else "")
    return connection_list(kept, summary, fmt, limit, heading)


def pick_connection(trace: Trace, connection: int | None,
                    filters: Filters) -> tuple[int | None, str]:
    """The connection ``report`` draws and a sentence why: the one named, else the most
    telling one the filters keep (None: let the report choose among all).

    Raises:
        BadInputError: no such connection, or the filters keep none.
    """
    from tcptrace_viz.analysis.connection_table import capture_connections
    from tcptrace_viz.analysis.triage import capture_fin_resent, choose

    table = capture_connections(trace)
    numbers = set(table["conn"].tolist())
    if connection is not None:
        if connection not in numbers:
            raise BadInputError(f"there is no connection {connection} (connections: "
                                f"0 to {max(numbers, default=-1)})")
        return connection, ""
    check_host(filters.host)
    if not filters.active:
        return None, ""
    picked = choose(table, filters, resent=capture_fin_resent(trace))
    if picked is None:
        raise BadInputError(f"no connection matches the filters ({filters.describe()}); "
                            "`tcptrace-viz connections FILE` lists them")
    conn, why = picked
    return conn, why


def pick_connections(trace: Trace, named: tuple[int, ...], all_connections: bool,
                     filters: Filters) -> Drawing:
    """What ``report`` draws: the connections named (the first in full), or with
    ``all_connections`` every one the filters keep (the most telling first), else the most
    telling one.

    Raises:
        BadInputError: no such connection, or the filters keep none.
    """
    from tcptrace_viz.analysis.connection_table import capture_connections
    from tcptrace_viz.analysis.triage import (
        capture_fin_resent,
        matching,
        most_telling,
        telling_first,
    )

    named = tuple(dict.fromkeys(named))  # once each, in the order given
    if named and all_connections:
        raise BadInputError("--connection and --all-connections: give one or the other")
    if not all_connections:
        first, why = pick_connection(trace, named[0] if named else None, filters)
        for conn in named[1:]:
            pick_connection(trace, conn, filters)
        default = None
        table = capture_connections(trace)
        if first is None and len(table) > 1:
            default = most_telling(table, resent=capture_fin_resent(trace))  # as select()
            if default is not None and default[1] == "it is the first":
                default = None  # nothing telling to say: the report says it is the first
        return Drawing(first, why, tuple((conn, "") for conn in named[1:]), default=default)
    check_host(filters.host)
    table = capture_connections(trace)
    kept = table[matching(table, filters)] if filters.active else table
    picked = most_telling(kept, resent=capture_fin_resent(trace))
    if picked is None:
        raise BadInputError(f"no connection matches the filters ({filters.describe()}); "
                            "`tcptrace-viz connections FILE` lists them")
    first, why = picked
    chosen = telling_first(kept, ALL_CONNECTIONS_MAX, {first})
    rest = [int(c) for c in chosen["conn"] if int(c) != first]
    note = ""
    if len(kept) > ALL_CONNECTIONS_MAX:
        note = (f"--all-connections draws {ALL_CONNECTIONS_MAX} of the {len(kept):,} "
                f"connections{' kept' if filters.active else ''} (resets, refusals and the "
                "like before ordinary ones); the table lists them all, --connection N draws "
                "another")
    return Drawing(first, why, tuple((conn, "") for conn in rest), note)


def render_drawing(trace: Trace, drawing: Drawing, fmt: str, options: RenderOptions,
                   choices: tuple[str, bool, bool]) -> str | bytes:
    """The report of ``trace`` drawing ``drawing``'s connections; ``choices``: the ladders'
    style, time to scale, times from the capture's start.

    Raises:
        BadInputError: several connections in a format that draws one.
    """
    from tcptrace_viz.render import prepare, render

    style, proportional, absolute_time = choices
    if drawing.more and fmt not in SEVERAL_FORMATS:
        raise BadInputError(f"a {fmt} report draws one connection; several go into html, md "
                            "or txt (or give one --connection N for each file)")

    def prepared(conn: int | None) -> Any:
        return prepare(trace, conn, style=style, proportional=proportional,
                       absolute_time=absolute_time)

    more = tuple((prepared(conn), why) for conn, why in drawing.more)
    options = dataclasses.replace(options, why=drawing.why, more=more, more_note=drawing.note)
    return render(prepared(drawing.first), fmt, options)


def reading_note(trace: Trace) -> None:
    """On stderr: the file was damaged (partial), or read whole with frames left unused."""
    if trace.meta.partial:
        click.echo(f"tcptrace-viz: partial: {trace.meta.problem}", err=True)
    elif trace.meta.problem:
        click.echo(f"tcptrace-viz: note: {trace.meta.problem}", err=True)


def load_capture(path: Path, progress: Progress) -> Trace:
    """Read a capture folder or file, showing how far it has got on ``progress``."""
    from tcptrace_viz.store import read_capture

    return_big_blocks_when_freed()

    def reading(done: int, total: int) -> None:
        progress.reading(f"reading {path.name}", done, total)

    return read_capture(path, progress=reading, status=progress.phase)


def open_for_report(path: Path, progress: Progress) -> OpenCapture:
    """Open a capture folder or file for ``report`` or ``connections`` (close it after): a file
    too big to hold is read shard by shard (``big_capture``)."""
    from tcptrace_viz.big_capture import open_capture

    return_big_blocks_when_freed()

    def reading(done: int, total: int) -> None:
        progress.reading(f"reading {path.name}", done, total)

    return open_capture(path, reading, progress.phase)


def drawing_and_trace(capture: OpenCapture, named: tuple[int, ...], all_connections: bool,
                      filters: Filters, status: Callable[[str], None]) -> tuple[Drawing, Trace]:
    """What ``report`` draws of ``capture`` (:func:`pick_connections`) and the Trace holding
    the packets it needs (only the drawn connections' of a capture read shard by shard)."""
    drawing = pick_connections(capture.trace, named, all_connections, filters)
    return drawing, capture.with_packets_of(drawn_connections(capture.trace, drawing), status)


def drawn_connections(trace: Trace, drawing: Drawing) -> list[int]:
    """The connections ``drawing`` draws, the one the report will choose included."""
    from tcptrace_viz.analysis.connection_table import capture_connections
    from tcptrace_viz.analysis.triage import capture_fin_resent, most_telling

    first = drawing.first
    if first is None:
        picked = most_telling(capture_connections(trace), resent=capture_fin_resent(trace))
        first = picked[0] if picked is not None else None
    return [conn for conn in (first, *(conn for conn, _ in drawing.more)) if conn is not None]


def diff_output(a: Trace, b: Trace, names: tuple[str, str], fmt: str,
                choices: tuple[str, bool] = ("default", False),
                connections: tuple[int | None, int | None] = (None, None)) -> tuple[str, bool]:
    """``diff``'s output for ``a`` and ``b`` (each the connection ``connections`` names, else
    its most telling one: each name then says which was compared and why) and whether they
    differ; ``choices``: the ladders' style and time scale (HTML)."""
    from tcptrace_viz.analysis.compare import compare
    from tcptrace_viz.render import prepare
    from tcptrace_viz.render.diff_report import diff_report

    style, proportional = choices
    left = prepare(a, connections[0], style=style, proportional=proportional)
    right = prepare(b, connections[1], style=style, proportional=proportional)
    differences = compare(left.selection.trace, right.selection.trace)
    named = tuple(_compared(name, prepared.selection)
                  for name, prepared in zip(names, (left, right), strict=True))
    return diff_report(left, right, (named[0], named[1]), differences, fmt), bool(differences)


def _compared(name: str, selection: Selection) -> str:
    """``a.pcap, connection 3 of 12 (it was reset; choose with --connection N)``; the name
    alone for a trace of one connection."""
    if selection.connection is None or len(selection.connections) < 2:
        return name
    why = f"{selection.why}; " if selection.why else ""
    return (f"{name}, connection {selection.connection} of {len(selection.connections):,} "
            f"({why}choose with --connection N)")


_M_MMAP_THRESHOLD: Final = -3  # glibc's mallopt parameter (malloc.h)


def return_big_blocks_when_freed(threshold: int = 1 << 20) -> None:
    """Have glibc's malloc give every block of ``threshold`` bytes or more its own mapping.

    Analysing a million packets makes many short-lived arrays of a few MB.  By default glibc
    raises its mapping threshold after the first such block is freed, so later ones come from
    the heap and stay in the process once freed (about 30 MB of a million-packet report's
    peak).  Elsewhere than glibc this does nothing.
    """
    import ctypes

    try:
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the process's own C library
    except OSError:
        return
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, threshold)
