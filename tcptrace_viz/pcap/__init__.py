"""Fast pcap/pcapng reading and pcapng writing, with no scapy on the path.

- ``decode_frames``: frames already in memory (e.g. from an AF_PACKET socket) to a table of
  TCP segments.
- ``read_pcap``: any pcap or pcapng file to the same table, vectorised and streamed.
- ``write_pcapng``: frames, timestamps and per-packet comments to a pcapng file.

The table has one row per TCP segment; its columns are ``DECODED_COLUMNS``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tcptrace_viz.arrays import I64
from tcptrace_viz.pcap.column_arrays import ColumnSink
from tcptrace_viz.pcap.decode import decode as decode_all
from tcptrace_viz.pcap.decode import to_dataframe
from tcptrace_viz.pcap.decode_columns import DECODED_COLUMNS
from tcptrace_viz.pcap.frames import Frames
from tcptrace_viz.pcap.gather import PAD
from tcptrace_viz.pcap.linktypes import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
)
from tcptrace_viz.pcap.reader import PcapReadResult, read_pcap
from tcptrace_viz.pcap.writer import write_pcapng

__all__ = [
    "DECODED_COLUMNS",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_LOOP",
    "LINKTYPE_NULL",
    "LINKTYPE_RAW",
    "PcapReadResult",
    "decode_frames",
    "read_pcap",
    "write_pcapng",
]


def decode_frames(frames: Sequence[bytes], ts_ns: I64 | Sequence[int],
                  linktype: int, comments: Sequence[str] | None = None,
                  first_frame: int = 1) -> pd.DataFrame:
    """Decode captured link-layer frames to one row per TCP segment.

    ``frames[i]`` was captured at ``ts_ns[i]`` (ns since the epoch) on a link of type
    ``linktype`` (``LINKTYPE_ETHERNET`` for Linux ``lo``).  Frames that are not TCP, or too
    short for their headers, are skipped, but ``frame`` numbers count every input frame:
    ``frame = first_frame + index``.  ``comments[i]`` lands in the ``comment`` column.
    """
    if len(ts_ns) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(ts_ns)} timestamps")
    if comments is not None and len(comments) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(comments)} comments")
    lengths = np.fromiter((len(frame) for frame in frames), dtype=np.int64, count=len(frames))
    starts = np.zeros(len(frames), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    buf = np.frombuffer(b"".join(frames) + bytes(PAD), dtype=np.uint8)
    comment_array = None
    if comments is not None:
        comment_array = np.empty(len(frames), dtype=object)
        comment_array[:] = [str(text) for text in comments]
    sink = ColumnSink(len(frames))
    decode_all(buf, Frames(
        start=starts, caplen=lengths, wirelen=lengths,
        linktype=np.full(len(frames), linktype, dtype=np.int64),
        ts_ns=np.asarray(ts_ns, dtype=np.int64).reshape(-1),
        frame=np.arange(first_frame, first_frame + len(frames), dtype=np.int64),
        comment=comment_array), sink)
    return to_dataframe(sink.finish())
