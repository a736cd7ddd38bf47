"""The analysis on real bytes: frames decoded by ``tcptrace_viz.pcap``, and live captures.

The live tests (root) run scenarios in a namespace and check that the states inferred from the
packets alone tell the same story, side by side, as the kernel's tracepoints.
"""

from __future__ import annotations

import socket

import pandas as pd
import pytest
from builders import (
    Wire,
    close_then_write,
    connect_refused,
    merge,
    normal_close,
    simultaneous_close,
    wire_bytes,
)

from tcptrace_viz.analysis import annotate_packets, connections, findings, infer_states
from tcptrace_viz.pcap import LINKTYPE_ETHERNET, decode_frames


@pytest.mark.parametrize("family", [4, 6])
def test_decoded_frames_annotate_like_the_builder(family: int) -> None:
    def ends(port: int) -> tuple[str, int]:
        return ("127.0.0.1", port) if family == 4 else ("::1", port)

    first = normal_close(Wire(client=ends(40000), server=ends(5555), isn_c=(1 << 32) - 2))
    second = close_then_write()
    second.ends = {"client": ends(40000), "server": ends(5555)}
    for row in second.rows:
        row["ts_ns"] += round(first.clock_us * 1000)
        if family == 6:
            row["src"] = row["dst"] = "::1"
            row["ip_version"] = 6
    wanted = merge(first, second, expected=True)
    decoded = decode_frames(wire_bytes(wanted), wanted["ts_ns"].to_numpy(), LINKTYPE_ETHERNET)
    out = annotate_packets(decoded)
    for column in ("conn", "dir", "rel_seq", "rel_ack"):
        assert out[column].tolist() == wanted[f"want_{column}"].tolist(), column
    assert connections(out)["close_kind"].tolist() == ["FIN", "FIN"]


def test_decoded_refused_and_simultaneous() -> None:
    for wire, kind in ((connect_refused(), "refused"), (simultaneous_close(),
                                                         "simultaneous-close")):
        frame = wire.frame()
        decoded = decode_frames(wire_bytes(frame), frame["ts_ns"].to_numpy(), LINKTYPE_ETHERNET)
        assert kind in [f.kind for f in findings(decoded, 0)]


# --- live captures --------------------------------------------------------------------------

LIVE = ["close-then-write", "shutdown", "linger0", "close-unread", "connect-refused",
        "simultaneous-close", "time-wait"]


def per_side(states: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """Each side's state changes.  A hand-over to a timewait mini-socket (FIN_WAIT2 ->
    FIN_WAIT2) is the kernel's, not TCP's: packets cannot show it, so it is left out."""
    rows = states[(states["new"] != "") & (states["old"] != states["new"])]
    return {side: list(zip(group["old"], group["new"], strict=True))
            for side, group in rows.groupby("side")}


@pytest.mark.root
@pytest.mark.parametrize("name", LIVE)
def test_inferred_states_match_the_kernels(name: str) -> None:
    from capturing import capture  # here: it imports scapy, which is slow

    trace = capture(name).trace
    if (trace.states["source"] == "sampled").any():
        pytest.skip("tracefs unavailable: states were sampled, not traced")
    conns = sorted(set(trace.packets["conn"]))
    assert conns == [0]
    inferred = infer_states(trace.packets, 0)
    assert per_side(inferred) == per_side(trace.states)


@pytest.mark.root
def test_inferred_states_match_the_kernels_over_ipv6() -> None:
    from capturing import capture

    trace = capture("close-then-write", socket.AF_INET6).trace
    if (trace.states["source"] == "sampled").any():
        pytest.skip("tracefs unavailable: states were sampled, not traced")
    assert per_side(infer_states(trace.packets, 0)) == per_side(trace.states)
    assert [f.kind for f in findings(trace.packets, 0)] == ["closed-first", "data-after-fin"]
