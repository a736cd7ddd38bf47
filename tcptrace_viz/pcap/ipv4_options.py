"""IPv4 header options that Wireshark calls malformed, found for all rows at once.

Wireshark decodes an option's fields past its length byte when the option has a fixed layout
(Security, Stream ID, Router Alert...): such an option shorter than its layout raises an
exception there, and the packet is "Malformed" (its TCP is not decoded).  Options that only
run past the header end or claim a length under 2 get a warning and end the walk, as here.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from tcptrace_viz.arrays import I64, U8, Bool
from tcptrace_viz.pcap.gather import gather

IPV4_OPTIONS_MAX: Final = 40  # bytes of options an IPv4 header can hold
_EOL: Final = 0  # end of option list
_NOP: Final = 1  # no operation
#: Options Wireshark dissects field by field, with the length their fields need.
_FIXED_LENGTH: Final[dict[int, int]] = {
    130: 11,  # Security (RFC 1108)
    136: 4,  # Stream ID
    148: 4,  # Router Alert
    11: 4,  # MTU Probe
    12: 4,  # MTU Reply
    82: 12,  # Traceroute
    25: 8,  # Quick-Start
}
_NEEDED: Final = np.zeros(256, dtype=np.int64)
for _kind, _length in _FIXED_LENGTH.items():
    _NEEDED[_kind] = _length


def malformed_ipv4_options(buf: U8, l3: I64, ihl: I64) -> Bool:
    """Rows whose IPv4 options (``ihl - 20`` bytes after ``l3 + 20``) hold an option too
    short for its fixed layout."""
    bad = np.zeros(len(l3), dtype=np.bool_)
    rows = np.flatnonzero(ihl > 20)
    if not len(rows):
        return bad
    options = gather(buf, l3[rows] + 20, IPV4_OPTIONS_MAX + 2).astype(np.int64)
    size = ihl[rows] - 20
    pos = np.zeros(len(rows), dtype=np.int64)
    walking = np.ones(len(rows), dtype=np.bool_)
    found = np.zeros(len(rows), dtype=np.bool_)
    index = np.arange(len(rows))
    for _ in range(IPV4_OPTIONS_MAX):
        walking &= pos < size
        if not walking.any():
            break
        kind = options[index, np.minimum(pos, IPV4_OPTIONS_MAX)]
        walking &= kind != _EOL
        single = kind == _NOP
        length = options[index, np.minimum(pos + 1, IPV4_OPTIONS_MAX + 1)]
        sane = (pos + 1 < size) & (length >= 2) & (pos + length <= size)
        found |= walking & ~single & sane & (length < _NEEDED[kind])
        walking &= single | sane
        pos += np.where(single, 1, np.maximum(length, 1))
    bad[rows] = found
    return bad
