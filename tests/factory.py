"""Build realistic Traces in one call, so most tests need neither root nor a capture.

``make_trace()`` returns the ``close-then-write`` story as Linux tells it: handshake, the
client's close() (FIN), the server's first send() = 3 (PSH), the client's RST, the server's
second send() -> EPIPE.  Keyword arguments replace pieces for other stories.

The other stories as Traces (``linger0()``, ``pipe()``, ``long_trace()``, ...) are at the bottom,
collected in ``SCENARIOS``.  Wire-level builders (bytes, decoded frames) are in ``builders``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from tcptrace_viz.model import Trace

T0 = 1_764_000_000_000_000_000  # 2025-11-24, a fixed origin so tests are reproducible
CLIENT = ("127.0.0.1", 40000)
SERVER = ("127.0.0.1", 5555)
ISN_C = 1000
ISN_S = 5000


def pkt(us: float, sender: str, flags: str, seq: int, ack: int, length: int = 0,
        win: int = 512, payload: str = "", comment: str = "", options: str = "",
        reason: str = "") -> dict[str, Any]:
    """One packet row; ``seq``/``ack`` are relative, ``sender`` is "client" or "server"."""
    client_sends = sender == "client"
    src, dst = (CLIENT, SERVER) if client_sends else (SERVER, CLIENT)
    isn_self, isn_peer = (ISN_C, ISN_S) if client_sends else (ISN_S, ISN_C)
    has_ack = "." in flags
    return {
        "ts_ns": T0 + int(us * 1000), "conn": 0, "src": src[0], "sport": src[1],
        "dst": dst[0], "dport": dst[1], "dir": "c2s" if client_sends else "s2c",
        "flags": flags, "seq": isn_self + seq, "ack": isn_peer + ack if has_ack else 0,
        "rel_seq": seq, "rel_ack": ack if has_ack else 0, "len": length, "win": win,
        "options": options, "payload": payload, "comment": comment, "reason": reason,
    }


def state(us: float, side: str, old: str, new: str, source: str = "tracepoint",
          reason: str = "") -> dict[str, Any]:
    """One state-change row."""
    local, remote = (CLIENT, SERVER) if side == "client" else (SERVER, CLIENT)
    return {"ts_ns": T0 + int(us * 1000), "side": side, "local": f"{local[0]}:{local[1]}",
            "remote": f"{remote[0]}:{remote[1]}", "old": old, "new": new, "source": source,
            "reason": reason}


def call(us: float, side: str, name: str, args: str = "", ret: str = "", errno: str = "",
         signal: str = "", duration_us: float = 5) -> dict[str, Any]:
    """One syscall row."""
    return {"ts_ns": T0 + int(us * 1000), "side": side, "call": name, "args": args, "ret": ret,
            "errno": errno, "signal": signal, "duration_ns": int(duration_us * 1000)}


def close_then_write_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                     list[dict[str, Any]]]:
    """Packets, states and syscalls of ``close-then-write`` on Linux."""
    packets = [
        pkt(0, "client", "S", 0, 0, options="mss 65495,sackOK,TS val 1 ecr 0,nop,wscale 7"),
        pkt(10, "server", "S.", 0, 1, options="mss 65495,sackOK,TS val 1 ecr 1,nop,wscale 7"),
        pkt(20, "client", ".", 1, 1),
        pkt(100, "client", "F.", 1, 1),
        pkt(110, "server", ".", 1, 2),
        pkt(200, "server", "P.", 1, 2, length=3, payload="123"),
        pkt(210, "client", "R", 2, 0, reason="NO_SOCKET"),
    ]
    states = [
        state(-5, "client", "CLOSE", "SYN_SENT"),
        state(15, "client", "SYN_SENT", "ESTABLISHED"),
        state(25, "server", "SYN_RECV", "ESTABLISHED"),
        state(95, "client", "ESTABLISHED", "FIN_WAIT1"),
        state(105, "server", "ESTABLISHED", "CLOSE_WAIT"),
        state(115, "client", "FIN_WAIT1", "FIN_WAIT2"),
        state(205, "client", "FIN_WAIT2", "CLOSE", reason="RST sent: NO_SOCKET"),
        state(215, "server", "CLOSE_WAIT", "CLOSE"),
    ]
    syscalls = [
        call(-10, "client", "connect", "127.0.0.1:5555", ret="0", duration_us=30),
        call(30, "server", "accept", "", ret="fd 5"),
        call(90, "client", "close", "", ret="0"),
        call(190, "server", "send", "b'123', MSG_NOSIGNAL", ret="3"),
        call(300, "server", "send", "b'456', MSG_NOSIGNAL", errno="EPIPE"),
    ]
    return packets, states, syscalls


def make_trace(packets: list[dict[str, Any]] | None = None,
               states: list[dict[str, Any]] | None = None,
               syscalls: list[dict[str, Any]] | None = None,
               **meta: Any) -> Trace:
    """A realistic Trace; by default the ``close-then-write`` story."""
    default_packets, default_states, default_syscalls = close_then_write_rows()
    base_meta: dict[str, Any] = {
        "scenario": "close-then-write",
        "family": "ipv4",
        "kernel": "6.1.0-test",
        "sysctls": {"net.ipv4.tcp_fin_timeout": "60"},
        "tool_version": "0.0.0-test",
        "endpoints": {"client": f"{CLIENT[0]}:{CLIENT[1]}", "server": f"{SERVER[0]}:{SERVER[1]}"},
        "sides": ["client", "server"],
        "verdict": "pass",
        "expected": ["server send #2 -> EPIPE"],
        "observed": ["server send #2 -> EPIPE"],
        "source": "capture",
    }
    base_meta.update(meta)
    return Trace.build(
        packets=pd.DataFrame(default_packets if packets is None else packets),
        states=pd.DataFrame(default_states if states is None else states),
        syscalls=pd.DataFrame(default_syscalls if syscalls is None else syscalls),
        meta=base_meta,
    )


# --- the scenarios as Traces ----------------------------------------------------------------------

def handshake(t0: float = 0) -> list[dict]:
    return [pkt(t0, "client", "S", 0, 0), pkt(t0 + 10, "server", "S.", 0, 1),
            pkt(t0 + 20, "client", ".", 1, 1)]


def handshake_states(t0: float = 0) -> list[dict]:
    return [state(t0 + 15, "client", "SYN_SENT", "ESTABLISHED"),
            state(t0 + 25, "server", "SYN_RECV", "ESTABLISHED")]


def close_then_write() -> Trace:
    return make_trace()


def linger0() -> Trace:
    packets = [*handshake(), pkt(100, "client", "R.", 1, 1, reason="TCP_ABORT_ON_LINGER")]
    states = [*handshake_states(),
              state(100, "client", "ESTABLISHED", "CLOSE", reason="RST sent: TCP_ABORT_ON_LINGER"),
              state(105, "server", "ESTABLISHED", "CLOSE")]
    syscalls = [call(90, "client", "setsockopt", "SO_LINGER {1, 0}", ret="0"),
                call(95, "client", "close", ret="0"),
                call(200, "server", "send", "b'123', MSG_NOSIGNAL", errno="ECONNRESET")]
    return make_trace(packets, states, syscalls, scenario="linger0",
                      title="SO_LINGER {1, 0}: close() sends RST",
                      expected=["server send -> ECONNRESET"],
                      observed=["server send -> ECONNRESET"])


def pipe() -> Trace:
    syscalls = [call(0, "writer", "pipe", ret="0"), call(10, "reader", "close", ret="0"),
                call(20, "writer", "write", "b'123'", errno="EPIPE")]
    return make_trace([], [], syscalls, scenario="pipe", sides=["writer", "reader"],
                      endpoints={}, title="a pipe knows its reader is gone",
                      expected=["write -> EPIPE"], observed=["write -> EPIPE"])


def simultaneous_close() -> Trace:
    packets = [*handshake(), pkt(100, "client", "F.", 1, 1), pkt(101, "server", "F.", 1, 1),
               pkt(110, "client", ".", 2, 2), pkt(111, "server", ".", 2, 2)]
    states = [*handshake_states(),
              state(99, "client", "ESTABLISHED", "FIN_WAIT1"),
              state(100, "server", "ESTABLISHED", "FIN_WAIT1"),
              state(105, "client", "FIN_WAIT1", "CLOSING"),
              state(106, "server", "FIN_WAIT1", "CLOSING"),
              state(115, "client", "CLOSING", "TIME_WAIT", source="socket-table"),
              state(116, "server", "CLOSING", "TIME_WAIT", source="socket-table")]
    syscalls = [call(98, "client", "close", ret="0"), call(98.5, "server", "close", ret="0")]
    return make_trace(packets, states, syscalls, scenario="simultaneous-close")


def idle_gap() -> Trace:
    """close-then-write with a 5 s pause before the server writes."""
    packets, states, syscalls = close_then_write_rows()
    shift = 5_000_000  # µs

    def later(rows: list[dict], after_us: float) -> list[dict]:
        out = []
        for row in rows:
            moved = dict(row)
            if moved["ts_ns"] - T0 >= after_us * 1000:
                moved["ts_ns"] += shift * 1000
            out.append(moved)
        return out

    return make_trace(later(packets, 150), later(states, 150), later(syscalls, 150),
                      scenario="question")


def long_trace(n_data: int = 400) -> Trace:
    """A bulk transfer: many data segments and ACKs, then a reset."""
    packets = list(handshake())
    t = 100.0
    for i in range(n_data):
        packets.append(pkt(t, "client", "P.", 1 + 1000 * i, 1, length=1000))
        packets.append(pkt(t + 1, "server", ".", 1, 1 + 1000 * (i + 1)))
        t += 3
    packets.append(pkt(t + 10, "client", "R.", 1 + 1000 * n_data, 1))
    states = [*handshake_states(),
              state(t + 10, "client", "ESTABLISHED", "CLOSE",
                    reason="RST sent: TCP_ABORT_ON_LINGER"),
              state(t + 15, "server", "ESTABLISHED", "CLOSE")]
    syscalls = [call(90, "client", "send", "b'...' x 400000", ret="400000"),
                call(t + 5, "client", "close", ret="0")]
    return make_trace(packets, states, syscalls, scenario="linger0-data-loss",
                      bytes_accepted=400000, bytes_delivered=120000)


def ipv6() -> Trace:
    trace = make_trace(family="ipv6", endpoints={"client": "[::1]:40000",
                                                 "server": "[::1]:5555"})
    for frame in (trace.packets,):
        frame["src"] = "::1"
        frame["dst"] = "::1"
    trace.states["local"] = trace.states["local"].str.replace("127.0.0.1", "[::1]")
    trace.states["remote"] = trace.states["remote"].str.replace("127.0.0.1", "[::1]")
    return trace


def user_pcap() -> Trace:
    """A capture a user brings: two connections, states inferred, no syscalls."""
    packets, _, _ = close_then_write_rows()
    second = []
    for row in packets:
        row2 = dict(row)
        row2["conn"] = 1
        row2["ts_ns"] += 1_000_000
        if row2["sport"] == CLIENT[1]:
            row2["sport"] = 40001
        if row2["dport"] == CLIENT[1]:
            row2["dport"] = 40001
        second.append(row2)
    frames = [dict(row, frame=i + 1) for i, row in enumerate(packets + second)]
    states = [state(100, "client", "ESTABLISHED", "FIN_WAIT1", source="inferred"),
              state(110, "server", "ESTABLISHED", "CLOSE_WAIT", source="inferred")]
    return make_trace(frames, states, [], scenario="", source="file", file="bug-1234.pcap",
                      verdict="", expected=[], observed=[], kernel="", sysctls={})


SCENARIOS: dict[str, Callable[[], Trace]] = {
    "close-then-write": close_then_write,
    "linger0": linger0,
    "pipe": pipe,
    "simultaneous-close": simultaneous_close,
    "idle-gap": idle_gap,
    "long": long_trace,
    "ipv6": ipv6,
    "user-pcap": user_pcap,
}
