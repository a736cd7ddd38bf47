"""Classic pcap: walk the 16-byte record headers of one buffer window.

Finding where each record starts is sequential (``walk.py``, compiled when possible); every
field is then gathered with numpy, and captured lengths are checked all at once.
"""

from __future__ import annotations

import struct

import numpy as np

from tcptrace_viz.arrays import U8
from tcptrace_viz.pcap.formats import MAX_CAPLEN, PCAP_RECORD_HEADER_LEN, PcapHeader
from tcptrace_viz.pcap.frames import ParseStep
from tcptrace_viz.pcap.gather import gather
from tcptrace_viz.pcap.walk import pcap_record_offsets


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
        starts, stop = pcap_record_offsets(buf, pos, end, not self.header.little_endian)
        # The walk stopped at a record running past ``end``: absurd length, or just cut off?
        bad_caplen = -1
        if end - stop >= PCAP_RECORD_HEADER_LEN:
            caplen = self._caplen_at(buf.data, stop + 8)[0]
            if caplen > self.header.caplen_limit:
                bad_caplen = caplen
        fields = gather(buf, starts, PCAP_RECORD_HEADER_LEN).view(self._order + "u4")
        fields = fields.astype(np.int64)
        too_long = fields[:, 2] > self.header.caplen_limit
        if too_long.any():
            first_bad = int(np.argmax(too_long))
            stop, bad_caplen = int(starts[first_bad]), int(fields[first_bad, 2])
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
