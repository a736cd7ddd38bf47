"""Turn tracepoint hits, socket-table reads and samples into rows of the states table."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from tcptrace_viz.capture.kstate import KernelEvent
from tcptrace_viz.capture.sockettable import SocketEntry
from tcptrace_viz.capture.syscalls import SampledState


def _endpoint(address: str, port: str | int) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"{address}:{port}"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return f"{parsed.ipv4_mapped}:{port}"
        return f"[{parsed}]:{port}"
    return f"{parsed}:{port}"


def _state_name(text: str) -> str:
    return text.removeprefix("TCP_")


def _host(endpoint: str) -> str:
    return endpoint.rsplit(":", 1)[0].strip("[]")


def _side(local: str, server_port: int) -> str:
    return "server" if local.endswith(f":{server_port}") else "client"


def _set_state_row(event: KernelEvent, server_port: int) -> dict[str, Any] | None:
    fields = event.fields
    if fields.get("family") == "AF_INET6":
        local = _endpoint(fields.get("saddrv6", ""), fields.get("sport", "0"))
        remote = _endpoint(fields.get("daddrv6", ""), fields.get("dport", "0"))
    else:
        local = _endpoint(fields.get("saddr", ""), fields.get("sport", "0"))
        remote = _endpoint(fields.get("daddr", ""), fields.get("dport", "0"))
    if remote.endswith(":0"):
        return None  # the listening socket's own life (CLOSE -> LISTEN -> CLOSE)
    return {"ts_ns": event.ts_ns, "side": _side(local, server_port), "local": local,
            "remote": remote, "old": _state_name(fields.get("oldstate", "")),
            "new": _state_name(fields.get("newstate", "")), "source": "tracepoint",
            "reason": ""}


def states_from_events(events: Iterable[KernelEvent], hosts: set[str], server_port: int,
                       until_ns: int) -> list[dict[str, Any]]:
    """States-table rows for this run's sockets (addresses in ``hosts``), up to ``until_ns``."""
    rows: list[dict[str, Any]] = []
    resets: list[tuple[KernelEvent, str, str]] = []
    for event in events:
        if event.ts_ns > until_ns:
            continue
        if event.event == "inet_sock_set_state":
            row = _set_state_row(event, server_port)
            if row and (_host(row["local"]) in hosts or _host(row["remote"]) in hosts):
                rows.append(row)
        elif event.event == "tcp_send_reset":
            local, remote = event.fields.get("src", ""), event.fields.get("dest", "")
            if _host(local) in hosts or _host(remote) in hosts:
                resets.append((event, local, "RST sent: " + event.fields.get("reason", "?")))
        elif event.event == "tcp_receive_reset":
            family_v6 = event.fields.get("family") == "AF_INET6"
            address = event.fields.get("saddrv6" if family_v6 else "saddr", "")
            local = _endpoint(address, event.fields.get("sport", "0"))
            if _host(local) in hosts:
                resets.append((event, local, "RST received"))
    for event, local, reason in resets:
        _attach_reset(rows, event, local, reason, server_port)
    return sorted(rows, key=lambda row: int(row["ts_ns"]))


def _attach_reset(rows: list[dict[str, Any]], event: KernelEvent, local: str, reason: str,
                  server_port: int) -> None:
    """Put a reset's reason on the same socket's nearest move to CLOSE, else a row of its own."""
    candidates = [row for row in rows if row["local"] == local and row["new"] == "CLOSE"
                  and abs(int(row["ts_ns"]) - event.ts_ns) < 5_000_000]
    if candidates:
        nearest = min(candidates, key=lambda row: abs(int(row["ts_ns"]) - event.ts_ns))
        nearest["reason"] = f"{nearest['reason']}; {reason}" if nearest["reason"] else reason
        return
    remote = event.fields.get("dest", "")
    rows.append({"ts_ns": event.ts_ns, "side": _side(local, server_port), "local": local,
                 "remote": remote, "old": "", "new": "", "source": "tracepoint",
                 "reason": reason + (" (no socket)" if "NO_SOCKET" in reason else "")})


def apply_time_wait(rows: list[dict[str, Any]], entries: Iterable[SocketEntry],
                    server_port: int, seen_ns: int) -> None:
    """Mark sockets the socket table lists in TIME_WAIT.

    The tracepoint shows the full socket's last move (FIN_WAIT2 or CLOSING -> CLOSE); the
    connection itself is then in TIME_WAIT, held by a time-wait socket.  That move becomes
    ``-> TIME_WAIT`` with source ``socket-table``; without one, a row at ``seen_ns`` is added.
    """
    for entry in entries:
        if entry.state != "TIME_WAIT" or any(
                row["local"] == entry.local and row["remote"] == entry.remote
                and row["new"] == "TIME_WAIT" for row in rows):  # sampling saw it already
            continue
        moves = [row for row in rows if row["local"] == entry.local
                 and row["remote"] == entry.remote and row["new"] == "CLOSE"
                 and row["old"] in ("FIN_WAIT2", "CLOSING", "FIN_WAIT1")]
        if moves:
            moves[-1]["new"] = "TIME_WAIT"
            moves[-1]["source"] = "socket-table"
            continue
        rows.append({"ts_ns": seen_ns, "side": _side(entry.local, server_port),
                     "local": entry.local, "remote": entry.remote, "old": "",
                     "new": "TIME_WAIT", "source": "socket-table", "reason": ""})


def states_from_samples(samples: Iterable[SampledState]) -> list[dict[str, Any]]:
    """States-table rows from sampling after each call (the fallback without tracefs)."""
    return [{"ts_ns": sample.ts_ns, "side": sample.side, "local": sample.local,
             "remote": sample.remote, "old": sample.old, "new": sample.new,
             "source": "sampled", "reason": ""} for sample in samples]
