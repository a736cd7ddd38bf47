"""TCP options: vectorised walk over many packets' option bytes, tcpdump-style text.

The walk advances one option per step for all packets at once.  Each packet's sequence of
(kind, length) tokens is its *shape*; packets of one shape share a printf template, so the
text costs one format per packet and parsing costs a few numpy operations per step.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from tcptrace_viz.arrays import I64, U8, Bool, Obj
from tcptrace_viz.pcap import texts
from tcptrace_viz.pcap.gather import be16, be32, gather

TCPOPT_EOL: Final = 0  # end of option list
TCPOPT_NOP: Final = 1  # no operation (padding)
TCPOPT_MSS: Final = 2  # maximum segment size
TCPOPT_WSCALE: Final = 3  # window scale factor (RFC 7323)
TCPOPT_SACKOK: Final = 4  # SACK permitted (RFC 2018)
TCPOPT_SACK: Final = 5  # selective acknowledgment blocks (RFC 2018)
TCPOPT_TIMESTAMP: Final = 8  # timestamps (RFC 7323)

MAX_OPTION_BYTES: Final = 40  # the data offset field allows 60 - 20 bytes of options
OPTIONS_MIN_WIDTH: Final = 12  # option matrices are at least this wide (the fast path's size)

# Token codes in the shape matrix: kind << 8 | length for well-formed options.
_NONE: Final = -1  # walk already ended for this packet
_BAD: Final = -2  # length byte missing, < 2 or past the end of the options
_EOL_TOKEN: Final = TCPOPT_EOL << 8 | 1
_NOP_TOKEN: Final = TCPOPT_NOP << 8 | 1
NOP_NOP_TS_WORD: Final = 0x0101080A  # nop, nop, timestamp kind, length 10 (big-endian word)
_PEELS: Final = 16  # option shapes grouped by row comparison before falling back to a sort



@dataclasses.dataclass
class OptionColumns:
    """Decoded options of ``m`` packets, one entry each."""

    text: Obj
    """tcpdump-style text, e.g. ``mss 65495,sackOK,TS val 1 ecr 0,nop,wscale 7``."""
    mss: I64
    """MSS option value, -1 when absent."""
    wscale: I64
    """Window scale shift count, -1 when absent."""
    sack_ok: Bool
    """SACK-permitted option present."""
    tsval: I64
    """Timestamp value, -1 when absent."""
    tsecr: I64
    """Timestamp echo reply, -1 when absent."""


def _token_piece(token: int) -> tuple[str, int]:
    """printf piece for one token and how many numbers it consumes."""
    kind, length = token >> 8, token & 0xFF
    if token == _BAD:
        return "[bad opt]", 0
    if token == _EOL_TOKEN:
        return "eol", 0
    if token == _NOP_TOKEN:
        return "nop", 0
    if (kind, length) == (TCPOPT_MSS, 4):
        return "mss %d", 1
    if (kind, length) == (TCPOPT_WSCALE, 3):
        return "wscale %d", 1
    if (kind, length) == (TCPOPT_SACKOK, 2):
        return "sackOK", 0
    if (kind, length) == (TCPOPT_TIMESTAMP, 10):
        return "TS val %d ecr %d", 2
    if kind == TCPOPT_SACK and length >= 10 and (length - 2) % 8 == 0:
        blocks = (length - 2) // 8
        return f"sack {blocks} " + "{%d:%d}" * blocks, 2 * blocks
    return f"opt-{kind}:{length}", 0


def _token_values(mat: U8, pos: I64, token: int) -> list[I64]:
    """The numbers a token prints, read at ``pos`` (its kind byte) in each row of ``mat``."""
    kind, length = token >> 8, token & 0xFF
    _text, count = _token_piece(token)
    if not count:
        return []
    window = gather(mat.reshape(-1), pos + np.arange(len(mat), dtype=np.int64) * mat.shape[1],
                    length)
    if kind == TCPOPT_MSS:
        return [be16(window, 2)]
    if kind == TCPOPT_WSCALE:
        return [window[:, 2].astype(np.int64)]
    return [be32(window, 2 + 4 * i) for i in range(count)]


def _walk(mat: U8, optlen: I64) -> tuple[npt.NDArray[np.int32], I64]:
    """Tokens and their positions, ``(m, steps)`` each; unused steps hold ``_NONE``."""
    m, last = len(mat), mat.shape[1] - 1
    rows = np.arange(m)
    pos = np.zeros(m, dtype=np.int64)
    active = optlen > 0
    tokens: list[npt.NDArray[np.int32]] = []
    positions: list[I64] = []
    while active.any():
        safe = np.minimum(pos, last)
        kind = mat[rows, safe].astype(np.int64)
        length = mat[rows, np.minimum(safe + 1, last)].astype(np.int64)
        single = (kind == TCPOPT_EOL) | (kind == TCPOPT_NOP)
        bad = ~single & ((pos + 1 >= optlen) | (length < 2) | (pos + length > optlen))
        token = np.where(single, kind << 8 | 1, np.where(bad, _BAD, kind << 8 | length))
        token = np.where(active, token, _NONE)
        tokens.append(token.astype(np.int32))
        positions.append(pos.copy())
        pos = pos + np.where(single, 1, length)
        active = active & ~bad & (kind != TCPOPT_EOL) & (pos < optlen)
    if not tokens:
        return np.full((m, 0), _NONE, dtype=np.int32), np.zeros((m, 0), dtype=np.int64)
    return np.stack(tokens, axis=1), np.stack(positions, axis=1)


def decode_options(mat: U8, optlen: I64) -> OptionColumns:
    """Decode the option bytes of ``m`` packets.

    ``mat`` is ``(m, width)``, ``OPTIONS_MIN_WIDTH <= width <= 40``: each packet's bytes after
    the fixed TCP header; ``optlen`` how many of them are options (data offset * 4 - 20).
    Bytes past a packet's ``optlen`` are never read.
    """
    m = len(mat)
    out = OptionColumns(
        text=np.full(m, "", dtype=object), mss=np.full(m, -1, dtype=np.int64),
        wscale=np.full(m, -1, dtype=np.int64), sack_ok=np.zeros(m, dtype=np.bool_),
        tsval=np.full(m, -1, dtype=np.int64), tsecr=np.full(m, -1, dtype=np.int64))
    if not m:
        return out
    tokens, positions = _walk(mat, optlen)
    for members, shape in _group_by_shape(tokens):
        _fill_shape(out, mat[members], positions[members], members, shape)
    return out


def is_nop_nop_timestamp(optlen: I64, first_word: I64) -> Bool:
    """Options that are exactly ``nop,nop,TS``: what Linux sends on nearly every segment."""
    found: Bool = (optlen == 12) & (first_word == NOP_NOP_TS_WORD)
    return found


def timestamp_texts(tsval: I64, tsecr: I64) -> Obj:
    """``nop,nop,TS val X ecr Y`` for each pair, one string per distinct pair.

    Linux clocks TCP timestamps in milliseconds, so a busy capture repeats each pair many
    times: formatting (and storing) each distinct pair once saves time and most of the memory.
    """
    # Unsigned: a TS value of 2**31 or more must not turn the packed key negative.
    keys = tsval.astype(np.uint64) << np.uint64(32) | tsecr.astype(np.uint64)
    codes, distinct = pd.factorize(keys)  # hashing: no sort
    out: Obj = texts.timestamp_texts(distinct)[codes]
    return out


def _group_by_shape(tokens: npt.NDArray[np.int32]) -> list[tuple[I64, list[int]]]:
    """Rows sharing a token sequence, with that sequence.

    Real captures have a handful of shapes, so the commonest are peeled off with cheap row
    comparisons; a hostile file with many shapes falls back to one sort after ``_PEELS``.
    """
    groups: list[tuple[I64, list[int]]] = []
    left = np.arange(len(tokens), dtype=np.int64)
    for _ in range(_PEELS):
        if not len(left):
            return groups
        shape = tokens[left[0]]
        same = (tokens[left] == shape).all(axis=1)
        groups.append((left[same], shape.tolist()))
        left = left[~same]
    if len(left):
        shapes, inverse = np.unique(tokens[left], axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(shapes) + 1))
        groups.extend((left[order[bounds[i]:bounds[i + 1]]], shapes[i].tolist())
                      for i in range(len(shapes)))
    return groups


def _fill_shape(out: OptionColumns, mat: U8, positions: I64, members: I64,
                shape: list[int]) -> None:
    """Text and fields for the packets ``members`` that all have token sequence ``shape``."""
    pieces: list[str] = []
    values: list[I64] = []
    for step, token in enumerate(shape):
        if token == _NONE:
            break
        piece, _count = _token_piece(token)
        pieces.append(piece)
        numbers = _token_values(mat, positions[:, step], token)
        values.extend(numbers)
        kind = token >> 8
        if token == TCPOPT_MSS << 8 | 4:
            _set_first(out.mss, members, numbers[0])
        elif token == TCPOPT_WSCALE << 8 | 3:
            _set_first(out.wscale, members, numbers[0])
        elif token == TCPOPT_SACKOK << 8 | 2:
            out.sack_ok[members] = True
        elif kind == TCPOPT_TIMESTAMP and numbers:
            _set_first(out.tsval, members, numbers[0])
            _set_first(out.tsecr, members, numbers[1])
    template = ",".join(pieces)
    if not values:
        out.text[members] = template
        return
    columns = [v.tolist() for v in values]
    out.text[members] = list(map(template.__mod__, zip(*columns, strict=True)))


def _set_first(column: I64, members: I64, values: I64) -> None:
    """Set ``column[members]`` to ``values`` where no earlier option of the kind set it."""
    unset = column[members] == -1
    column[members[unset]] = values[unset]
