"""Classic pcap: walk the 16-byte record headers of one buffer window.

Finding where each record starts is sequential (``walk.py``, compiled when possible); every
field is then gathered with numpy, and captured lengths are checked all at once.
"""

from __future__ import annotations

import struct

import numpy as np

from tcptrace_viz.arrays import I64, U8, Bool, Obj
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
        fraction = fields[:, 1]
        out_of_range = fraction * scale >= 1_000_000_000
        comment = None
        if out_of_range.any():  # libpcap and Wireshark never carry it into the seconds
            fraction = np.where(out_of_range, 0, fraction)
            comment = out_of_range_comments(fields[:, 1], out_of_range,
                                            self.header.nanoseconds)
        first = self.records + 1
        self.records += count
        step = ParseStep(
            start=starts + PCAP_RECORD_HEADER_LEN, caplen=fields[:, 2], wirelen=fields[:, 3],
            linktype=np.full(count, self.header.linktype, dtype=np.int64),
            ts_ns=fields[:, 0] * 1_000_000_000 + fraction * scale,
            frame=np.arange(first, first + count, dtype=np.int64), comment=comment, stop=stop)
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


def out_of_range_comments(fraction: I64, out_of_range: Bool, nanoseconds: bool) -> Obj:
    """Per-record comments marking sub-second timestamp fields of 1 s or more ("" elsewhere).

    Such a record's time is its seconds field alone.
    """
    unit = "ns" if nanoseconds else "µs"
    comment = np.full(len(fraction), "", dtype=object)
    rows = np.flatnonzero(out_of_range)
    comment[rows] = [f"timestamp's sub-second field ({value} {unit}) is out of range: "
                     "the time shown is its second alone" for value in fraction[rows].tolist()]
    return comment
