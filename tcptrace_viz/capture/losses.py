"""Where segments went missing: the namespace's drop counters, and what they say was lost.

A TCP segment on ``lo`` passes, in order: TCP and IP output (``OutSegs``, ``OutDiscards``), lo's
transmit, which queues it on the sending CPU's receive backlog (full at
``net.core.netdev_max_backlog``: lo's ``rx_dropped``), the packet socket, which copies the
arriving frame into the capture ring (full: ``tp_drops``), then IP and TCP input (``InSegs``,
then drops such as ``TCPBacklogDrop``).  Every counter read here is the namespace's own
(``/proc/net/dev``, ``/proc/net/snmp``, ``/proc/net/netstat``, ``/proc/net/snmp6``), so a run
is not blamed for another's drops.  ``/proc/net/softnet_stat`` also counts backlog drops, but per
CPU for the whole host, so it cannot say whose segment was dropped: it is not used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

# Counters of segments dropped on the way out, before lo: sent (OutSegs) but never on lo.
OUTPUT_DROPS = ("Ip.OutDiscards", "Ip.OutNoRoutes", "Ip6.Ip6OutDiscards", "Ip6.Ip6OutNoRoutes")
# Counters of segments dropped on the way in, after the packet socket saw them.
INPUT_DROPS = ("Ip.InDiscards", "Ip6.Ip6InDiscards", "Tcp.InErrs", "TcpExt.TCPBacklogDrop",
               "TcpExt.TCPRcvQDrop", "TcpExt.TCPOFODrop", "TcpExt.TCPZeroWindowDrop",
               "TcpExt.TCPMinTTLDrop", "TcpExt.PFMemallocDrop", "TcpExt.ListenDrops")
LO_DROPS = ("lo.rx_dropped", "lo.tx_dropped")


def _pairs(path: str, prefixes: tuple[str, ...]) -> dict[str, int]:
    """``Prefix: names`` / ``Prefix: values`` line pairs (snmp, netstat) as ``Prefix.name``."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError), open(path, encoding="ascii") as handle:
        rows = [line.split() for line in handle]
        for names, values in zip(rows[::2], rows[1::2], strict=False):
            prefix = names[0].rstrip(":")
            if prefix in prefixes:
                out.update({f"{prefix}.{name}": int(value)
                            for name, value in zip(names[1:], values[1:], strict=False)})
    return out


def drop_counters() -> dict[str, int]:
    """The namespace's drop counters (read inside it), ``lo.rx_dropped``, ``TcpExt....``."""
    counters = _pairs("/proc/net/snmp", ("Ip", "Tcp"))
    counters.update(_pairs("/proc/net/netstat", ("TcpExt",)))
    with contextlib.suppress(OSError), open("/proc/net/snmp6", encoding="ascii") as handle:
        for line in handle:
            name, _, value = line.partition(" ")
            if name in ("Ip6InDiscards", "Ip6OutDiscards", "Ip6OutNoRoutes"):
                counters[f"Ip6.{name}"] = int(value)
    with contextlib.suppress(OSError), open("/proc/net/dev", encoding="ascii") as handle:
        for line in handle:
            name, colon, rest = line.partition(":")
            if colon and name.strip() == "lo":
                fields = rest.split()  # rx: bytes packets errs drop ...; tx from field 8
                counters["lo.rx_dropped"], counters["lo.tx_dropped"] = (int(fields[3]),
                                                                        int(fields[11]))
    wanted = (*OUTPUT_DROPS, *INPUT_DROPS, *LO_DROPS)
    return {key: value for key, value in counters.items() if key in wanted}


def _named(counters: Mapping[str, int], keys: tuple[str, ...]) -> tuple[int, str]:
    found = {key.split(".", 1)[1]: counters.get(key, 0) for key in keys if counters.get(key)}
    return sum(found.values()), ", ".join(f"{name} {value:,}" for name, value in found.items())


def account(stats: dict[str, Any], counters: Mapping[str, int]) -> None:
    """Add the loss counts and ``stats["losses"]`` (one sentence per place) to ``stats``.

    ``counters`` are the run's deltas.  Sent but not captured: dropped on output, in lo's
    backlog/device, or by the full packet ring; what no counter explains is named as such.
    Captured but dropped: IP or TCP discarded a segment the capture kept.
    """
    sent = int(stats["kernel_sent_segs"])
    captured = int(stats["tcp_segments"]) - int(stats.get("injected") or 0)  # theirs, not TCP's
    ring = int(stats["dropped"])
    output, output_names = _named(counters, OUTPUT_DROPS)
    lo, _ = _named(counters, LO_DROPS)
    backlog, down = counters.get("lo.rx_dropped", 0), counters.get("lo.tx_dropped", 0)
    inputs, input_names = _named(counters, INPUT_DROPS)
    unexplained = max(sent - captured - ring - lo - output, 0)
    stats.update({"ring_drops": ring, "lo_drops": lo, "output_drops": output,
                  "input_drops": inputs, "not_captured_unexplained": unexplained})
    losses = []
    if ring:
        losses.append(f"{ring:,} frames not captured: the packet ring was full (the kernel "
                      "dropped them before the sniffer read them)")
    if backlog:
        losses.append(f"{backlog:,} segments sent but dropped by lo's receive backlog "
                      "(full at net.core.netdev_max_backlog; lo's rx_dropped): never "
                      "captured; TCP retransmits lost data")
    if down:
        again = ", then retransmitted" if int(stats.get("kernel_retrans_segs") or 0) >= down else ""
        losses.append(f"{down:,} segments sent while lo was down (dropped by the device, lo's "
                      f"tx_dropped{again}): never captured")
    if output:
        losses.append(f"{output:,} segments sent but discarded by IP before lo "
                      f"({output_names})")
    if unexplained:
        losses.append(f"{unexplained:,} segments the kernel sent were not captured and no "
                      "drop counter names them (lo down, or a cut during capture)")
    if inputs:
        losses.append(f"{inputs:,} segments captured but then dropped by the receiving "
                      f"stack ({input_names})")
    stats["lost"] = ring + lo + output + unexplained + inputs
    stats["losses"] = losses
