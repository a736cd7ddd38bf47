"""pcapng writer: one section, one interface, nanosecond timestamps, packet comments.

The section header may carry further options a caller builds (``trace_block.trace_options``
puts a capture's whole trace document there).

Block layouts follow the pcapng specification (draft-ietf-opsawg-pcapng); everything is written
in the host's byte order, as readers must accept either.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import BinaryIO, Final

from tcptrace_viz._version import __version__
from tcptrace_viz.arrays import I64
from tcptrace_viz.pcap.linktypes import LINKTYPE_ETHERNET

BLOCK_SHB: Final = 0x0A0D0D0A  # section header block
BLOCK_IDB: Final = 0x00000001  # interface description block
BLOCK_EPB: Final = 0x00000006  # enhanced packet block
BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D  # written in the section's byte order

OPT_ENDOFOPT: Final = 0  # end of options
OPT_COMMENT: Final = 1  # UTF-8 comment (any block)
SHB_HARDWARE: Final = 2  # SHB: hardware the capture ran on
SHB_OS: Final = 3  # SHB: operating system
SHB_USERAPPL: Final = 4  # SHB: application that wrote the file
IF_NAME: Final = 2  # IDB: interface name
IF_TSRESOL: Final = 9  # IDB: timestamp resolution (power of 10, or of 2 with the top bit)
IF_TSOFFSET: Final = 14  # IDB: seconds added to every timestamp

NANOSECONDS: Final = 9  # if_tsresol value for 10**-9 s
DEFAULT_SNAPLEN: Final = 262144  # what tcpdump and Wireshark use
_FLUSH_BYTES: Final = 1 << 20


def _pad4(size: int) -> int:
    return (4 - size % 4) % 4


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("=HH", code, len(value)) + value + b"\0" * _pad4(len(value))


def _options(*options: bytes) -> bytes:
    present = [opt for opt in options if opt]
    if not present:
        return b""
    return b"".join(present) + struct.pack("=HH", OPT_ENDOFOPT, 0)


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("=II", block_type, total) + body + struct.pack("=I", total)


OPTION_MAX: Final = 0xFFFC
"""The longest option value (its length is 16 bits; values are padded to 4 bytes)."""


def _text_option(code: int, text: str) -> bytes:
    """The option; a text longer than one option can hold becomes several options of the
    same code (pcapng allows repeating ``opt_comment``), split at a line break, which the
    split takes the place of (readers join them with one), or else between two UTF-8
    characters."""
    data = text.encode("utf-8")
    options = []
    while len(data) > OPTION_MAX:
        cut = data.rfind(b"\n", 0, OPTION_MAX + 1)
        if cut > 0:
            options.append(_option(code, data[:cut]))
            data = data[cut + 1:]
            continue
        cut = OPTION_MAX
        while data[cut] & 0xC0 == 0x80:  # not inside a character
            cut -= 1
        options.append(_option(code, data[:cut]))
        data = data[cut:]
    if data:
        options.append(_option(code, data))
    return b"".join(options)


def section_header(section_comment: str = "", extra_options: Sequence[bytes] = ()) -> bytes:
    """An SHB naming this tool as the writer (``shb_userappl``), then ``extra_options``
    (complete options, such as ``trace_block.trace_options``'s)."""
    body = struct.pack("=IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + _options(
        _text_option(OPT_COMMENT, section_comment),
        _text_option(SHB_USERAPPL, f"tcptrace-viz {__version__}"), *extra_options)
    return _block(BLOCK_SHB, body)


def interface_description(linktype: int, if_name: str, snaplen: int) -> bytes:
    """An IDB with a name and nanosecond timestamp resolution."""
    body = struct.pack("=HHI", linktype, 0, snaplen) + _options(
        _text_option(IF_NAME, if_name), _option(IF_TSRESOL, bytes([NANOSECONDS])))
    return _block(BLOCK_IDB, body)


def enhanced_packet(frame: bytes, ts_ns: int, comment: str = "") -> bytes:
    """An EPB on interface 0 with a nanosecond timestamp and an optional comment."""
    if ts_ns < 0:
        raise ValueError(f"timestamp {ts_ns} is before 1970; pcapng cannot hold it")
    body = (struct.pack("=IIIII", 0, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(frame), len(frame))
            + frame + b"\0" * _pad4(len(frame)) + _options(_text_option(OPT_COMMENT, comment)))
    return _block(BLOCK_EPB, body)


def write_pcapng(
        stream: BinaryIO, frames: Sequence[bytes],
                 ts_ns: Sequence[int] | I64,
                 comments: Sequence[str] | None = None, linktype: int = LINKTYPE_ETHERNET,
                 if_name: str = "lo", section_comment: str = "",
                 section_options: Sequence[bytes] = ()) -> None:
    """Write ``frames`` as a pcapng file that Wireshark and tshark read without complaint.

    One section (with ``section_comment`` and ``shb_userappl`` "tcptrace-viz <version>"), one
    interface (``if_name``, ``linktype``, nanosecond ``if_tsresol``) and one EPB per frame, with
    ``comments[i]`` as its ``opt_comment`` (an empty string adds no option).
    ``section_options`` (complete options) follow those two in the section header.
    """
    if len(ts_ns) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(ts_ns)} timestamps")
    if comments is not None and len(comments) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(comments)} comments")
    longest = max((len(frame) for frame in frames), default=0)
    snaplen = DEFAULT_SNAPLEN if longest <= DEFAULT_SNAPLEN else 0  # 0: no limit
    chunks = [section_header(section_comment, section_options),
              interface_description(linktype, if_name, snaplen)]
    size = 0
    for index, frame in enumerate(frames):
        block = enhanced_packet(bytes(frame), int(ts_ns[index]),
                                comments[index] if comments is not None else "")
        chunks.append(block)
        size += len(block)
        if size >= _FLUSH_BYTES:
            stream.write(b"".join(chunks))
            chunks, size = [], 0
    stream.write(b"".join(chunks))
