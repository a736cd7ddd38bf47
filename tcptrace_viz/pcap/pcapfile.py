"""Classic pcap: walk the 16-byte record headers of one buffer window.

Finding where each record starts is inherently sequential (each header says how far the next
one is), so it is the one per-record Python loop of the reader, kept to a bare minimum: one
``unpack_from`` and two comparisons per record.  Everything else is gathered with numpy.
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

from tcptrace_viz.pcap.formats import MAX_CAPLEN, PCAP_RECORD_HEADER_LEN, PcapHeader
from tcptrace_viz.pcap.gather import gather
from tcptrace_viz.pcap.step import ParseStep

U8 = npt.NDArray[np.uint8]


class PcapParser:
    """Turns buffer windows of a classic pcap file into ``ParseStep``s, in file order."""

    def __init__(self, header: PcapHeader) -> None:
        self.header = header
        self.records = 0
        """Records consumed so far."""
        self._order = "<" if header.little_endian else ">"
        self._caplen_at = struct.Struct(self._order + "I").unpack_from

    def parse(self, buf: U8, pos: int, end: int, base: int, eof: bool) -> ParseStep:
        """Consume the complete records in ``buf[pos:end]`` (``base``: file offset of buf[0])."""
        offsets, stop, bad_caplen = self._walk(buf, pos, end)
        starts = np.array(offsets, dtype=np.int64)
        fields = gather(buf, starts, PCAP_RECORD_HEADER_LEN).view(self._order + "u4")
        fields = fields.astype(np.int64)
        too_long = fields[:, 2] > self.header.caplen_limit
        if too_long.any():
            first_bad = int(np.argmax(too_long))
            stop, bad_caplen = offsets[first_bad], int(fields[first_bad, 2])
            starts, fields = starts[:first_bad], fields[:first_bad]
        count = len(starts)
        scale = 1 if self.header.nanoseconds else 1000
        first = self.records + 1
        self.records += count
        step = ParseStep(
            start=starts + PCAP_RECORD_HEADER_LEN, caplen=fields[:, 2], wirelen=fields[:, 3],
            linktype=np.full(count, self.header.linktype, dtype=np.int64),
            ts_ns=fields[:, 0] * 1_000_000_000 + fields[:, 1] * scale,
            frame=np.arange(first, first + count, dtype=np.int64), comment=None, stop=stop)
        record, where = self.records + 1, base + stop
        if bad_caplen >= 0:
            limit = self.header.caplen_limit
            what = (f"the file's snapshot length of {limit}" if limit < MAX_CAPLEN
                    else f"the {MAX_CAPLEN}-byte maximum")
            step.problem = (f"record {record} at byte offset {where} claims a captured length "
                            f"of {bad_caplen} bytes, more than {what}")
        elif stop < end or (eof and stop != end):
            have = end - stop
            if have >= PCAP_RECORD_HEADER_LEN:
                step.need = PCAP_RECORD_HEADER_LEN + self._caplen_at(buf.data, stop + 8)[0]
            else:
                step.need = PCAP_RECORD_HEADER_LEN
            if eof:
                step.problem = (f"the file ends inside record {record} at byte offset {where} "
                                f"({have} of its {step.need} bytes are present)")
        return step

    def _walk(self, buf: U8, pos: int, end: int) -> tuple[list[int], int, int]:
        """Record offsets; where the walk stopped; an absurd captured length found there (or -1).

        The loop reads each header's captured length and nothing else: the buffer's zero
        padding makes the read safe near ``end``, and a too-large length either runs past
        ``end`` (checked here, once) or is caught by the vectorised check afterwards.
        """
        caplen_at = self._caplen_at
        raw = buf.data
        offsets: list[int] = []
        append = offsets.append
        while True:
            after = pos + PCAP_RECORD_HEADER_LEN + caplen_at(raw, pos + 8)[0]
            if after > end:
                break
            append(pos)
            pos = after
        if end - pos >= PCAP_RECORD_HEADER_LEN:
            caplen = caplen_at(raw, pos + 8)[0]
            if caplen > self.header.caplen_limit:
                return offsets, pos, caplen
        return offsets, pos, -1
