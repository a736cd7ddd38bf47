"""pcapng: walk the blocks of one buffer window; sections, interfaces, packets, comments.

Enhanced packet blocks (almost every block of a real file) are walked by ``walk.py``, which only
records offsets; their fields are then gathered with numpy per run of blocks that share a
section.  Every other block (section and interface headers, simple/obsolete packet blocks,
statistics, name resolution, ...) takes the slow path, one block at a time.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from typing import Final, cast

import numpy as np
import numpy.typing as npt

from tcptrace_viz.arrays import I64, U8
from tcptrace_viz.pcap.formats import MAX_CAPLEN
from tcptrace_viz.pcap.frames import ParseStep
from tcptrace_viz.pcap.gather import gather
from tcptrace_viz.pcap.timestamps import raw_to_ns
from tcptrace_viz.pcap.walk import BLOCK_EPB, MAX_BLOCK, pcapng_epb_offsets

BLOCK_SHB: Final = 0x0A0D0D0A  # section header block
BLOCK_IDB: Final = 0x00000001  # interface description block
BLOCK_OPB: Final = 0x00000002  # obsolete packet block
BLOCK_SPB: Final = 0x00000003  # simple packet block (no timestamp, interface 0)
OPT_COMMENT: Final = 1  # opt_comment, in any block
IF_NAME: Final = 2  # IDB: interface name
IF_DESCRIPTION: Final = 3  # IDB: interface description
IF_TSRESOL: Final = 9  # IDB: timestamp resolution
IF_TSOFFSET: Final = 14  # IDB: seconds added to timestamps
EPB_HEADER: Final = 28  # type, length, interface, ts high, ts low, caplen, wire length
_BOM_LITTLE: Final = b"\x4d\x3c\x2b\x1a"
_BOM_BIG: Final = b"\x1a\x2b\x3c\x4d"



@dataclasses.dataclass(frozen=True)
class Interface:
    """An interface description block."""

    linktype: int
    tsresol: int = 6
    tsoffset: int = 0


@dataclasses.dataclass
class _Run:
    """Consecutive EPBs of one section, as found by the fast walk."""

    offsets: I64
    little: bool
    section_base: int
    section_count: int
    first_frame: int


def iter_options(data: bytes, little: bool) -> Iterator[tuple[int, bytes]]:
    """(code, value) of each option in ``data``, stopping at opt_endofopt or damage."""
    order = "<" if little else ">"
    at = 0
    while at + 4 <= len(data):
        code, size = struct.unpack_from(order + "HH", data, at)
        if code == 0 or at + 4 + size > len(data):
            return
        yield code, data[at + 4:at + 4 + size]
        at += 4 + size + (-size % 4)


def _comment(data: bytes, little: bool) -> str:
    texts = [value.decode("utf-8", "replace") for code, value in iter_options(data, little)
             if code == OPT_COMMENT]
    return "\n".join(texts)


class PcapngParser:
    """Turns buffer windows of a pcapng file into ``ParseStep``s, keeping section state."""

    def __init__(self) -> None:
        self.little = True
        self.interfaces: list[Interface] = []
        """Every interface of every section so far."""
        self.section_base = 0
        self.section_count = 0
        self.frames = 0
        """Packet blocks consumed so far."""
        self.comments: list[str] = []
        """Section header comments."""
        self._interface_numbers: dict[str, list[int]] = {}
        """Each interface's name, description and comments (untrusted text), with the numbers
        of the interfaces that have it."""

    # --- slow path -------------------------------------------------------------------------
    def _u32(self, buf: U8, at: int) -> int:
        value: int = struct.unpack_from("<I" if self.little else ">I", buf.data, at)[0]
        return value

    def _section_header(self, body: bytes, where: int) -> str:
        major, minor = struct.unpack_from("<HH" if self.little else ">HH", body, 12)
        if major != 1 or minor not in (0, 2):  # as libpcap and Wireshark: 1.0 and 1.2 only
            return (f"the section header at byte offset {where} has unsupported version "
                    f"{major}.{minor}")
        self.comments.extend(value.decode("utf-8", "replace")
                             for code, value in iter_options(body[24:-4], self.little)
                             if code == OPT_COMMENT and value)
        self.section_base = len(self.interfaces)
        self.section_count = 0
        return ""

    def _interface(self, body: bytes, where: int) -> str:
        if len(body) < 20:
            return f"the interface description block at byte offset {where} is too short"
        linktype = struct.unpack_from("<H" if self.little else ">H", body, 8)[0]
        tsresol, tsoffset = 6, 0
        texts: list[str] = []
        for code, value in iter_options(body[16:-4], self.little):
            if code == IF_TSRESOL and len(value) >= 1:
                tsresol = value[0]
            elif code == IF_TSOFFSET and len(value) == 8:
                tsoffset = struct.unpack("<q" if self.little else ">q", value)[0]
            elif code in (IF_NAME, IF_DESCRIPTION, OPT_COMMENT) and value.strip(b"\0 \t\r\n"):
                texts.append(value.strip(b"\0 \t\r\n").decode("utf-8", "replace"))
        if texts:
            self._interface_numbers.setdefault(", ".join(texts), []).append(len(self.interfaces))
        self.interfaces.append(Interface(linktype, tsresol, tsoffset))
        self.section_count += 1
        return ""

    def _slow_packet(self, btype: int, body: bytes, where: int, data_at: int
                     ) -> tuple[tuple[int, int, int, int, int, str] | None, str]:
        """(start, caplen, wirelen, interface, raw timestamp, comment) of an SPB or OPB."""
        order = "<" if self.little else ">"
        if btype == BLOCK_SPB:
            if len(body) < 16:
                return None, f"the simple packet block at byte offset {where} is too short"
            wirelen = struct.unpack_from(order + "I", body, 8)[0]
            caplen = min(wirelen, len(body) - 16, MAX_CAPLEN)
            iface, ts_raw, start, comment = 0, 0, data_at + 12, ""
        else:
            if len(body) < 32:
                return None, f"the packet block at byte offset {where} is too short"
            iface, _drops, high, low, caplen, wirelen = struct.unpack_from(order + "HHIIII",
                                                                           body, 8)
            if caplen > min(len(body) - 32, MAX_CAPLEN):
                return None, (f"the packet block at byte offset {where} claims {caplen} "
                              "captured bytes, more than the block holds")
            ts_raw, start = high << 32 | low, data_at + 28
            comment = _comment(body[28 + caplen + (-caplen % 4):-4], self.little)
        if iface >= self.section_count:
            return None, self._unknown_interface(iface, where)
        return (start, caplen, wirelen, self.section_base + iface, ts_raw, comment), ""

    def _unknown_interface(self, iface: int, where: int) -> str:
        if not self.section_count:
            return (f"the packet block at byte offset {where} comes before any interface "
                    "description block")
        return (f"the packet block at byte offset {where} refers to interface {iface}, but its "
                f"section describes only {self.section_count}")

    # --- one window ------------------------------------------------------------------------
    def parse(self, buf: U8, pos: int, end: int, base: int, eof: bool) -> ParseStep:
        """Consume the complete blocks in ``buf[pos:end]`` (``base``: file offset of buf[0])."""
        runs: list[_Run] = []
        slow: list[tuple[int, tuple[int, int, int, int, int, str]]] = []
        need, problem = 0, ""
        while True:
            first_frame = self.frames + 1
            offsets, pos = pcapng_epb_offsets(buf, pos, end, not self.little)
            if len(offsets):
                runs.append(_Run(offsets, self.little, self.section_base, self.section_count,
                                 first_frame))
                self.frames += len(offsets)
            if pos >= end:
                break
            need, problem, size = self._slow_block(buf, pos, end, base=base, eof=eof,
                                                   slow=slow)
            if problem or not size:
                break
            pos += size
        step = self._assemble(buf, runs, slow, pos, base)
        if not step.problem:
            step.need, step.problem = need, problem
        return step

    def _slow_block(self, buf: U8, pos: int, end: int, *, base: int, eof: bool,
                    slow: list[tuple[int, tuple[int, int, int, int, int, str]]]
                    ) -> tuple[int, str, int]:
        """Handle the block at ``pos``: returns (bytes needed, problem, size consumed)."""
        where = base + pos
        if end - pos < 12:
            if eof:
                return 0, (f"the file ends inside the block header at byte offset {where} "
                           f"({end - pos} of 12 bytes are present)"), 0
            return 12, "", 0
        if bytes(buf[pos:pos + 4]) == b"\x0a\x0d\x0d\x0a":
            bom = bytes(buf[pos + 8:pos + 12])
            if bom not in (_BOM_LITTLE, _BOM_BIG):
                return 0, (f"the section header at byte offset {where} has no valid "
                           "byte-order magic"), 0
            self.little = bom == _BOM_LITTLE
        btype, size = self._u32(buf, pos), self._u32(buf, pos + 4)
        if size < 12 or size % 4 or size > MAX_BLOCK:
            return 0, (f"the block at byte offset {where} has an invalid length of {size} "
                       "bytes (it must be a multiple of 4, at least 12"
                       f" and at most {MAX_BLOCK})"), 0
        if size > end - pos:
            if eof:
                return 0, (f"the block at byte offset {where} claims {size} bytes but only "
                           f"{end - pos} of them are in the file"), 0
            return size, "", 0
        trailer = self._u32(buf, pos + size - 4)
        if trailer != size:
            return 0, (f"the block at byte offset {where} has a trailing length of {trailer}, "
                       f"not {size} as at its start"), 0
        body = bytes(buf[pos:pos + size])
        problem = ""
        if btype == BLOCK_SHB:
            problem = self._section_header(body, where) if size >= 28 else (
                f"the section header at byte offset {where} is too short")
        elif btype == BLOCK_IDB:
            problem = self._interface(body, where)
        elif btype in (BLOCK_SPB, BLOCK_OPB):
            packet, problem = self._slow_packet(btype, body, where, pos)
            if packet is not None:
                self.frames += 1
                slow.append((self.frames, packet))
        elif btype == BLOCK_EPB:
            problem = f"the enhanced packet block at byte offset {where} is too short"
        return 0, problem, 0 if problem else size

    def _assemble(self, buf: U8, runs: list[_Run],
                  slow: list[tuple[int, tuple[int, int, int, int, int, str]]],
                  stop: int, base: int) -> ParseStep:
        """Gather the runs' EPB fields, validate them and merge in the slow packets."""
        parts: list[tuple[I64, I64, I64, I64, I64, I64, list[str] | None]] = []
        for run in runs:
            checked, problem = self._epb_fields(buf, run, base)
            parts.append(checked)
            if problem:
                cut_frame = int(checked[5][-1]) + 1 if len(checked[5]) else run.first_frame
                slow = [item for item in slow if item[0] < cut_frame]
                self.frames = cut_frame - 1
                bad_offset = int(run.offsets[len(checked[0])])
                return self._merge(parts, slow, bad_offset).cut(
                    sum(len(part[0]) for part in parts) + len(slow), problem, bad_offset)
        return self._merge(parts, slow, stop)

    def _epb_fields(self, buf: U8, run: _Run, base: int
                    ) -> tuple[tuple[I64, I64, I64, I64, I64, I64, list[str] | None], str]:
        offsets = run.offsets
        fields = gather(buf, offsets, EPB_HEADER).view("<u4" if run.little else ">u4")
        fields = fields.astype(np.int64)
        size, iface, caplen, wirelen = fields[:, 1], fields[:, 2], fields[:, 5], fields[:, 6]
        trailer = gather(buf, offsets + size - 4, 4).view("<u4" if run.little else ">u4")
        bad = ((caplen > size - 32) | (caplen > MAX_CAPLEN) | (iface >= run.section_count)
               | (trailer[:, 0] != size))
        problem, count = "", len(offsets)
        if bad.any():
            count = int(np.argmax(bad))
            where = base + int(offsets[count])
            if iface[count] >= run.section_count:
                saved = self.section_count
                self.section_count = run.section_count
                problem = self._unknown_interface(int(iface[count]), where)
                self.section_count = saved
            elif trailer[count, 0] != size[count]:
                problem = (f"the block at byte offset {where} has a trailing length of "
                           f"{int(trailer[count, 0])}, not {int(size[count])} as at its start")
            else:
                problem = (f"the packet block at byte offset {where} claims {int(caplen[count])}"
                           " captured bytes, more than the block holds")
        keep = slice(0, count)
        ts_raw = (fields[keep, 3].astype(np.uint64) << np.uint64(32)) | fields[keep, 4].astype(
            np.uint64)
        with_options = np.flatnonzero(size[keep] > 32 + caplen[keep] + (-caplen[keep] % 4))
        comments: list[str] | None = None
        if len(with_options):
            comments = [""] * count
            for row in with_options.tolist():
                at = int(offsets[row]) + EPB_HEADER + int(caplen[row]) + (-int(caplen[row]) % 4)
                comments[row] = _comment(bytes(buf[at:int(offsets[row]) + int(size[row]) - 4]),
                                         run.little)
        frames = np.arange(run.first_frame, run.first_frame + count, dtype=np.int64)
        global_iface = iface[keep] + run.section_base
        return (offsets[keep] + EPB_HEADER, caplen[keep], wirelen[keep], global_iface,
                self._ts_ns(ts_raw, global_iface), frames, comments), problem

    def _ts_ns(self, ts_raw: npt.NDArray[np.uint64], iface: I64) -> I64:
        kinds = np.unique(iface).tolist()
        if len(kinds) == 1:
            spec = self.interfaces[kinds[0]]
            return raw_to_ns(ts_raw, spec.tsresol, spec.tsoffset)
        out = np.zeros(len(iface), dtype=np.int64)
        for index in kinds:
            rows = iface == index
            spec = self.interfaces[index]
            out[rows] = raw_to_ns(ts_raw[rows], spec.tsresol, spec.tsoffset)
        return out

    def _merge(self, parts: list[tuple[I64, I64, I64, I64, I64, I64, list[str] | None]],
               slow: list[tuple[int, tuple[int, int, int, int, int, str]]],
               stop: int) -> ParseStep:
        if slow:
            frames = np.array([item[0] for item in slow], dtype=np.int64)
            cols = list(zip(*(item[1] for item in slow), strict=True))
            iface = np.array(cols[3], dtype=np.int64)
            ts = self._ts_ns(np.array(cols[4], dtype=np.uint64), iface)
            parts.append((np.array(cols[0], dtype=np.int64), np.array(cols[1], dtype=np.int64),
                          np.array(cols[2], dtype=np.int64), iface, ts, frames,
                          [str(text) for text in cols[5]]))
        if not parts:
            return ParseStep.empty(stop)
        columns = [cast("I64", parts[0][i]) if len(parts) == 1
                   else np.concatenate([cast("I64", part[i]) for part in parts])
                   for i in range(6)]
        start, caplen, wirelen, iface, ts_ns, frame = columns
        comment = None
        if any(part[6] is not None for part in parts):
            comment = np.empty(len(start), dtype=object)
            comment[:] = [text for part in parts
                          for text in (part[6] if part[6] is not None else [""] * len(part[0]))]
        linktypes = np.array([spec.linktype for spec in self.interfaces] or [0],
                             dtype=np.int64)
        step = ParseStep(start, caplen, wirelen, linktypes[iface], ts_ns, frame, comment, stop)
        if slow:
            order = np.argsort(frame, kind="stable")
            step = ParseStep(start[order], caplen[order], wirelen[order],
                             step.linktype[order], ts_ns[order], frame[order],
                             None if comment is None else comment[order], stop)
        return step

    def interface_texts(self) -> list[str]:
        """``interface 0: eth0``, ``interfaces 3, 5: wlan0, Wi-Fi``...: what the interfaces
        say of themselves, one line per distinct text, in order of appearance."""
        return [f"interface{'s' if len(numbers) > 1 else ''} "
                f"{', '.join(str(number) for number in numbers)}: {text}"
                for text, numbers in self._interface_numbers.items()]

    def linktypes(self) -> list[int]:
        """Distinct link types of all interfaces so far, in order of appearance."""
        return list(dict.fromkeys(spec.linktype for spec in self.interfaces))

