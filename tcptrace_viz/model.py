"""The Trace: the one data contract between capture, reading, analysis and rendering.

A Trace is three pandas DataFrames on one clock plus its metadata (:class:`TraceMeta`):

- ``packets``: one row per TCP segment, each segment exactly once.
- ``states``: kernel TCP state changes (traced, read from the socket table, sampled or inferred).
- ``syscalls``: what each system call of a scenario returned.

All times are integer nanoseconds since the Unix epoch (``ts_ns``, CLOCK_REALTIME) plus ``t``,
seconds since the trace's first event, for display.  ``Trace.timeline()`` merges the three into
the single ordered table that reports show and ladders draw.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from tcptrace_viz.meta import TraceMeta
from tcptrace_viz.vocabulary import sender
from tcptrace_viz.whole_capture import WholeCapture

# --- Column schemas -------------------------------------------------------------------------------
PACKET_COLUMNS: Final[dict[str, str]] = {
    "ts_ns": "int64",  # capture timestamp, ns since the epoch
    "t": "float64",  # seconds since the trace's first event
    "frame": "int64",  # 1-based frame number in the capture file
    "conn": "int64",  # connection index (both directions of a 4-tuple), 0-based
    "src": "object",  # source address, text
    "sport": "int64",
    "dst": "object",
    "dport": "int64",
    "dir": "object",  # "c2s", "s2c" or "" when the roles are unknown
    "flags": "object",  # tcpdump letters: "S", "S.", ".", "P.", "F.", "R", "R."
    "seq": "int64",  # raw sequence number
    "ack": "int64",  # raw acknowledgment number (0 when ACK is not set)
    "rel_seq": "int64",  # sequence number relative to the sender's ISN
    "rel_ack": "int64",  # acknowledgment relative to the peer's ISN (0 when ACK is not set)
    "len": "int64",  # TCP payload length
    "win": "int64",  # raw window field (unscaled, as tcpdump prints it)
    "options": "object",  # decoded TCP options, tcpdump style: "mss 65495,sackOK,TS val 1 ecr 0"
    "payload": "object",  # printable preview of the first payload bytes (untrusted text)
    "comment": "object",  # pcapng packet comment (untrusted text)
    "reason": "object",  # for an RST the kernel sent: its reason (tcp:tcp_send_reset), else ""
    "tunnel": "object",  # VLAN ids / tunnel (name, outer addresses) it came through, or ""
    "drop": "object",  # the receiving kernel dropped it: its reason (skb:kfree_skb), else ""
}

STATE_COLUMNS: Final[dict[str, str]] = {
    "ts_ns": "int64",
    "t": "float64",
    "side": "object",  # "client" or "server" (or "" when the socket is not one of the run's)
    "local": "object",  # "addr:port" of the socket that changed state
    "remote": "object",
    "old": "object",  # TCP state name, e.g. "ESTABLISHED"
    "new": "object",
    "source": "object",  # one of STATE_SOURCES
    "reason": "object",  # e.g. the kernel's RST reason "TCP_ABORT_ON_LINGER", else ""
}

SYSCALL_COLUMNS: Final[dict[str, str]] = {
    "ts_ns": "int64",  # when the call started (its result is known at ts_ns + duration_ns)
    "t": "float64",
    "side": "object",
    "call": "object",  # "send", "close", "poll", ...
    "args": "object",  # short text: "b'123', MSG_NOSIGNAL"
    "ret": "object",  # text of the return value ("3", "0", "POLLIN|POLLRDHUP"), "" on error
    "errno": "object",  # errno name ("EPIPE"), "" on success
    "signal": "object",  # signal that hit the caller ("SIGPIPE"), ""
    "signal_action": "object",  # what it did: "killed", "handled", "ignored", "" not known
    "duration_ns": "int64",
    "pid": "int64",  # the calling process (tcptrace-viz run), 0 for a scenario's own step
    "comm": "object",  # its command name, as the kernel keeps it ("curl"), ""
    "local": "object",  # the socket's own endpoint ("127.0.0.1:5555"), "" when not known
    "remote": "object",  # its peer's; "" for a listener, an unconnected socket, or unknown
}

_TEXT_DEFAULT: Final = ""


def empty_frame(columns: Mapping[str, str]) -> pd.DataFrame:
    """Return an empty DataFrame with the given column schema."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def conform(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """Return ``frame`` with exactly the schema's columns, in order and with its dtypes.

    Missing text columns become ``""`` and missing integer columns ``0``, so every producer
    hands on the same shape.  Extra columns are dropped.
    """
    data: dict[str, pd.Series[Any]] = {}
    index = pd.RangeIndex(len(frame))
    for name, dtype in columns.items():
        if name in frame.columns:
            data[name] = _taken(frame[name], dtype, index)
            continue
        values = (np.full(len(frame), _TEXT_DEFAULT, dtype=object) if dtype == "object"
                  else np.zeros(len(frame), dtype=dtype))
        data[name] = pd.Series(values, index=index, dtype=dtype, copy=False)
    # copy=False: the columns are not stacked into blocks (a million rows of packets would
    # otherwise be held twice while the frame is built).
    return pd.DataFrame(data, index=index, columns=list(columns), copy=False)


_LAZY_COPIES: Final = int(pd.__version__.split(".", 1)[0]) >= 3
"""pandas 3 copies on write: a column taken from the caller's frame is copied only when the
caller or the Trace writes to it.  Older pandas shares the array, so it is copied at once."""


def _taken(column: pd.Series[Any], dtype: str, index: pd.RangeIndex) -> pd.Series[Any]:
    """A column of the caller's frame in the schema's dtype, never sharing writes with it."""
    if dtype == "object":  # (a Series of explicit dtype: pandas 3 would infer "str")
        values = column.to_numpy()
        text = _as_text(values)
        if text is not values:  # converted: a new array already
            return pd.Series(text, index=index, dtype=object, copy=False)
        if _LAZY_COPIES and column.dtype == object:
            return column.set_axis(index)
        return pd.Series(values, index=index, dtype=object, copy=True)
    if _LAZY_COPIES:
        return column.set_axis(index).astype(dtype)  # type: ignore[call-overload,no-any-return]
    return pd.Series(column.to_numpy(), index=index,  # type: ignore[call-overload,no-any-return]
                     copy=True).astype(dtype)


def _as_text(values: np.ndarray) -> np.ndarray:
    """``values`` as an object array of str (missing values become ``""``)."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) in (
            "string", "empty"):
        return values  # already all str: a C-speed check instead of a conversion
    text: np.ndarray = pd.Series(values, dtype=object).fillna(_TEXT_DEFAULT).astype(
        str).astype(object).to_numpy()
    return text


def _time_origin(*frames: pd.DataFrame) -> int:
    starts = [int(frame["ts_ns"].min()) for frame in frames if len(frame)]
    return min(starts) if starts else 0


@dataclasses.dataclass(eq=False, repr=False)
class Trace:
    """Packets, kernel states and syscall results of one capture, on one clock.

    Two traces are equal (``==``) when they hold the same rows and the same metadata.
    """

    packets: pd.DataFrame
    """One row per TCP segment (see ``PACKET_COLUMNS``)."""
    states: pd.DataFrame
    """Kernel TCP state changes (see ``STATE_COLUMNS``)."""
    syscalls: pd.DataFrame
    """System call results (see ``SYSCALL_COLUMNS``)."""
    meta: TraceMeta = dataclasses.field(default_factory=TraceMeta)
    """Scenario or file, how it was seen (kernel, sysctls, clocks, counters), the verdict."""
    whole: WholeCapture | None = None
    """Set when ``packets`` holds only some connections of a capture: what it knows of all."""

    @classmethod
    def build(cls, packets: pd.DataFrame | None = None, states: pd.DataFrame | None = None,
              syscalls: pd.DataFrame | None = None,
              meta: TraceMeta | Mapping[str, Any] | None = None) -> Trace:
        """Make a Trace from partial frames: conform the schemas, sort by time, fill ``t``."""
        frames = []
        for frame, columns in ((packets, PACKET_COLUMNS), (states, STATE_COLUMNS),
                               (syscalls, SYSCALL_COLUMNS)):
            if frame is None:
                frames.append(empty_frame(columns))
                continue
            shaped = conform(frame, columns)
            ts_ns = shaped["ts_ns"].to_numpy()
            if not (ts_ns[1:] >= ts_ns[:-1]).all():  # captures are nearly always in order
                shaped = shaped.sort_values("ts_ns", kind="stable").reset_index(drop=True)
            frames.append(shaped)
        origin = _time_origin(*frames)
        for frame in frames:
            frame["t"] = (frame["ts_ns"] - origin).astype("float64") / 1e9
        meta = (copy.deepcopy(meta) if isinstance(meta, TraceMeta)
                else TraceMeta.from_json(meta or {}))
        return cls(frames[0], frames[1], frames[2], meta)

    @property
    def origin_ns(self) -> int:
        """The time of the first event, which ``t`` counts from (of the whole capture)."""
        return self.whole.origin_ns if self.whole is not None else _time_origin(
            self.packets, self.states, self.syscalls)

    @property
    def sides(self) -> list[str]:
        """The two lifelines, left to right (``meta.sides``: client and server by default)."""
        return list(self.meta.sides)

    def injected_packets(self) -> set[int]:
        """Rows of :attr:`packets` a scenario sent by hand (``ctx.inject``): for each
        successful ``inject`` call (its args begin with the segment's flags, ``[.]``), the
        first segment with those flags captured while the call ran, from its side."""
        calls = self.syscalls
        if not len(calls) or not len(self.packets) or not (calls["call"] == "inject").any():
            return set()
        ts = self.packets["ts_ns"].to_numpy()
        flags = self.packets["flags"].astype(str).to_numpy()
        direction = self.packets["dir"].astype(str).to_numpy()
        lanes = dict(zip(self.sides, ("c2s", "s2c"), strict=False))
        found: set[int] = set()
        chosen = calls[(calls["call"] == "inject") & (calls["errno"] == "")]
        for start, took, side, args in zip(chosen["ts_ns"].to_numpy(dtype=np.int64),
                                           chosen["duration_ns"].to_numpy(dtype=np.int64),
                                           chosen["side"].astype(str), chosen["args"].astype(str),
                                           strict=True):
            wanted = args.split("]", 1)[0].lstrip("[")
            within = (ts >= start) & (ts <= start + max(int(took), 0)) & (flags == wanted)
            for row in np.flatnonzero(within):
                if int(row) not in found and direction[row] in (lanes.get(side), ""):
                    found.add(int(row))
                    break
        return found

    def sides_without_socket(self) -> set[str]:
        """Sides that had no socket: none of their states was traced, and the kernel answered
        for them with an RST of reason ``NO_SOCKET`` (a SYN to a port nobody listens on)."""
        packets = self.packets
        if not len(packets) or self.meta.state_source != "tracepoint":
            return set()
        found = set()
        for side, direction in zip(self.sides, ("c2s", "s2c"), strict=True):
            answered = (packets["dir"] == direction) & (packets["reason"] == "NO_SOCKET")
            if answered.any() and not (self.states["side"] == side).any():
                found.add(side)
        return found

    def timeline(self, limit: int | None = None) -> pd.DataFrame:
        """Merge packets, states and syscalls into one table ordered by time.

        Columns: ``ts_ns, t, kind`` (``packet``/``state``/``syscall``/``call``), ``side`` (the
        sender for packets), ``text`` (a one-line description) and ``row`` (index in the source
        table).  A syscall sits where it *returned*, with its result; when a packet or a state
        change happened while it ran, a ``call`` row also marks where it started.  Events at the
        same nanosecond keep the order call start, packet, state, syscall.  ``limit`` keeps the
        first rows only (only those are described); :meth:`timeline_length` counts them all.
        """
        parts: list[pd.DataFrame] = []
        for kind, frame in (("packet", self.packets), ("state", self.states)):
            if len(frame):
                parts.append(pd.DataFrame({"ts_ns": frame["ts_ns"].to_numpy(), "kind": kind,
                                           "row": np.arange(len(frame))}))
        if len(self.syscalls):
            start, end, spans = self._call_moments()
            parts.append(pd.DataFrame({"ts_ns": end, "kind": "syscall",
                                       "row": np.arange(len(self.syscalls))}))
            if spans.any():
                where = np.flatnonzero(spans)
                parts.append(pd.DataFrame({"ts_ns": start[where], "kind": "call", "row": where}))
        if not parts:
            return pd.DataFrame({"ts_ns": pd.Series(dtype="int64"), "t": pd.Series(dtype="float64"),
                                 "kind": pd.Series(dtype=object), "side": pd.Series(dtype=object),
                                 "text": pd.Series(dtype=object), "row": pd.Series(dtype="int64")})
        merged = pd.concat(parts, ignore_index=True)
        order = {"call": 0, "packet": 1, "state": 2, "syscall": 3}
        merged["_kind_order"] = merged["kind"].map(order)
        merged = merged.sort_values(["ts_ns", "_kind_order", "row"], kind="stable")
        merged = merged.drop(columns="_kind_order").reset_index(drop=True)
        if limit is not None:
            merged = merged.head(max(limit, 0)).copy()
        merged.insert(1, "t", (merged["ts_ns"] - self.origin_ns).astype("float64") / 1e9)
        sides, texts = self._describe(merged["kind"].to_numpy(), merged["row"].to_numpy())
        # as an inferred column of strings would be, also when no row is kept
        merged.insert(3, "side", pd.Series(sides, index=merged.index, dtype="str"))
        merged.insert(4, "text", pd.Series(texts, index=merged.index, dtype="str"))
        return merged[["ts_ns", "t", "kind", "side", "text", "row"]]

    def timeline_length(self) -> int:
        """How many rows :meth:`timeline` has without a limit."""
        starts = int(self._call_moments()[2].sum()) if len(self.syscalls) else 0
        return len(self.packets) + len(self.states) + len(self.syscalls) + starts

    def _call_moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return call_moments(self.syscalls, self.packets["ts_ns"].to_numpy(),
                            self.states["ts_ns"].to_numpy())

    def _describe(self, kinds: np.ndarray, rows: np.ndarray) -> tuple[list[str], list[str]]:
        """The ``side`` and ``text`` of the timeline rows given by kind and source row."""
        from tcptrace_viz.event_text import (
            describe_call_start,
            describe_packet,
            describe_state,
            describe_syscall,
        )

        injected = self.injected_packets()
        sides = [""] * len(kinds)
        texts = [""] * len(kinds)
        for kind, frame, describe in (("packet", self.packets, describe_packet),
                                      ("state", self.states, describe_state),
                                      ("syscall", self.syscalls, describe_syscall),
                                      ("call", self.syscalls, describe_call_start)):
            where = np.flatnonzero(kinds == kind)
            if not len(where):
                continue
            picked = frame.iloc[rows[where]].itertuples(index=False)
            for place, row in zip(where, picked, strict=True):
                sides[place] = (sender(str(row.dir), self.sides, row.src, row.sport)
                                if kind == "packet" else str(row.side))
                texts[place] = (describe_packet(row, int(rows[place]) in injected)
                                if kind == "packet" else describe(row))
        return sides, texts

    def equals(self, other: Trace) -> bool:
        """True when both traces hold the same packets, states, syscalls and metadata."""
        return (self.packets.equals(other.packets) and self.states.equals(other.states)
                and self.syscalls.equals(other.syscalls) and self.meta == other.meta)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trace) and self.equals(other)

    __hash__ = None  # type: ignore[assignment]  # mutable: DataFrames and metadata change

    def __repr__(self) -> str:
        meta = self.meta
        name = meta.display_name
        verdict = f", verdict {meta.verdict}" if meta.verdict else ""
        conns = int(self.packets["conn"].nunique()) if len(self.packets) else 0
        return (f"<{type(self).__name__} {name!r}: {len(self.packets)} packets in {conns} "
                f"connection{'s' if conns != 1 else ''}, {len(self.states)} states "
                f"({meta.state_source or 'no source'}), {len(self.syscalls)} syscalls{verdict}>")


def call_moments(syscalls: pd.DataFrame, *event_ns: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """When each call started and returned, and whether it spans other events.

    Returns ``(start_ns, return_ns, spans)``, one entry per row of ``syscalls``: ``spans`` is
    True when one of ``event_ns`` (packet or state times) falls strictly inside the call, so its
    start must be shown apart from its result (``connect()`` waits for the SYN-ACK; ``close()``
    sends the FIN before it returns).
    """
    start = syscalls["ts_ns"].to_numpy(dtype=np.int64)
    end = start + np.maximum(syscalls["duration_ns"].to_numpy(dtype=np.int64), 0)
    others = np.sort(np.concatenate([np.asarray(ns, dtype=np.int64) for ns in event_ns]
                                    or [np.zeros(0, dtype=np.int64)]))
    inside = np.searchsorted(others, end, side="left") - np.searchsorted(others, start,
                                                                        side="right")
    return start, end, inside > 0

