"""read_pcap: stream a pcap or pcapng file through the record walkers and the decoder.

The file is read in windows of ``CHUNK`` bytes into one reusable buffer; each window's complete
records are decoded at once and the incomplete tail is moved to the front for the next read.
Memory therefore grows with the decoded table, not with the file, whatever a length field in
the (untrusted) file claims: every length is checked against a fixed ceiling before it is used.
A gzip, zstd or lz4 file is decompressed into the same windows as it is read (``compressed``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

import numpy as np
import pandas as pd

from tcptrace_viz.arrays import U8
from tcptrace_viz.errors import BadInputError
from tcptrace_viz.pcap.column_arrays import ColumnSink
from tcptrace_viz.pcap.compressed import (
    STREAM_ERRORS,
    CaptureStream,
    DecompressionBombError,
    capture_stream,
)
from tcptrace_viz.pcap.decode import decode, to_dataframe
from tcptrace_viz.pcap.formats import PCAP_HEADER_LEN, detect_format, parse_pcap_header
from tcptrace_viz.pcap.frames import ParseStep
from tcptrace_viz.pcap.gather import PAD
from tcptrace_viz.pcap.linktypes import SUPPORTED_LINKTYPES, linktype_name
from tcptrace_viz.pcap.pcapfile import PcapParser
from tcptrace_viz.pcap.pcapng import PcapngParser
from tcptrace_viz.pcap.shards import ShardSink, Spread

CHUNK: Final = 4 << 20  # bytes read per window (more: faster, but more memory)
_SUPPORTED_TEXT: Final = ("Ethernet, Linux cooked v1/v2, raw IP, BSD/OpenBSD loopback, PPP, "
                          "FDDI, Cisco HDLC, NFLOG, IP over InfiniBand and Linux ARCNET")



@dataclasses.dataclass
class PcapReadResult:
    """What ``read_pcap`` found in a file."""

    packets: pd.DataFrame
    """One row per TCP segment (columns: ``decode.DECODED_COLUMNS``)."""
    partial: bool
    """True when the file is damaged after a good start: ``packets`` holds what came before."""
    problem: str
    """"" or one sentence naming the file, the problem and where (record or byte offset)."""
    frames_total: int
    """Records read, TCP or not."""
    linktypes: list[int]
    """Link types of the file's interfaces."""
    file_format: str
    """"pcap" or "pcapng"."""
    comments: list[str]
    """Section header (file) comments."""
    interfaces: list[str] = dataclasses.field(default_factory=list)
    """Each interface's name, description and comments, one line each (pcapng only)."""
    skipped: int = 0
    """Frames skipped as malformed (runts, header lengths outside the frame) or of an
    unsupported link type; ``problem`` says which when there was no damage."""
    shards: list[Path] = dataclasses.field(default_factory=list)
    """With ``spread``: the shard files holding every row (``packets`` is then empty), or none
    when the rows fitted in memory (all in ``packets``)."""
    rows: int = 0
    """TCP segments read (``len(packets)`` unless spread over ``shards``)."""


class _Parser(Protocol):
    def parse(self, buf: U8, pos: int, end: int, base: int, eof: bool) -> ParseStep: ...


@dataclasses.dataclass
class _Totals:
    frames: int = 0
    malformed: int = 0
    first_malformed: int = 0
    unsupported: int = 0
    opaque_gre: int = 0
    first_opaque_gre: int = 0
    oversized: int = 0
    first_oversized: tuple[int, int, int] = (0, 0, 0)  # frame, captured length, original length
    sink: ColumnSink | ShardSink = dataclasses.field(default_factory=ColumnSink)

    def add(self, buf: U8, step: ParseStep, expected_rows: int) -> None:
        self.frames += len(step.frame)
        if not len(step.frame):
            return
        # A record cannot hold more than the packet had: such a header is damaged.  Its bytes
        # are still read (the captured length is what says where the next record starts).
        oversized = np.flatnonzero(step.caplen > step.wirelen)
        if len(oversized):
            if not self.oversized:
                first = int(oversized[0])
                self.first_oversized = (int(step.frame[first]), int(step.caplen[first]),
                                        int(step.wirelen[first]))
            self.oversized += len(oversized)
        decoded = decode(buf, step, self.sink, expected_rows)
        if decoded.malformed and not self.malformed:
            self.first_malformed = decoded.first_malformed
        self.malformed += decoded.malformed
        self.unsupported += decoded.unsupported
        if decoded.opaque_gre and not self.opaque_gre:
            self.first_opaque_gre = decoded.first_opaque_gre
        self.opaque_gre += decoded.opaque_gre


def read_pcap(path: str | os.PathLike[str],
              progress: Callable[[int, int], None] | None = None,
              spread: Spread | None = None) -> PcapReadResult:
    """Read every TCP segment of a pcap or pcapng file.

    ``progress(bytes_done, bytes_total)`` is called after each window of the file.  With
    ``spread``, a capture of more than ``spread.hold`` segments is written to shard files
    (``result.shards``) instead of held in ``result.packets``.  Raises
    ``BadInputError`` (one sentence) when nothing usable can be read; damage after a good start
    gives ``partial=True`` with the packets before it.
    """
    name = os.fspath(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 (closed with the stream below)
    except OSError as error:
        raise BadInputError(f"{name} cannot be opened: {error.strerror or error}.") from None
    with raw, contextlib.closing(capture_stream(raw, name)) as stream:
        try:
            head = stream.read(PCAP_HEADER_LEN)
        except DecompressionBombError as error:
            raise BadInputError(f"{name}: {error}.") from None
        except STREAM_ERRORS as error:
            what = (f"is compressed with {stream.compression} but cannot be decompressed"
                    if stream.compression else "cannot be read")
            raise BadInputError(f"{name} {what}: {_reason(error)}.") from None
        file_format = detect_format(head, name)
        parser: PcapParser | PcapngParser
        if file_format == "pcap":
            header = parse_pcap_header(head, name)
            if header.linktype not in SUPPORTED_LINKTYPES:
                raise BadInputError(
                    f"{name} holds frames of {linktype_name(header.linktype)}, which "
                    f"tcptrace-viz cannot decode (it reads {_SUPPORTED_TEXT}).")
            parser = PcapParser(header)
            totals, problem = _stream(stream, parser, head, pos=PCAP_HEADER_LEN,
                                     progress=progress, sink=_sink(spread))
            linktypes, comments = [header.linktype], []
        else:
            parser = PcapngParser()
            totals, problem = _stream(stream, parser, head, pos=0, progress=progress,
                                     sink=_sink(spread))
            linktypes, comments = parser.linktypes(), parser.comments
    result = _result(name, file_format, totals, problem, linktypes=linktypes, comments=comments)
    if isinstance(parser, PcapngParser):
        result.interfaces = parser.interface_texts()
    return result


def _sink(spread: Spread | None) -> ColumnSink | ShardSink:
    return ColumnSink() if spread is None else ShardSink(spread)


def _reason(error: BaseException) -> str:
    """A stream error in words, without its class name."""
    text = str(error.strerror if isinstance(error, OSError) and error.strerror else error)
    return text.rstrip(".") or type(error).__name__


def _stream(stream: CaptureStream, parser: _Parser, head: bytes, *, pos: int,
            progress: Callable[[int, int], None] | None,
            sink: ColumnSink | ShardSink) -> tuple[_Totals, str]:
    """Feed the file window by window to ``parser``; return the totals and any damage."""
    size = stream.size
    buf = np.empty(CHUNK + PAD, dtype=np.uint8)
    buf[:len(head)] = np.frombuffer(head, dtype=np.uint8)
    filled, base, need, eof = len(head), 0, 0, False
    totals, failure = _Totals(sink=sink), ""
    while True:
        target = pos + max(CHUNK, need)
        if target + PAD > len(buf):
            grown = np.empty(target + PAD, dtype=np.uint8)
            grown[:filled] = buf[:filled]
            buf = grown
        filled, eof, failure = _fill(stream, buf, filled, target, base, eof)
        buf[filled:filled + PAD] = 0
        step = parser.parse(buf, pos, filled, base, eof)
        # The whole file's TCP rows, extrapolated from those so far and this window's frames
        # (2% to spare): right from the first window, so memory is sized (or the rows spread
        # over shards) once.
        done = stream.consumed() if stream.compression else base + step.stop
        rows = totals.sink.size + len(step.frame)
        expected = max(rows, rows * size // done * 51 // 50) if done else rows
        totals.add(buf, step, expected)
        if progress is not None:
            progress(stream.consumed() if stream.compression else base + step.stop, size)
        if failure or step.problem:  # the records before a reading failure are kept
            return totals, failure or step.problem
        if eof and step.stop >= filled:
            return totals, ""
        if step.stop == pos and step.need <= filled - pos:  # a parser that cannot progress
            return totals, f"the data at byte offset {base + pos} cannot be parsed"
        remaining = filled - step.stop
        buf[:remaining] = buf[step.stop:filled]
        base, filled, pos, need = base + step.stop, remaining, 0, step.need


def _fill(stream: CaptureStream, buf: U8, filled: int, target: int, base: int,
          eof: bool) -> tuple[int, bool, str]:
    """Read into ``buf[filled:target]``; return the new fill, whether the data ended, and why
    reading stopped early ("" when it did not)."""
    while not eof and filled < target:
        try:
            got = stream.readinto(buf.data[filled:target])
        except DecompressionBombError as error:
            return filled, True, str(error)
        except STREAM_ERRORS as error:  # EIO on a failing disk, a cut compressed stream
            where = "decompressed byte offset" if stream.compression else "byte offset"
            return filled, True, f"reading failed at {where} {base + filled} ({_reason(error)})"
        eof = not got
        filled += got or 0
    return filled, eof, ""


def _result(name: str, file_format: str, totals: _Totals, problem: str, *,
            linktypes: list[int], comments: list[str]) -> PcapReadResult:
    if problem and not totals.frames:
        raise BadInputError(f"{name}: {problem}.")
    if totals.frames and totals.unsupported == totals.frames:
        kinds = ", ".join(linktype_name(kind) for kind in linktypes
                          if kind not in SUPPORTED_LINKTYPES)
        raise BadInputError(f"{name} holds only frames of {kinds}, which tcptrace-viz cannot "
                            f"decode (it reads {_SUPPORTED_TEXT}).")
    sentence = f"{name}: {problem}." if problem else ""
    if not sentence and totals.malformed:
        sentence = (f"{name}: {totals.malformed} of {totals.frames} frames were skipped because "
                    "they are too short for their headers or a header length points outside "
                    f"the frame (the first is frame {totals.first_malformed}).")
    elif not sentence and totals.unsupported:
        sentence = (f"{name}: {totals.unsupported} of {totals.frames} frames were skipped "
                    f"because their interface's link type is not supported (it reads "
                    f"{_SUPPORTED_TEXT}).")
    if totals.opaque_gre:
        opaque = (f"{totals.opaque_gre} of {totals.frames} frames are GRE carrying something "
                  "tcptrace-viz does not decode (such as 802.11 in Aruba GRE or WCCP), so any "
                  f"TCP inside them is not shown (the first is frame {totals.first_opaque_gre}).")
        sentence = f"{sentence} {opaque}" if sentence else f"{name}: {opaque}"
    if totals.oversized:
        frame, caplen, wirelen = totals.first_oversized
        damaged = (f"{totals.oversized} of {totals.frames} records are damaged: they claim "
                   "more captured bytes than the packet had (the first is frame "
                   f"{frame}: captured length {caplen}, original length {wirelen}).")
        sentence = f"{sentence} {damaged}" if sentence else f"{name}: {damaged}"
    rows = totals.sink.size
    shards = totals.sink.files if isinstance(totals.sink, ShardSink) else []
    return PcapReadResult(
        packets=to_dataframe(totals.sink.finish()), partial=bool(problem or totals.oversized),
        problem=sentence, frames_total=totals.frames, linktypes=linktypes,
        file_format=file_format, comments=list(comments),
        skipped=totals.malformed + totals.unsupported, shards=shards, rows=rows)
