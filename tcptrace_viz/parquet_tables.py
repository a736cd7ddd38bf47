"""The Parquet tables ``export`` writes: their schemas, column meanings and row-group writing.

Each capture becomes one file per table under a hive-style partition folder
(``packets/capture=<name>/part-0.parquet``), so DuckDB, Spark or Trino read a folder of
thousands of captures as one table with a ``capture`` column.  A file is written under a hidden
temporary name and renamed once complete: a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pandas as pd

from tcptrace_viz.analysis.teardown_table import TEARDOWN_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

ROW_GROUP_ROWS: Final = 1 << 16
"""Rows per Parquet row group: a table is converted and written this many rows at a time."""
Frames = pd.DataFrame | Callable[[], Iterable[pd.DataFrame]]
"""A table to write: one frame, or a function giving its frames one after another."""
PART_NAME: Final = "part-0.parquet"

#: What each column of the ``packets`` table holds.
PACKET_COLUMNS: Final[dict[str, str]] = {
    "ts_ns": "when the segment was captured, nanoseconds since the Unix epoch",
    "frame": "the record's number in the file, from 1",
    "src": "source address", "sport": "source port", "dst": "destination address",
    "dport": "destination port", "flags": "TCP flags as letters (S, F, R, P, . for ACK)",
    "flag_bits": "TCP flags as bits", "seq": "sequence number (absolute)",
    "ack": "acknowledgment number (absolute)", "len": "payload bytes",
    "win": "advertised window (unscaled)", "options": "TCP options in words",
    "mss": "MSS option (-1: none)", "wscale": "window scale option (-1: none)",
    "sack_ok": "SACK permitted option", "tsval": "timestamp option value (-1: none)",
    "tsecr": "timestamp option echo (-1: none)", "payload": "the payload's first bytes, printable",
    "comment": "the packet's pcapng comment", "ip_version": "4 or 6",
    "conn": "connection number (as in the connections table), from 0",
    "dir": "c2s (client to server) or s2c", "rel_seq": "sequence number relative to the ISN",
    "rel_ack": "acknowledgment number relative to the peer's ISN",
    "tunnel": "VLAN ids / tunnel (name, outer addresses) it came through, or ''",
}

#: What each column of the ``connections`` table holds (the teardown of each connection).
CONNECTION_COLUMN_TEXT: Final[dict[str, str]] = {
    "conn": "connection number, from 0, in order of first packet",
    "client": "the side that sent the SYN (else the first packet's sender): address:port",
    "server": "the other side", "first_ts_ns": "first packet, ns since the epoch",
    "last_ts_ns": "last packet", "duration_s": "last minus first, seconds",
    "packets": "segments", "bytes_c2s": "payload bytes client to server (resent ones too)",
    "bytes_s2c": "payload bytes server to client", "handshake": "the SYN is in the capture",
    "closed_by": "who closed first (FIN or RST): client, server, both (crossed FINs) or ''",
    "close_kind": "FIN, RST, simultaneous or open (never closed)",
    "rst_from": "who sent any RST: client, server, both or ''",
    "refused": "the SYN was answered by RST", "unanswered": "a SYN and nothing back",
    "retransmissions": "segments resent with the same sequence number and length",
    "zero_window": "segments advertising a zero window",
    "summary": "one sentence about the connection",
    "tunnel": "VLAN ids / tunnel (name, outer addresses) of its first segment, or ''",
    **TEARDOWN_COLUMNS,
}

#: What each column of the ``captures`` table holds (one row per capture).
CAPTURE_COLUMNS: Final[dict[str, str]] = {
    "source": "the path the capture was read from", "file_format": "pcap or pcapng",
    "compression": "gzip, zstd, lz4 or '' (none)", "frames": "records read, TCP or not",
    "tcp_segments": "rows in packets", "connections": "rows in connections",
    "partial": "the file is damaged: the tables hold what came before the damage",
    "problem": "'' or one sentence about the damage",
}


def arrow_schema(frame: pd.DataFrame) -> pa.Schema:
    """The Parquet schema of ``frame``: text as strings, ``Int64`` as nullable int64."""
    import pyarrow as pa

    fields = []
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
            kind = pa.string()
        elif isinstance(dtype, pd.Int64Dtype):
            kind = pa.int64()
        else:
            kind = pa.from_numpy_dtype(dtype)
        fields.append(pa.field(str(name), kind))
    return pa.schema(fields)


def write_table(frames: Frames, path: Path, descriptions: Mapping[str, str]) -> None:
    """Write ``frames`` to ``path`` as Parquet, one row group of ``ROW_GROUP_ROWS`` at a time.

    ``frames`` is one DataFrame, or a function giving the table's frames one after another
    (all with the same columns and dtypes), so a table bigger than memory is written as it is
    made.  ``descriptions`` become the columns' field metadata (``description``), so the
    schema documents itself in any Parquet reader.  A failure removes the half-written file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    pieces = iter([frames]) if isinstance(frames, pd.DataFrame) else iter(frames())
    first = next(pieces)
    schema = pa.schema([field.with_metadata({"description": descriptions.get(field.name, "")})
                        for field in arrow_schema(first)])
    try:
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for frame in itertools.chain([first], pieces):
                for start in range(0, max(len(frame), 1), ROW_GROUP_ROWS):
                    piece = frame.iloc[start:start + ROW_GROUP_ROWS]
                    if len(piece) or not len(first):
                        writer.write_table(pa.Table.from_pandas(piece, schema=schema,
                                                                preserve_index=False))
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_partitions(out_dir: Path, capture: str,
                     tables: Mapping[str, tuple[Frames, Mapping[str, str]]]) -> None:
    """Write each of ``tables`` (name: frame and column meanings) to
    ``out_dir/<name>/capture=<capture>/part-0.parquet``, all or none.

    Every file is first written under a hidden temporary name beside its final place; the files
    are renamed only once all are complete, and removed if any fails.
    """
    moves: list[tuple[Path, Path]] = []
    made: list[Path] = []
    try:
        for name, (frame, descriptions) in tables.items():
            final = out_dir / name / f"capture={capture}" / PART_NAME
            if not final.parent.is_dir():
                made.append(final.parent)
                final.parent.mkdir(parents=True)
            _remove_stale(final.parent)
            temporary = final.with_name(f".{PART_NAME}.{os.getpid()}.tmp")
            moves.append((temporary, final))
            write_table(frame, temporary, descriptions)
    except BaseException:
        for temporary, _final in moves:
            temporary.unlink(missing_ok=True)
        for folder in made:  # the partition folders this call made, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    for temporary, final in moves:
        os.replace(temporary, final)


def _remove_stale(folder: Path) -> None:
    """Remove the temporary files an export killed outright (SIGKILL, power loss) left here:
    those whose process is gone."""
    for stale in folder.glob(f".{PART_NAME}.*.tmp"):
        pid = stale.name.split(".")[-2]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            stale.unlink(missing_ok=True)
