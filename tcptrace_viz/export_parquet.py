"""``export --parquet``: the packets and connections of many captures as partitioned Parquet.

The steps: find the captures the arguments name (a folder is walked for capture files and
capture folders), give each a safe and unique partition name, then read, analyse and write one
capture at a time.  A capture that cannot be read is one sentence on stderr and the others
still go; the caller exits non-zero at the end when any failed.

Memory: the reader streams each file's bytes (compressed ones too) in fixed windows, and the
Parquet files are written ``ROW_GROUP_ROWS`` rows at a time; what is held at once is one
capture's decoded packet table (about 600 bytes per TCP segment in pandas: 0.6 GB for a
million), because the connection table is computed over all of a capture's packets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Final

import pandas as pd

from tcptrace_viz.command_errors import user_errors
from tcptrace_viz.errors import BadInputError, ExitCode, TcptraceVizError
from tcptrace_viz.parquet_tables import (
    CAPTURE_COLUMNS,
    CONNECTION_COLUMN_TEXT,
    PACKET_COLUMNS,
    write_partitions,
)
from tcptrace_viz.progress import Progress

_CAPTURE_MAGICS: Final = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d",
                          b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a")
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


@dataclasses.dataclass
class ExportSummary:
    """What an export did."""

    exported: int = 0
    """Captures written."""
    failed: list[str] = dataclasses.field(default_factory=list)
    """One sentence per capture that could not be exported."""
    partial: int = 0
    """Captures written from a damaged file (what came before the damage)."""
    packets: int = 0
    """Rows written to the packets table."""
    connections: int = 0
    """Rows written to the connections table."""


@dataclasses.dataclass(frozen=True)
class _Tables:
    packets: pd.DataFrame
    connections: pd.DataFrame
    capture: pd.DataFrame


def _looks_like_a_capture(path: Path) -> bool:
    """The file starts as a pcap or pcapng file does, after decompression if it is compressed
    (a folder's ``.tsv.gz`` is not taken for a capture)."""
    from tcptrace_viz.pcap.compressed import STREAM_ERRORS, capture_stream

    try:
        with path.open("rb") as raw:
            return capture_stream(raw, str(path)).read(4).startswith(_CAPTURE_MAGICS)
    except (TcptraceVizError, *STREAM_ERRORS):
        return False


def _is_capture_folder(folder: Path) -> bool:
    from tcptrace_viz.store import JSON_NAME, PCAPNG_NAME

    return (folder / JSON_NAME).is_file() and (folder / PCAPNG_NAME).is_file()


def _walk(folder: Path) -> Iterable[Path]:
    """Capture folders and capture files under ``folder``, in name order; hidden ones skipped."""
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        if here != folder and _is_capture_folder(here):
            dirs[:] = []
            yield here
            continue
        for name in sorted(files):
            if not name.startswith(".") and _looks_like_a_capture(here / name):
                yield here / name


def find_captures(arguments: Sequence[Path]) -> tuple[list[tuple[Path, str]], list[str]]:
    """Each capture the arguments name, with its partition name (safe and unique), and a
    sentence for each argument that does not exist.

    A file is taken as given; a capture folder (``trace.json`` and ``trace.pcapng``) is one
    capture; any other folder is walked for capture files and capture folders.
    """
    found: list[tuple[Path, str]] = []
    missing = []
    for argument in arguments:
        if not argument.exists():
            missing.append(f"{argument} does not exist")
        elif argument.is_dir() and not _is_capture_folder(argument):
            base = argument.resolve()
            found += [(path, path.resolve().relative_to(base).as_posix())
                      for path in _walk(argument)]
        else:
            found.append((argument, argument.resolve().name))
    return _named(found), missing


def _named(found: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Partition names made of ``[A-Za-z0-9._-]`` (a folder separator becomes ``__``),
    never starting with a dot, with ``-2``, ``-3``... added to repeats."""
    taken: set[str] = set()
    named = []
    for path, text in found:
        safe = "__".join(_UNSAFE.sub("_", part) for part in text.split("/")).lstrip(".")
        safe = safe or "capture"
        name, count = safe, 1
        while name in taken:
            count += 1
            name = f"{safe}-{count}"
        taken.add(name)
        named.append((path, name))
    return named


def _read(path: Path, progress: Progress) -> _Tables:
    """The three tables of one capture."""
    from tcptrace_viz.analysis import annotate_packets
    from tcptrace_viz.analysis.teardown_table import teardown_table
    from tcptrace_viz.pcap import read_pcap
    from tcptrace_viz.pcap.compressed import compression_of
    from tcptrace_viz.store import PCAPNG_NAME, capture_folder_of

    def reading(done: int, total: int) -> None:
        progress.reading(f"reading {path.name}", done, total)

    # A capture folder's packets are those of its trace.pcapng (its states and system calls
    # have no table here).
    folder = capture_folder_of(path)
    source = folder / PCAPNG_NAME if folder is not None and _is_capture_folder(folder) else path
    if source.is_dir():
        raise BadInputError(f"{path} holds no capture files")
    result = read_pcap(source, progress=reading)
    file_format, frames = result.file_format, result.frames_total
    partial, problem = result.partial, result.problem
    packets = annotate_packets(result.packets)
    del result  # its packet table: one copy of the capture in memory at a time, not two
    if list(packets.columns) != list(PACKET_COLUMNS):
        packets = packets[list(PACKET_COLUMNS)]
    packets = packets.reset_index(drop=True)
    with source.open("rb") as stream:
        compression = compression_of(stream.read(4))
    connections = teardown_table(packets)
    capture = pd.DataFrame([{
        "source": str(path), "file_format": file_format, "compression": compression,
        "frames": int(frames or 0), "tcp_segments": len(packets),
        "connections": len(connections), "partial": bool(partial), "problem": problem or "",
    }]).astype({"frames": "int64", "tcp_segments": "int64", "connections": "int64",
                "partial": "bool"})
    return _Tables(packets, connections, capture)


def export_parquet(arguments: Sequence[Path], out_dir: Path, progress: Progress,
                   say: Callable[[str], None]) -> ExportSummary:
    """Export every capture the arguments name to ``out_dir``; ``say`` gets one line per
    capture (written, partial, or why it failed)."""
    captures, missing = find_captures(arguments)
    summary = ExportSummary(failed=missing)
    for sentence in missing:
        say(f"failed: {sentence}")
    if not captures:
        raise BadInputError("found no capture files in " + ", ".join(map(str, arguments)))
    for number, (path, name) in enumerate(captures, start=1):
        lead = f"[{number}/{len(captures)}] {path}"
        try:
            tables = _read(path, progress)
            write_partitions(out_dir, name, {
                "packets": (tables.packets, PACKET_COLUMNS),
                "connections": (tables.connections, CONNECTION_COLUMN_TEXT),
                "captures": (tables.capture, CAPTURE_COLUMNS),
            })
        except TcptraceVizError as error:
            progress.close()
            summary.failed.append(error.message)
            say(f"{lead}: failed: {error.message}")
            continue
        except OSError as error:
            progress.close()
            sentence = f"{path} cannot be exported: {error.strerror or error}"
            summary.failed.append(sentence)
            say(f"{lead}: failed: {sentence}")
            continue
        progress.close()
        summary.exported += 1
        summary.packets += len(tables.packets)
        summary.connections += len(tables.connections)
        problem = str(tables.capture["problem"].iloc[0])
        summary.partial += bool(tables.capture["partial"].iloc[0])
        say(f"{lead} -> capture={name}: {len(tables.packets):,} packets, "
            f"{len(tables.connections):,} connections" + (f" (partial: {problem})"
                                                          if problem else ""))
    return summary


def summary_text(summary: ExportSummary, out_dir: Path) -> str:
    """The closing line: what was written where, and how many failed."""
    text = (f"exported {summary.exported:,} captures ({summary.packets:,} packets, "
            f"{summary.connections:,} connections) to {out_dir}")
    if summary.partial:
        text += f"; {summary.partial:,} partial"
    if summary.failed:
        text += f"; {len(summary.failed):,} failed"
    return text


def run_export(arguments: Sequence[Path], out_dir: Path) -> ExitCode:
    """``tcptrace-viz export``: a line per capture on stderr, the summary on stdout; the exit
    code (``BAD_INPUT`` when any capture failed)."""
    import click

    progress = Progress.on_stderr()
    with user_errors(), contextlib.closing(progress):
        summary = export_parquet(arguments, out_dir, progress,
                                 lambda line: click.echo(f"tcptrace-viz: {line}", err=True))
    click.echo(summary_text(summary, out_dir))
    return ExitCode.BAD_INPUT if summary.failed else ExitCode.OK
