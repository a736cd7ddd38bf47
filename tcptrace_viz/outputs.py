"""Writing what a run produced: each file atomically, each scenario's files all or nothing.

A scenario's capture folder and its report set are rendered to bytes first (that is the slow,
interruptible part), then committed in one short step with SIGINT and SIGTERM held (see
:func:`tcptrace_viz.interrupts.deferred`): after Ctrl-C a scenario has either its new capture
folder and its whole new report set, or nothing new at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tcptrace_viz import interrupts
from tcptrace_viz.errors import BadInputError
from tcptrace_viz.event_text import size_text
from tcptrace_viz.render import RenderOptions

if TYPE_CHECKING:
    from tcptrace_viz.render import Prepared

REPORT_SET: Final = ("txt", "html", "svg", "png")
"""The formats ``capture`` writes for each scenario (suffixes from the renderer registry)."""
EMBED_LIMIT: Final = 20 << 20
"""Larger captures are not embedded in the HTML report (the report says so instead)."""


def as_bytes(content: str | bytes) -> bytes:
    """A renderer's result as the bytes of its file (text is UTF-8)."""
    return content if isinstance(content, bytes) else content.encode("utf-8")


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_file(path: Path, content: str | bytes) -> None:
    """Write atomically: a reader never sees half a file (BadInputError when it cannot)."""
    write_set({path: as_bytes(content)})


def write_set(files: Mapping[Path, bytes]) -> None:
    """Write every file or none: all temporaries first, then the renames, with signals held."""
    temporaries: dict[Path, Path] = {}
    current = Path()
    with interrupts.deferred():
        try:
            for current, data in files.items():
                temporaries[current] = _temporary(current)
                temporaries[current].write_bytes(data)
            for current, temporary in temporaries.items():
                temporary.replace(current)
        except OSError as exc:
            for temporary in temporaries.values():
                with contextlib.suppress(OSError):
                    temporary.unlink(missing_ok=True)
            raise BadInputError(f"cannot write {current}: {exc.strerror}") from exc


def default_report(path: Path, fmt: str, reports: Path = Path("reports")) -> Path:
    """Where ``report`` writes the ``fmt`` report of ``path`` when not told: ``reports/`` and
    the scenario's name for a capture folder or its files (``<scenario>-ipv6`` for an IPv6
    run's), else the file's."""
    from tcptrace_viz.render import format_info
    from tcptrace_viz.store import capture_folder_of, report_name_of

    folder = capture_folder_of(path)
    stem = path.stem if folder is None else report_name_of(folder)
    return reports / f"{stem}{format_info(fmt).suffix}"


def write_report(target: Path, content: str | bytes, *, make_folder: bool) -> None:
    """Write one report atomically; make its folder first when ``make_folder`` (the default
    ``reports/``), else refuse a folder that is missing (BadInputError either way)."""
    if make_folder:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"cannot write {target}: {target.parent} cannot be made "
                                f"a folder ({exc.strerror})") from exc
    elif not target.parent.is_dir():
        why = "is not a folder" if target.parent.exists() else "does not exist"
        raise BadInputError(f"cannot write {target}: {target.parent} {why}")
    write_file(target, content)


def embedding(data: bytes, source: Path, size: int | None = None,
              name: str = "") -> RenderOptions:
    """Options for an HTML report that embeds ``data`` (read from ``source``, ``size`` bytes
    on disk), or that says why it does not: too big, or not read at all (``data`` empty).
    ``name`` is the download's file name (empty: ``<scenario>.pcapng``)."""
    size = len(data) if size is None else size
    if data and size <= EMBED_LIMIT:
        return RenderOptions(capture=data, capture_name=name)
    return RenderOptions(capture_skipped=(
        f"{source} ({size_text(size)}) is not embedded in this report, which embeds captures "
        f"up to {size_text(EMBED_LIMIT)}; share that file itself"))


def attached_capture(path: Path) -> RenderOptions:
    """Options embedding the capture file behind ``path`` (a capture folder, one of its files,
    or a user's pcap) in an HTML report, if it is not too big to read."""
    from tcptrace_viz.store import PCAPNG_NAME, capture_folder_of

    folder = capture_folder_of(path)
    source = path if folder is None else folder / PCAPNG_NAME
    if not source.is_file():
        return RenderOptions()
    size = source.stat().st_size
    name = source.name if folder is None else ""  # a user's file keeps its name (and format)
    return embedding(source.read_bytes() if size <= EMBED_LIMIT else b"", source, size, name)


def render_report_set(prepared: Prepared, reports: Path, name: str,
                      options: RenderOptions | None = None) -> dict[Path, bytes]:
    """``reports/<name>.txt``, ``.html``, ``.svg`` and ``.png``, rendered (nothing written)."""
    from tcptrace_viz.render import format_info, render

    return {reports / f"{name}{format_info(fmt).suffix}": as_bytes(render(prepared, fmt, options))
            for fmt in REPORT_SET}


def commit_scenario(folder: Path, pcapng: bytes, document: str,
                    report_files: Mapping[Path, bytes],
                    done: Callable[[], None] = lambda: None,
                    index_files: Mapping[Path, bytes] | None = None) -> list[Path]:
    """Write a scenario's capture folder and report set, all or nothing; return what was written
    (the capture folder, then the report files).

    ``folder`` is the capture folder's name from :func:`tcptrace_viz.store.new_capture_folder`
    (another run may take it first: the folder written is the one listed);
    ``index_files`` (the updated index and its state) are written with the report set;
    ``done`` runs once everything is written, before a held signal takes effect.
    """
    from tcptrace_viz.store import write_capture_folder

    with interrupts.deferred():
        reports = {path.parent for path in report_files}
        made = [parent for parent in reports if not parent.exists()]
        try:
            for parent in reports:
                parent.mkdir(parents=True, exist_ok=True)
            folder = write_capture_folder(folder, pcapng, document)
        except OSError as exc:
            _remove_folders(made)
            raise BadInputError(f"cannot write {exc.filename or folder}: {exc.strerror}") from exc
        try:
            write_set({**report_files, **(index_files or {})})
        except BadInputError:
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):
                folder.parent.rmdir()  # only if this run made it and it is empty
            _remove_folders(made)
            raise
        done()
    return [folder, *report_files]


def _remove_folders(folders: Sequence[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def report_format(fmt: str | None, output: Path | None) -> str:
    """The format ``report`` writes: ``fmt``, else the one ``output``'s suffix names, else
    html (txt to stdout).

    Raises:
        BadInputError: the suffix names no format.
    """
    from tcptrace_viz.render import FORMATS, format_of_suffix

    if fmt is not None:
        return fmt
    if output is not None and str(output) != "-":
        guessed = format_of_suffix(output.suffix)
        if guessed is None:
            raise BadInputError(f"cannot tell the format from {output.name!r}; add --format "
                                f"({', '.join(FORMATS)})")
        return guessed
    return "html" if output is None else "txt"
