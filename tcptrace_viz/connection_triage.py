"""What ``connections`` and ``report`` do with a capture of many connections: list, filter, pick.

``connections FILE`` prints the summary line and the table (text, CSV, JSON, Markdown) of the
connections the filters keep; ``report FILE`` with the same filters draws the most telling of
them (:func:`tcptrace_viz.analysis.triage.choose`) and says which and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tcptrace_viz.errors import BadInputError

if TYPE_CHECKING:
    from pathlib import Path

    from tcptrace_viz.analysis.triage import Filters
    from tcptrace_viz.model import Trace
    from tcptrace_viz.progress import Progress


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
    from tcptrace_viz.analysis.connection_table import connections
    from tcptrace_viz.analysis.triage import matching, summary_line
    from tcptrace_viz.render.connection_list import connection_list

    check_host(filters.host)
    table = connections(trace.packets)
    summary = summary_line(table)
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
    from tcptrace_viz.analysis.connection_table import connections
    from tcptrace_viz.analysis.triage import choose

    numbers = set(trace.packets["conn"].tolist())
    if connection is not None:
        if connection not in numbers:
            raise BadInputError(f"there is no connection {connection} (connections: "
                                f"0 to {max(numbers, default=-1)})")
        return connection, ""
    check_host(filters.host)
    if not filters.active:
        return None, ""
    picked = choose(connections(trace.packets), filters)
    if picked is None:
        raise BadInputError(f"no connection matches the filters ({filters.describe()}); "
                            "`tcptrace-viz connections FILE` lists them")
    conn, why = picked
    return conn, f"drawing connection {conn}: {why}"


def load_capture(path: Path, progress: Progress) -> Trace:
    """Read a capture folder or file, showing how far it has got on ``progress``."""
    from tcptrace_viz.store import read_capture

    def reading(done: int, total: int) -> None:
        progress.reading(f"reading {path.name}", done, total)

    return read_capture(path, progress=reading, status=progress.phase)


def diff_output(a: Trace, b: Trace, names: tuple[str, str], fmt: str,
                choices: tuple[str, bool] = ("default", False)) -> tuple[str, bool]:
    """``diff``'s output for ``a`` and ``b`` (each its most telling connection) and whether
    they differ; ``choices``: the ladders' style and time scale (HTML)."""
    from tcptrace_viz.analysis.compare import compare
    from tcptrace_viz.render import prepare
    from tcptrace_viz.render.diff_report import diff_report

    style, proportional = choices
    left = prepare(a, style=style, proportional=proportional)
    right = prepare(b, style=style, proportional=proportional)
    differences = compare(left.selection.trace, right.selection.trace)
    return diff_report(left, right, names, differences, fmt), bool(differences)
