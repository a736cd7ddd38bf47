"""``export --parquet``: the packets and connections of many captures as partitioned Parquet.

The steps: find the captures the arguments name (a folder is walked for capture files and
capture folders), give each a safe and unique partition name, then read, analyse and write one
capture at a time.  A capture that cannot be read is one sentence on stderr and the others
still go; the caller exits non-zero at the end when any failed.

Memory: the reader streams each file's bytes (compressed ones too) in fixed windows, and the
Parquet files are written ``ROW_GROUP_ROWS`` rows at a time.  A capture of up to
``big_capture.HOLD_ROWS`` TCP segments is held whole (about 600 bytes per segment in pandas:
0.6 GB for a million); a bigger one is spread by 4-tuple over shard files as it is read and
its packets and connections are made and written a shard at a time, so memory stays bounded
by the shard size and the number of connections, whatever the file size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pandas as pd

from tcptrace_viz.command_errors import user_errors
from tcptrace_viz.errors import BadInputError, ExitCode, TcptraceVizError
from tcptrace_viz.parquet_tables import (
    CAPTURE_COLUMNS,
    CONNECTION_COLUMN_TEXT,
    PACKET_COLUMNS,
    Frames,
    write_partitions,
)
from tcptrace_viz.progress import Progress
from tcptrace_viz.vocabulary import counted

if TYPE_CHECKING:
    from tcptrace_viz.pcap.reader import PcapReadResult

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
    packets: Frames
    connections: Frames
    capture: pd.DataFrame
    packet_rows: int
    connection_rows: int


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
    sentence for each argument that does not exist or names a capture already found.

    A file is taken as given; a capture folder (``trace.json`` and ``trace.pcapng``) is one
    capture; any other folder is walked for capture files and capture folders.  A partition
    is named after the path as given (a symbolic link by its own name, not its target's),
    and a file reached twice (a link beside its target, a folder named twice) is exported
    once.
    """
    found: list[tuple[Path, str]] = []
    notes = []
    seen: dict[Path, Path] = {}
    for argument in arguments:
        if not argument.exists():
            notes.append(f"{argument} does not exist")
            continue
        if argument.is_dir() and not _is_capture_folder(argument):
            named = [(path, path.relative_to(argument).as_posix()) for path in _walk(argument)]
        else:
            named = [(argument, argument.name or argument.resolve().name)]
        for path, name in named:
            real = path.resolve()
            if real in seen:
                notes.append(f"{path} is {seen[real]} again: exported once")
                continue
            seen[real] = path
            found.append((path, name))
    return _named(found), notes


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


def _read(path: Path, progress: Progress, folder: Path) -> _Tables:
    """The three tables of one capture; a capture too big to hold is spread over shard files
    in ``folder`` and its tables are made (and written) a shard at a time."""
    from tcptrace_viz.big_capture import HOLD_ROWS, ROWS_PER_SHARD
    from tcptrace_viz.pcap import read_pcap
    from tcptrace_viz.pcap.compressed import compression_of
    from tcptrace_viz.pcap.shards import Spread
    from tcptrace_viz.store import PCAPNG_NAME, capture_folder_of

    def reading(done: int, total: int) -> None:
        progress.reading(f"reading {path.name}", done, total)

    # A capture folder's packets are those of its trace.pcapng (its states and system calls
    # have no table here).
    capture_folder = capture_folder_of(path)
    source = (capture_folder / PCAPNG_NAME
              if capture_folder is not None and _is_capture_folder(capture_folder) else path)
    if source.is_dir():
        raise BadInputError(f"{path} holds no capture files")
    result = read_pcap(source, progress=reading,
                       spread=Spread(folder, HOLD_ROWS, ROWS_PER_SHARD))
    with source.open("rb") as stream:
        compression = compression_of(stream.read(4))
    packets, connections, count = _packets_and_connections(result, progress)
    capture = pd.DataFrame([{
        "source": str(path), "file_format": result.file_format, "compression": compression,
        "frames": int(result.frames_total or 0), "tcp_segments": result.rows,
        "connections": count, "partial": bool(result.partial),
        "problem": result.problem or "",
    }]).astype({"frames": "int64", "tcp_segments": "int64", "connections": "int64",
                "partial": "bool"})
    return _Tables(packets, connections, capture, result.rows, count)


def _packets_and_connections(result: PcapReadResult,
                             progress: Progress) -> tuple[Frames, Frames, int]:
    """The packets and connections tables (or, for a capture spread over shards, the frames
    that make them, computed as they are written), and the number of connections."""
    from tcptrace_viz.analysis import annotate_packets
    from tcptrace_viz.analysis.teardown_table import teardown_table
    from tcptrace_viz.big_capture import spread_packets

    if not result.shards:
        packets = annotate_packets(result.packets)
        result.packets = packets.iloc[:0]  # one copy of the capture in memory at a time
        packets = packets[list(PACKET_COLUMNS)].reset_index(drop=True)
        connections = teardown_table(packets)
        return packets, connections, len(connections)
    spread = spread_packets(result, progress.phase)
    endings: list[pd.DataFrame] = []

    def packet_frames() -> Iterator[pd.DataFrame]:
        for number, frame in enumerate(spread.frames(), start=1):
            progress.phase(f"writing the packets of shard {number} of {len(result.shards)}")
            endings.append(teardown_table(frame))
            yield frame[list(PACKET_COLUMNS)].reset_index(drop=True)

    def connection_frames() -> Iterator[pd.DataFrame]:  # once every shard has gone by
        yield pd.concat(endings).sort_values("conn").reset_index(drop=True)

    return packet_frames, connection_frames, spread.connections


def export_parquet(arguments: Sequence[Path], out_dir: Path, progress: Progress,
                   say: Callable[[str], None]) -> ExportSummary:
    """Export every capture the arguments name to ``out_dir``; ``say`` gets one line per
    capture (written, partial, or why it failed)."""
    captures, notes = find_captures(arguments)
    summary = ExportSummary(failed=[note for note in notes if note.endswith("does not exist")])
    for sentence in notes:
        say(f"failed: {sentence}" if sentence in summary.failed else f"skipped: {sentence}")
    if not captures:
        raise BadInputError("found no capture files in " + ", ".join(map(str, arguments)))
    for number, (path, name) in enumerate(captures, start=1):
        lead = f"[{number}/{len(captures)}] {path}"
        try:
            with _shard_folder() as folder:
                tables = _read(path, progress, folder)
                write_partitions(out_dir, name, {
                    "packets": (tables.packets, PACKET_COLUMNS),
                    "connections": (tables.connections, CONNECTION_COLUMN_TEXT),
                    "captures": (tables.capture, CAPTURE_COLUMNS),
                })
        except (TcptraceVizError, OSError) as error:
            progress.close()
            sentence = error.message if isinstance(error, TcptraceVizError) else \
                f"{path} cannot be exported: {error.strerror or error}"
            summary.failed.append(sentence)
            say(f"{lead}: failed: {sentence}")
            _record_failure(out_dir, name, path, sentence)
            continue
        progress.close()
        summary.exported += 1
        summary.packets += tables.packet_rows
        summary.connections += tables.connection_rows
        problem = str(tables.capture["problem"].iloc[0])
        summary.partial += bool(tables.capture["partial"].iloc[0])
        say(f"{lead} -> capture={name}: {counted(tables.packet_rows, 'packet')}, "
            f"{counted(tables.connection_rows, 'connection')}"
            + (f" (partial: {problem})" if problem else ""))
    return summary


def _record_failure(out_dir: Path, name: str, path: Path, sentence: str) -> None:
    """A capture that could not be exported still has its ``captures`` row (no frames, partial,
    the reason as its problem), and no packets or connections left from an earlier export."""
    for table in ("packets", "connections"):
        shutil.rmtree(out_dir / table / f"capture={name}", ignore_errors=True)
    row = pd.DataFrame([{"source": str(path), "file_format": "", "compression": "",
                         "frames": 0, "tcp_segments": 0, "connections": 0, "partial": True,
                         "problem": f"not exported: {sentence}"}])
    with contextlib.suppress(OSError):  # the folder itself may be what failed
        write_partitions(out_dir, name, {"captures": (row, CAPTURE_COLUMNS)})


@contextlib.contextmanager
def _shard_folder() -> Iterator[Path]:
    """A private folder for one capture's shards, removed afterwards (Ctrl-C included)."""
    from tcptrace_viz.big_capture import private_folder, remove_folder

    folder = private_folder()
    try:
        yield folder
    finally:
        remove_folder(folder)


def summary_text(summary: ExportSummary, out_dir: Path) -> str:
    """The closing line: what was written where, and how many failed."""
    text = (f"exported {counted(summary.exported, 'capture')} "
            f"({counted(summary.packets, 'packet')}, "
            f"{counted(summary.connections, 'connection')}) to {out_dir}")
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
