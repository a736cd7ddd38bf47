"""The Trace's own document inside its pcapng: custom options of the section header.

A capture's ``trace.json`` (states with their source, RST reasons, syscalls, scenario,
verdict...) travels inside ``trace.pcapng`` too, so the file alone, renamed or downloaded from
a report, gives back the whole Trace.

Where (draft-ietf-opsawg-pcapng, "Custom Options"): options of code 19373, binary custom
data that a rewriting tool must *not* copy, in the section header block.  Not a Custom Block:
Wireshark lists a Custom Block as a frame of its own, which would shift every frame number it
shows by one against the reports'.  Not copyable: the document names frames by number, so a
filtered, merged or reordered copy would no longer match it; such a copy reads as any file.
An option holds at most 65535 bytes, so the document is split over as many as it needs, each
value being the Private Enterprise Number, :data:`MAGIC`, the format's major and minor version
(16 bits each), the whole document's length (32 bits) and the next piece of the UTF-8 JSON.
Numbers are in the section's byte order, like every pcapng field.

The PEN is 32473, which RFC 5612 sets aside for examples and documentation: the project has
none of its own.  Others may use 32473 too, so :data:`MAGIC` after it is what says the option
is ours; one with that PEN and another magic is skipped.

Only the first section header is read, so finding the document costs one read whatever the
file's size.  Everything in it is untrusted: lengths are checked against :data:`MAX_DOCUMENT`
and each other, the JSON must parse to an object, and damage gives one sentence instead of a
document.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from typing import Any, Final

from tcptrace_viz.pcap.pcapng import iter_options
from tcptrace_viz.pcap.walk import MAX_BLOCK

OPT_CUSTOM_BINARY_NO_COPY: Final = 19373  # custom option, binary, not to be copied
PEN_DOCUMENTATION: Final = 32473  # RFC 5612: the PEN for examples and documentation
MAGIC: Final = b"tcptrace-viz-trace\0\0"  # 20 bytes: says the option is this project's
FORMAT_MAJOR: Final = 1  # a reader refuses a newer major version (the layout changed)
FORMAT_MINOR: Final = 0  # added fields only: any reader of the same major reads it
_HEADER: Final = 4 + len(MAGIC) + 2 + 2 + 4  # PEN, magic, major, minor, document length
_OPTION_VALUE: Final = 0xFFFC  # the longest option value (16-bit length, 4-byte padding)
_PIECE: Final = _OPTION_VALUE - _HEADER  # document bytes per option
MAX_DOCUMENT: Final = (MAX_BLOCK - 1024) // (4 + _OPTION_VALUE) * _PIECE
"""The longest document a section header holds: the packet reader takes a longer block as
damage (1 KiB is left for the header's other options)."""
_SHB: Final = b"\x0a\x0d\x0d\x0a"


@dataclasses.dataclass(frozen=True)
class FoundDocument:
    """What a pcapng file's first section header held of this project's."""

    document: dict[str, Any] | None = None
    """The Trace's JSON document, parsed but not yet validated (None: none usable)."""
    problem: str = ""
    """"" or one sentence: why this project's options could not be used."""


def trace_options(document: bytes) -> list[bytes]:
    """The section header options holding ``document`` (UTF-8 JSON), in the host's byte
    order; none when it is too long for one header (the capture folder still has it)."""
    if len(document) > MAX_DOCUMENT:
        return []
    head = struct.pack("=I", PEN_DOCUMENTATION) + MAGIC + struct.pack(
        "=HHI", FORMAT_MAJOR, FORMAT_MINOR, len(document))
    options = []
    for at in range(0, len(document), _PIECE):
        value = head + document[at:at + _PIECE]
        options.append(struct.pack("=HH", OPT_CUSTOM_BINARY_NO_COPY, len(value)) + value
                       + b"\0" * (-len(value) % 4))
    return options


def find_trace_document(path: str | os.PathLike[str]) -> FoundDocument:
    """The document in the custom options of the file's first section header.

    Never raises on the file's content: damaged, hostile or newer-version options give
    ``FoundDocument(None, sentence)``; a file without them gives ``FoundDocument()``.
    """
    try:
        with open(path, "rb") as stream:
            head = stream.read(12)
            if len(head) < 12 or head[:4] != _SHB:
                return FoundDocument()
            order = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}.get(head[8:12])
            if order is None:
                return FoundDocument()
            size = struct.unpack(order + "I", head[4:8])[0]
            if size < 28 or size % 4 or size > MAX_BLOCK:
                return FoundDocument()
            body = head + stream.read(size - 12)
    except OSError:
        return FoundDocument()  # the packet reader says what is wrong with the file itself
    if len(body) < size:
        return FoundDocument()
    return _document(body[24:-4], order)


def _document(options: bytes, order: str) -> FoundDocument:
    """This project's document in a section header's ``options``."""
    pieces: list[bytes] = []
    versions: set[tuple[int, int, int]] = set()
    for code, value in iter_options(options, order == "<"):
        if code != OPT_CUSTOM_BINARY_NO_COPY or len(value) < _HEADER:
            continue
        if struct.unpack_from(order + "I", value, 0)[0] != PEN_DOCUMENTATION \
                or value[4:4 + len(MAGIC)] != MAGIC:
            continue
        versions.add(struct.unpack_from(order + "HHI", value, 4 + len(MAGIC)))
        pieces.append(value[_HEADER:])
    if not pieces:
        return FoundDocument()
    where = "the tcptrace-viz trace document in its section header"
    fallback = "only the packets are shown, their states inferred"
    major, minor, length = max(versions)
    if major > FORMAT_MAJOR:
        return FoundDocument(problem=(
            f"{where} is format {major}.{minor}, newer than this version reads "
            f"({FORMAT_MAJOR}.x); {fallback}"))
    text = b"".join(pieces)
    if len(versions) != 1 or len(text) != length:
        return FoundDocument(problem=f"{where} is damaged (its pieces do not agree); {fallback}")
    try:
        document = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return FoundDocument(problem=f"{where} is damaged ({reason}); {fallback}")
    if not isinstance(document, dict):
        return FoundDocument(problem=f"{where} holds no JSON object; {fallback}")
    return FoundDocument(document=document)
