"""Where each record starts: the reader's one sequential step, compiled when possible.

Every pcap record header (and every pcapng block header) says how far away the next one is,
so record offsets must be found one after another.  ``_speedups.c`` does that in C; the functions
here fall back to an equivalent Python loop (about 150 ns a record) when the extension was not
built, e.g. on a machine without a C compiler.  Both only record offsets: every field is then
gathered with numpy.  Neither reads at or past ``end``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

import numpy as np

from tcptrace_viz.arrays import I64, U8
from tcptrace_viz.pcap.formats import PCAP_RECORD_HEADER_LEN
from tcptrace_viz.pcap.speedups import compiled_function

BLOCK_EPB: Final = 0x00000006  # pcapng enhanced packet block
EPB_MIN_LEN: Final = 32  # an EPB's fixed fields plus its trailing length
MAX_BLOCK: Final = 16 << 20  # larger pcapng blocks are taken as a damaged length field

Walker = Callable[[U8, I64, int, int, bool], tuple[int, int]]


def _check_range(data: U8, pos: int, end: int) -> None:
    if pos < 0 or end < pos or end > len(data):
        raise ValueError("walk range outside the buffer")


def python_pcap_records(data: U8, out: I64, pos: int, end: int,
                        big_endian: bool) -> tuple[int, int]:
    """Offsets of the complete pcap records in ``data[pos:end]`` into ``out``; (count, stop)."""
    _check_range(data, pos, end)
    caplen_at = struct.Struct(">I" if big_endian else "<I").unpack_from
    raw = data.data[:end]
    offsets: list[int] = []
    append = offsets.append
    limit = len(out)
    while len(offsets) < limit and end - pos >= PCAP_RECORD_HEADER_LEN:
        after = pos + PCAP_RECORD_HEADER_LEN + caplen_at(raw, pos + 8)[0]
        if after > end:
            break
        append(pos)
        pos = after
    out[:len(offsets)] = offsets
    return len(offsets), pos


def python_pcapng_epbs(data: U8, out: I64, pos: int, end: int,
                       big_endian: bool) -> tuple[int, int]:
    """Offsets of consecutive, complete, plausible EPBs in ``data[pos:end]``; (count, stop)."""
    _check_range(data, pos, end)
    read = struct.Struct(">II" if big_endian else "<II").unpack_from
    raw = data.data[:end]
    offsets: list[int] = []
    append = offsets.append
    limit = len(out)
    while len(offsets) < limit and end - pos >= 8:
        btype, size = read(raw, pos)
        if (btype != BLOCK_EPB or size < EPB_MIN_LEN or size & 3 or size > MAX_BLOCK
                or size > end - pos):
            break
        append(pos)
        pos += size
    out[:len(offsets)] = offsets
    return len(offsets), pos


compiled_pcap_records = compiled_function("pcap_records")
compiled_pcapng_epbs = compiled_function("pcapng_epbs")
COMPILED = compiled_pcap_records is not None and compiled_pcapng_epbs is not None
"""True when the compiled twins run (built, and not switched off)."""
_pcap_records: Walker = compiled_pcap_records or python_pcap_records
_pcapng_epbs: Walker = compiled_pcapng_epbs or python_pcapng_epbs


def _offsets(walker: Walker, buf: U8, pos: int, end: int, big_endian: bool,
             smallest: int) -> tuple[I64, int]:
    out = np.empty((end - pos) // smallest + 1, dtype=np.int64)
    count, stop = walker(buf, out, pos, end, big_endian)
    return out[:count], stop


def pcap_record_offsets(buf: U8, pos: int, end: int, big_endian: bool) -> tuple[I64, int]:
    """Start of each complete pcap record in ``buf[pos:end]``, and where the walk stopped.

    A record's captured length is not checked here (only that the record ends by ``end``).
    """
    return _offsets(_pcap_records, buf, pos, end, big_endian, PCAP_RECORD_HEADER_LEN)


def pcapng_epb_offsets(buf: U8, pos: int, end: int, big_endian: bool) -> tuple[I64, int]:
    """Start of each consecutive, complete, plausible EPB from ``pos``; where the walk stopped.

    Plausible: type 6, a length that is a multiple of 4, at least 32 and at most
    ``MAX_BLOCK``.  Anything else (another block type, damage) is left to the caller.
    """
    return _offsets(_pcapng_epbs, buf, pos, end, big_endian, EPB_MIN_LEN)
