"""Recognise capture files by their first bytes, and parse the classic pcap file header.

Only the file's first bytes are looked at here; the record walkers are in ``pcapfile`` and
``pcapng``.  gzip, zstd and lz4 files are decompressed as they are read (``compressed``), so
``detect_format`` sees their contents; a compression met there (xz, bzip2, or one inside
another) is recognised and refused.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Final

from tcptrace_viz.errors import BadInputError

PCAP_MAGIC_US: Final = 0xA1B2C3D4  # classic pcap, microsecond timestamps
PCAP_MAGIC_NS: Final = 0xA1B23C4D  # classic pcap, nanosecond timestamps
PCAP_MAGIC_MODIFIED: Final = 0xA1B2CD34  # Kuznetzov's "modified" pcap (24-byte records)
PCAPNG_SHB_MAGIC: Final = b"\x0a\x0d\x0d\x0a"  # pcapng files start with a section header block
PCAP_HEADER_LEN: Final = 24  # classic pcap file header
PCAP_RECORD_HEADER_LEN: Final = 16  # classic pcap per-record header
MAX_CAPLEN: Final = 262144  # largest captured length accepted (tcpdump's and Wireshark's limit)
TRUSTED_SNAPLEN_MIN: Final = 65536  # smaller snaplens are often wrong: scapy, dpkt exceed them

_COMPRESSED: Final = (
    (b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"), (b"\x04\x22\x4d\x18", "lz4"),
)


@dataclasses.dataclass(frozen=True)
class PcapHeader:
    """The classic pcap file header."""

    little_endian: bool
    """Byte order of every header field in the file."""
    nanoseconds: bool
    """Record timestamps carry nanoseconds (else microseconds)."""
    snaplen: int
    """Snapshot length the writer claims."""
    linktype: int
    """Link type of every record (the low 16 bits of the header field)."""

    @property
    def caplen_limit(self) -> int:
        """Largest believable captured length.

        A snaplen of 64 KiB or more is taken at its word; smaller ones are ignored because
        common writers (scapy: 65535, dpkt: 1500) put larger records in such files.
        """
        if TRUSTED_SNAPLEN_MIN <= self.snaplen < MAX_CAPLEN:
            return self.snaplen
        return MAX_CAPLEN


def detect_format(head: bytes, name: str) -> str:
    """Return ``"pcap"`` or ``"pcapng"`` for a file starting with ``head``.

    Raises ``BadInputError`` for an empty file, a compressed one, or anything else.
    """
    if not head:
        raise BadInputError(f"{name} is empty (0 bytes): it holds no capture.")
    for magic, tool in _COMPRESSED:
        if head.startswith(magic):
            raise BadInputError(f"{name} is compressed with {tool}; decompress it first.")
    if head.startswith(PCAPNG_SHB_MAGIC):
        return "pcapng"
    if len(head) >= 4:
        for order in "<>":
            magic = struct.unpack(order + "I", head[:4])[0]
            if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
                return "pcap"
            if magic == PCAP_MAGIC_MODIFIED:
                raise BadInputError(f"{name} is a \"modified\" (Kuznetzov) pcap file, which "
                                    "tcptrace-viz does not read; convert it with "
                                    "'editcap -F pcap' first.")
    shown = head[:4].hex()
    raise BadInputError(f"{name} is not a pcap or pcapng file (it starts with bytes 0x{shown}, "
                        "not a capture file's magic number).")


def parse_pcap_header(head: bytes, name: str) -> PcapHeader:
    """Parse the 24-byte classic pcap header at the start of ``head``."""
    if len(head) < PCAP_HEADER_LEN:
        raise BadInputError(f"{name} is truncated: it ends inside the pcap file header "
                            f"(byte offset {len(head)} of {PCAP_HEADER_LEN}).")
    little = struct.unpack("<I", head[:4])[0] in (PCAP_MAGIC_US, PCAP_MAGIC_NS)
    order = "<" if little else ">"
    magic, major, minor, _zone, _sigfigs, snaplen, linkfield = struct.unpack(
        order + "IHHiIII", head[:PCAP_HEADER_LEN])
    if major != 2:  # as libpcap and Wireshark: 1 is archaic, others unknown
        raise BadInputError(f"{name} is a pcap file of version {major}.{minor}, which "
                            "tcptrace-viz does not read (only version 2.x exists today).")
    if linkfield & 0x03FF0000:  # as libpcap and Wireshark: these bits must be zero
        raise BadInputError(f"{name} has a pcap header whose reserved link-type bits are not "
                            f"zero (0x{linkfield & 0x03FF0000:08x}): it is damaged.")
    return PcapHeader(little_endian=little, nanoseconds=magic == PCAP_MAGIC_NS,
                      snaplen=snaplen, linktype=linkfield & 0xFFFF)
