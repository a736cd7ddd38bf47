"""The decoded packet table's columns (shared by the decoder and the column sink)."""

from __future__ import annotations

from typing import Final

#: Columns of the decoded table, in order, with their dtypes.  Those shared with
#: ``model.PACKET_COLUMNS`` have its dtypes; the decoder's own are only as wide as their
#: values (-1: option absent), which saves a tenth of the table's memory.
DECODED_COLUMNS: Final[dict[str, str]] = {
    "ts_ns": "int64", "frame": "int64", "src": "object", "sport": "int64", "dst": "object",
    "dport": "int64", "flags": "object", "flag_bits": "uint8", "seq": "int64", "ack": "int64",
    "len": "int64", "win": "int64", "options": "object", "mss": "int32", "wscale": "int16",
    "sack_ok": "bool", "tsval": "int64", "tsecr": "int64", "payload": "object",
    "comment": "object", "ip_version": "int8",
    "tunnel": "object",  # VLAN ids and tunnels the segment came through ("" for none)
}
