"""``reports/index.html`` kept up to date across runs, from what is on disk.

Each run that writes a scenario's report set rewrites the index in the same all-or-nothing step
(:func:`tcptrace_viz.outputs.commit_scenario`): the new row joins the rows kept in
``reports/index.json`` (one :class:`~tcptrace_viz.render.index.IndexRow` per report, thumbnail
included), so ``capture -s A`` and then ``capture -s B`` give an index of both.  A kept row whose
report is gone from the folder is dropped; a scenario's report that no row lists (an older
version's) gets a row read back from its files.  Runs sharing a reports folder take turns (an
``flock`` on the folder), so neither loses the other's row.  A scenario that crashed has a row
without a report (ERROR, and why), kept until the scenario is written again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tcptrace_viz.errors import BadInputError

if TYPE_CHECKING:
    from tcptrace_viz.render.index import IndexRow

INDEX_NAME: Final = "index.html"
STATE_NAME: Final = "index.json"
"""The rows of ``index.html``, kept for the next run."""
FORMAT_TAG: Final = "tcptrace-viz-index/1"


@contextlib.contextmanager
def locked(reports: Path) -> Iterator[None]:
    """Hold the reports folder's index lock (making the folder when it is missing, and
    removing it again should it still be empty after an error or an interrupt)."""
    made = not reports.is_dir()
    try:
        reports.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(reports, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise BadInputError(f"cannot write {reports / INDEX_NAME}: {exc.strerror}") from exc
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    except BaseException:
        if made:
            with contextlib.suppress(OSError):
                reports.rmdir()  # only when empty
        raise
    finally:
        os.close(descriptor)  # releases the lock


def kept_rows(reports: Path) -> list[IndexRow]:
    """The rows in ``reports/index.json`` whose report is still in ``reports`` (or that have
    none: a crash); none when the file is missing or unreadable (the next index then lists
    this run's reports only)."""
    from tcptrace_viz.render.index import IndexRow

    try:
        document = json.loads((reports / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    if not isinstance(document, dict) or document.get("format") != FORMAT_TAG:
        return []
    rows = document.get("rows")
    read = [IndexRow.from_json(row) for row in rows if isinstance(row, dict)] if isinstance(
        rows, list) else []
    return [row for row in read if row is not None and (
        (row.href == "#" and row.verdict == "ERROR") or _report_exists(reports, row.href))]


def _report_exists(reports: Path, href: str) -> bool:
    """``href`` names a file right in ``reports`` (no folder, no ``..``) that exists."""
    return bool(href) and "/" not in href and href not in (".", "..") and (
        reports / href).is_file()


def index_files(reports: Path, new: Iterable[IndexRow]) -> dict[Path, bytes]:
    """``index.json`` and ``index.html`` with the rows ``new`` in, replacing the kept rows of
    the same scenario and family.  Call it :func:`locked`, and write the result before the
    lock is released."""
    from tcptrace_viz.render import render_index

    rows = {_key(row): row for row in kept_rows(reports)}
    rows.update((_key(row), row) for row in new)
    rows.update((_key(row), row) for row in _unlisted_reports(reports, set(rows)))
    ordered = _ordered(rows.values())
    state = {"format": FORMAT_TAG, "rows": [row.to_json() for row in ordered]}
    return {reports / STATE_NAME: json.dumps(state, indent=1).encode("utf-8"),
            reports / INDEX_NAME: render_index(ordered).encode("utf-8")}


def _unlisted_reports(reports: Path, listed: set[tuple[str, str]]) -> list[IndexRow]:
    """Rows for the scenario reports in ``reports`` that no row lists (written by an older
    version, or ``index.json`` was lost): their name, title, link and thumbnail, read back
    from the files; what the run did is not recorded."""
    from tcptrace_viz.render.index import IndexRow
    from tcptrace_viz.render.thumbnail import thumbnail_uri
    from tcptrace_viz.scenarios import CATALOGUE, get
    from tcptrace_viz.store import report_name

    found = []
    for name in CATALOGUE:
        for ipv6 in (False, True):
            family = "ipv6" if ipv6 else "ipv4"
            stem = report_name(name, ipv6)
            if (name, family) in listed or not (reports / f"{stem}.html").is_file():
                continue
            try:
                thumbnail = thumbnail_uri((reports / f"{stem}.png").read_bytes())
            except OSError:
                thumbnail = ""
            found.append(IndexRow(name=name, title=get(name).title, first_write=("", "?"),
                                  later_write=("", "?"), closers="not recorded", states=[],
                                  verdict="", href=f"{stem}.html", family=family,
                                  thumbnail=thumbnail, scenario=name))
    return found


def _key(row: IndexRow) -> tuple[str, str]:
    return (row.scenario or row.name, row.family.lower())


def _ordered(rows: Iterable[IndexRow]) -> list[IndexRow]:
    """Catalogue order, IPv4 before IPv6; other names after, alphabetically."""
    from tcptrace_viz.scenarios import CATALOGUE

    place = {name: number for number, name in enumerate(CATALOGUE)}

    def order(row: IndexRow) -> tuple[int, str, bool]:
        name = row.scenario or row.name
        return (place.get(name, len(place)), name, row.family.lower() == "ipv6")

    return sorted(rows, key=order)


def error_row(name: str, why: str, ipv6: bool) -> IndexRow:
    """The index's row for a scenario that crashed in this run: its name, ERROR and why; no
    link."""
    from tcptrace_viz.meta import TraceMeta
    from tcptrace_viz.model import Trace
    from tcptrace_viz.render.index import index_row
    from tcptrace_viz.scenarios import get

    meta = TraceMeta(scenario=name, title=get(name).title, verdict="error", verdict_detail=why,
                     family="ipv6" if ipv6 else "ipv4")
    return index_row(Trace.build(meta=meta), "#")
