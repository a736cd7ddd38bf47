"""Words every layer writes the same way: endpoints, who sent a segment, and how long.

An endpoint is ``127.0.0.1:5555`` or ``[fd00::1]:5555`` (brackets keep an IPv6 address apart
from its port; an IPv4-mapped IPv6 address is written as the IPv4 address it carries), in the
ladder, the tables, the socket table, the syscall log and the Trace's metadata alike.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any, Final

_UNITS: Final = ((1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s"), (60.0, "min"), (3600.0, "h"))
"""Units of a duration, smallest first, with their size in seconds."""
FLAG_NAMES: Final = {"S": "SYN", "F": "FIN", "R": "RST", "P": "PSH", ".": "ACK"}
"""tcpdump's flag letters, named."""


def counted(count: int, word: str) -> str:
    """``1 connection``, ``1,512 connections``: a count and its noun, plural by ``s``."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def endpoint(address: object, port: object) -> str:
    """``127.0.0.1:5555``, ``[fd00::1]:5555``; IPv4-mapped IPv6 written as IPv4."""
    return f"{_host_text(str(address))}:{port}"


@functools.lru_cache(maxsize=65536)  # a capture's addresses repeat: parse each once
def _host_text(address: str) -> str:
    """The address part of an endpoint: IPv6 in brackets, IPv4-mapped IPv6 as IPv4."""
    text = address.strip("[]")
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return f"[{text}]" if ":" in text else text
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return f"[{parsed}]"
    return str(parsed)


def socket_endpoint(address: Any) -> str:
    """A Python socket address (``("127.0.0.1", 5555)``, an IPv6 4-tuple) as an endpoint."""
    if isinstance(address, tuple) and len(address) >= 2:
        return endpoint(address[0], address[1])
    return str(address)


def host_of(text: str) -> str:
    """The address part of an endpoint: ``[fd00::1]:5555`` -> ``fd00::1``."""
    return text.rsplit(":", 1)[0].strip("[]")


def sender(direction: str, sides: tuple[str, str] | list[str], src: object = "",
           sport: object = "") -> str:
    """Who sent a segment: the first side for ``c2s``, the second for ``s2c``, else its
    source endpoint (the roles are unknown)."""
    if direction == "c2s":
        return sides[0]
    if direction == "s2c":
        return sides[1]
    return endpoint(src, sport)


def direction_text(direction: str, sides: tuple[str, str] | list[str] = ("client", "server")
                   ) -> str:
    """``c2s`` as people say it: ``client→server`` (``s2c``: ``server→client``)."""
    if direction == "c2s":
        return f"{sides[0]}→{sides[1]}"
    if direction == "s2c":
        return f"{sides[1]}→{sides[0]}"
    if direction == "*":
        return "either way:"
    return direction


def flags_text(pattern: str) -> str:
    """A flags pattern of an expectation as people read it: exact flags stay tcpdump's letters
    (``F.``), a wildcard one is named: ``R*`` is ``RST (with any other flags)``."""
    fixed = pattern.rstrip("*")
    if pattern == fixed or any(ch not in FLAG_NAMES for ch in fixed):
        return pattern
    if not fixed:
        return "any segment"
    return "+".join(FLAG_NAMES[ch] for ch in fixed) + " (with any other flags)"


def segment_text(pattern: str, sides: tuple[str, str] | list[str] = ("client", "server")
                 ) -> str:
    """``"c2s R*"`` as ``client→server RST (with any other flags)``, ``"s2c F."`` as
    ``server→client F.``."""
    direction, _, flags = pattern.partition(" ")
    return f"{direction_text(direction, sides)} {flags_text(flags)}".strip()


def duration_text(seconds: float) -> str:
    """A duration in the unit that reads best, three significant digits at most: ``12 µs``
    (not ``1.2e-05``), ``250 µs``, ``1.5 s``, ``2.5 min``; ``0 s`` for none, ``""`` for NaN."""
    if not seconds > 0:
        return "0 s" if seconds == 0 else ""
    index = max([i for i, (size, _) in enumerate(_UNITS) if seconds >= size * (1 - 1e-9)]
                + [0])
    value = float(f"{seconds / _UNITS[index][0]:.3g}")
    if index + 1 < len(_UNITS) and value * _UNITS[index][0] >= _UNITS[index + 1][0] * (1 - 1e-9):
        index += 1  # 999.95 ms rounds to 1000 ms: say 1 s
        value = float(f"{seconds / _UNITS[index][0]:.3g}")
    return f"{value:g} {_UNITS[index][1]}"
