"""Vectorised decode of captured frames to one row per TCP segment.

Input is one byte buffer holding many frames plus per-frame arrays (``step.Frames``: where
each frame starts, how many bytes were captured, link type, timestamp, frame number, comment).
Every step works on whole columns: gather the header bytes of all frames into a matrix, read
fields as columns, narrow down to the frames that are still TCP.  Nothing here makes a Python
object per packet except the text columns, which are shared (addresses, flags) or made in one
call per column (``texts.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np
import pandas as pd

from tcptrace_viz.arrays import I64, U8, Obj
from tcptrace_viz.pcap.column_arrays import RowSink
from tcptrace_viz.pcap.decode_columns import DECODED_COLUMNS
from tcptrace_viz.pcap.frames import Frames
from tcptrace_viz.pcap.gather import be16, be32, gather
from tcptrace_viz.pcap.ip import decode_ip
from tcptrace_viz.pcap.linktypes import SUPPORTED_LINKTYPES, link_layer
from tcptrace_viz.pcap.options import (
    OPTIONS_MIN_WIDTH,
    decode_options,
    is_nop_nop_timestamp,
    timestamp_texts,
)
from tcptrace_viz.pcap.texts import payload_texts
from tcptrace_viz.pcap.tunnels import IPPROTO_GRE, open_tunnels
from tcptrace_viz.tcp import tcp_flags_to_str

OPTIONS_CUT: Final = "[options cut by the capture]"
"""Ends the options text of a segment whose header the capture cut short (snaplen)."""
TCP_GATHER: Final = 32  # fixed TCP header + room for nop,nop,TS (within the buffer's padding)
PAYLOAD_PREVIEW: Final = 32  # bytes of payload shown in the ``payload`` column
BATCH: Final = 32768  # frames decoded at once: bounds the gather matrices' memory
MAX_TUNNELS: Final = 4  # tunnels opened one inside another (the rest stay unread)

_FLAG_TEXT: Final = np.array([tcp_flags_to_str(bits) for bits in range(256)], dtype=object)



@dataclasses.dataclass
class Decoded:
    """Counts from decoding frames (the rows themselves go to a ``RowSink``)."""

    malformed: int = 0
    """Frames skipped because a header length points outside the frame (or a runt)."""
    first_malformed: int = 0
    """Frame number of the first such frame (0 when none)."""
    unsupported: int = 0
    """Frames skipped because their link type is not supported."""
    opaque_gre: int = 0
    """Frames left as GRE whose payload is not decoded (802.11 in Aruba GRE, WCCP...)."""
    first_opaque_gre: int = 0
    """Frame number of the first such frame (0 when none)."""


def to_dataframe(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """The decoded table, text columns kept as ``object`` dtype like ``model.PACKET_COLUMNS``."""
    data = {name: pd.Series(columns[name], dtype=dtype, copy=False)
            for name, dtype in DECODED_COLUMNS.items()}
    return pd.DataFrame(data, copy=False)


def decode(buf: U8, frames: Frames, sink: RowSink, expected_rows: int = 0) -> Decoded:
    """Decode every TCP segment of ``frames`` (in batches of ``BATCH``) into ``sink``.

    ``buf`` holds the frames followed by ``gather.PAD`` zero bytes.
    ``expected_rows``: an estimate of the sink's final size, so it grows once, not often.
    """
    total = len(frames.start)
    result = Decoded()
    for low in range(0, total, BATCH):
        columns, part = _decode_batch(buf, frames, slice(low, min(total, low + BATCH)))
        sink.append(columns, expected_rows)
        if part.malformed and not result.malformed:
            result.first_malformed = part.first_malformed
        result.malformed += part.malformed
        result.unsupported += part.unsupported
        if part.opaque_gre and not result.opaque_gre:
            result.first_opaque_gre = part.first_opaque_gre
        result.opaque_gre += part.opaque_gre
    return result


def _decode_batch(buf: U8, frames: Frames, part: slice) -> tuple[dict[str, np.ndarray], Decoded]:
    start, caplen = frames.start[part], frames.caplen[part]
    linktype, wirelen = frames.linktype[part], frames.wirelen[part]
    end = start + caplen
    n = len(start)
    l3 = np.zeros(n, dtype=np.int64)
    version = np.zeros(n, dtype=np.int64)
    malformed = np.zeros(n, dtype=np.bool_)
    tunnel: Obj | None = None
    # As Wireshark: what the frame holds bounds the IP datagram, whatever its header claims.
    wire_ip_len = np.maximum(wirelen, caplen)
    unsupported = 0
    single = bool(n) and linktype[0] == linktype[-1] and bool((linktype == linktype[0]).all())
    for kind in [int(linktype[0])] if single else np.unique(linktype).tolist():
        if kind not in SUPPORTED_LINKTYPES:
            unsupported += int((linktype == kind).sum())
            continue
        rows = slice(None) if single else np.flatnonzero(linktype == kind)
        peeled, runt = link_layer(buf, start[rows], caplen[rows], kind)
        l3[rows], version[rows] = peeled.l3, peeled.version
        malformed[rows] |= runt.astype(np.bool_)
        wire_ip_len[rows] -= peeled.l3 - start[rows]
        if peeled.limit is not None:
            wire_ip_len[rows] = np.minimum(wire_ip_len[rows], peeled.limit - peeled.l3)
        if peeled.vlan is not None:
            tunnel = np.full(n, "", dtype=object) if tunnel is None else tunnel
            tunnel[rows] = peeled.vlan

    ip = decode_ip(buf, l3, end, version, wire_ip_len, malformed=malformed)
    for _depth in range(MAX_TUNNELS):  # the common case: no tunnel, one cheap look
        inner = open_tunnels(buf, ip, end)
        if inner is None:
            break
        l3[inner.rows], version[inner.rows] = inner.l3, inner.version
        wire_ip_len[inner.rows] = inner.bound - inner.l3
        tunnel = np.full(n, "", dtype=object) if tunnel is None else tunnel
        outer = tunnel[inner.rows]
        tunnel[inner.rows] = np.where(outer == "", inner.text, outer + " | " + inner.text)
        ip = decode_ip(buf, l3, end, version, wire_ip_len, malformed=malformed)
    tcp_rows = np.flatnonzero(ip.is_tcp)
    l4, ip_payload = ip.l4[tcp_rows], ip.payload_len[tcp_rows]
    tcp = gather(buf, l4, TCP_GATHER)
    thl = (tcp[:, 12] >> 4).astype(np.int64) * 4
    # A header the capture cut short (a small snaplen) is still a segment, as for tshark: the
    # fixed 20 bytes are read and the options as far as they were captured.
    bad_tcp = (thl < 20) | (l4 + 20 > end[tcp_rows]) | (ip_payload < thl)
    if bad_tcp.any():
        malformed[tcp_rows[bad_tcp]] = True
        good = ~bad_tcp
        tcp_rows, l4, ip_payload, tcp, thl = (tcp_rows[good], l4[good], ip_payload[good],
                                              tcp[good], thl[good])
    frame_numbers = frames.frame[part]
    first_bad = int(frame_numbers[np.argmax(malformed)]) if malformed.any() else 0
    columns = _tcp_columns(buf, tcp, l4, thl, length=ip_payload - thl, end=end[tcp_rows])
    columns["ts_ns"] = frames.ts_ns[part][tcp_rows]
    columns["frame"] = frame_numbers[tcp_rows]
    columns["ip_version"] = version[tcp_rows]
    columns["src"], columns["dst"] = ip.addresses(tcp_rows)
    columns["tunnel"] = (np.full(len(tcp_rows), "", dtype=object) if tunnel is None
                         else tunnel[tcp_rows])
    if frames.comment is None:
        columns["comment"] = np.full(len(tcp_rows), "", dtype=object)
    else:
        columns["comment"] = frames.comment[part][tcp_rows]
    opaque = np.flatnonzero(ip.proto == IPPROTO_GRE)  # GRE no tunnel opener understood
    return columns, Decoded(int(malformed.sum()), first_bad, unsupported, len(opaque),
                            int(frame_numbers[opaque[0]]) if len(opaque) else 0)


def _tcp_columns(buf: U8, tcp: U8, l4: I64, thl: I64, *, length: I64,
                 end: I64) -> dict[str, np.ndarray]:
    """Every TCP-derived column for segments whose header starts at ``l4``.

    ``tcp`` holds each segment's first ``TCP_GATHER`` bytes: the fixed header and 12 more.
    """
    m = len(l4)
    flag_bits = tcp[:, 13].astype(np.int64)
    ack = be32(tcp, 8)
    columns: dict[str, np.ndarray] = {
        "sport": be16(tcp, 0), "dport": be16(tcp, 2), "seq": be32(tcp, 4),
        "ack": np.where(flag_bits & 0x10, ack, 0), "flags": _FLAG_TEXT[flag_bits],
        "flag_bits": flag_bits, "len": length, "win": be16(tcp, 14),
    }
    captured = np.minimum(thl, end - l4)  # header bytes the frame holds (less when cut)
    # The commonest options, nop,nop,TS, sit in the 12 bytes gathered after the fixed header.
    ts_only = is_nop_nop_timestamp(thl - 20, be32(tcp, 20)) & (captured == thl)
    tsval, tsecr = np.where(ts_only, be32(tcp, 24), -1), np.where(ts_only, be32(tcp, 28), -1)
    text = np.full(m, "", dtype=object)
    ts_rows = np.flatnonzero(ts_only)
    text[ts_rows] = timestamp_texts(tsval[ts_rows], tsecr[ts_rows])
    columns.update(options=text, tsval=tsval, tsecr=tsecr, mss=np.full(m, -1, dtype=np.int64),
                   wscale=np.full(m, -1, dtype=np.int64), sack_ok=np.zeros(m, dtype=np.bool_))
    others = np.flatnonzero((captured > 20) & ~ts_only)
    if len(others):
        optlen = captured[others] - 20
        # Only as wide as the longest options (bytes past a packet's own are never read).
        width = max(int(optlen.max()), OPTIONS_MIN_WIDTH)
        decoded = decode_options(gather(buf, l4[others] + 20, width), optlen)
        for name in ("tsval", "tsecr", "mss", "wscale", "sack_ok"):
            columns[name][others] = getattr(decoded, name)
        text[others] = decoded.text
    cut = np.flatnonzero(captured < thl)
    if len(cut):
        text[cut] = [f"{words},{OPTIONS_CUT}" if words else OPTIONS_CUT
                     for words in text[cut].tolist()]
    columns["payload"] = _payload_preview(buf, l4 + thl, np.minimum(length, end - l4 - thl))
    return columns


def _payload_preview(buf: U8, at: I64, available: I64) -> Obj:
    """Printable text of up to ``PAYLOAD_PREVIEW`` payload bytes ('.' for the rest)."""
    return payload_texts(gather(buf, at, PAYLOAD_PREVIEW), available)
