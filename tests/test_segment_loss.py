"""``--drop``: a chosen segment lost once in the run's namespace, and drop reasons on segments."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tcptrace_viz.capture.segment_drops import RULE_REASON, UNTRACED_RULE, segment_drops
from tcptrace_viz.capture.tracefs import KernelEvent, kfree_skb_filter, tracefs_root
from tcptrace_viz.kernel.segment_loss import LossRule, LossRuleError, parse_rule, ruleset


def test_a_rule_is_side_flags_and_which_one() -> None:
    assert parse_rule("server:F") == LossRule("server", "F", 1, 1)
    assert parse_rule("client:P#2") == LossRule("client", "P", 2, 1)
    assert parse_rule("client:.").text == "client:."
    assert LossRule("server", ".", count=0).text == "server:. x all"
    for bad, words in (("server", "SIDE:FLAGS"), ("srv:F", "client or server"),
                       ("server:X", "SIDE:FLAGS"), ("server:F#0", "counted from 1"),
                       ("server:F#", "SIDE:FLAGS")):
        with pytest.raises(LossRuleError, match=words):
            parse_rule(bad)
    for bad, part in (("client:Z", "'Z' is not a flag letter"),
                      ("clientF", "it must start with a side and a colon"),
                      ("server:", "the flags are missing"), ("server:F#x", "#x is not a count")):
        with pytest.raises(LossRuleError, match=part):  # the sentence names the wrong part
            parse_rule(bad)


def test_flags_given_must_all_be_set_and_a_dot_alone_is_a_bare_ack() -> None:
    fin = LossRule("server", "F")
    assert fin.matches("server", "F.") and fin.matches("server", "FP.")
    assert not fin.matches("client", "F.") and not fin.matches("server", "P.")
    ack = LossRule("client", ".")
    assert ack.matches("client", ".") and not ack.matches("client", "P.")
    second_on = LossRule("client", "P", nth=2, count=0)
    assert [second_on.takes(n) for n in (1, 2, 3, 50)] == [False, True, True, True]
    assert [LossRule("client", "P", 2, 2).takes(n) for n in (1, 2, 3, 4)] == [
        False, True, True, False]


def test_the_ruleset_counts_only_matching_segments() -> None:
    script = ruleset([parse_rule("server:F"), LossRule("client", "P", 2, 0)], 5555)
    assert "hook input" in script
    assert ("tcp sport 5555 tcp flags & (fin) == fin numgen inc mod 1000000000 0 counter drop"
            in script)
    assert "tcp dport 5555 tcp flags & (psh) == psh numgen inc mod 1000000000 >= 1" in script


@pytest.mark.root
def test_the_drop_filter_leaves_out_frees_that_are_not_drops() -> None:
    """On the running kernel's own event format (tracefs mounted if it is not yet)."""
    root = tracefs_root()
    assert root is not None, "tracefs cannot be mounted"
    format_file = Path(root) / "events" / "skb" / "kfree_skb" / "format"
    if not format_file.exists():
        pytest.skip("this kernel has no skb:kfree_skb event")
    text = kfree_skb_filter(format_file.read_text())
    assert text.startswith("(protocol == 2048 || protocol == 34525)")
    assert text.count("reason != ") == 3
    assert kfree_skb_filter("no reasons here") == "(protocol == 2048 || protocol == 34525)"


def _packets(rows: list[tuple[int, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"ts_ns": [row[0] for row in rows], "dir": [row[1] for row in rows],
                         "flags": [row[2] for row in rows],
                         "frame": list(range(1, len(rows) + 1))})


def _event(ts_ns: int, name: str, **fields: str) -> KernelEvent:
    body = " ".join(f"{key}={value}" for key, value in fields.items() if key != "reason")
    if "reason" in fields:
        body += f" reason: {fields['reason']}"
    return KernelEvent(ts_ns, name, {k: v for k, v in fields.items() if k != "reason"}, True,
                       body=body)


def test_a_drop_is_the_segment_whose_buffer_was_freed_not_the_latest_one() -> None:
    """The kernel answers a segment to a closed port with RST before it frees the segment."""
    packets = _packets([(1_000, "c2s", "P."), (5_000, "s2c", "R")])
    events = [_event(1_200, "netif_receive_skb", skbaddr="aa", len="59"),
              _event(5_100, "netif_receive_skb", skbaddr="bb", len="40"),
              _event(5_300, "kfree_skb", skbaddr="aa", reason="NO_SOCKET")]
    drops = segment_drops(packets, events, [], [], [73, 54])
    assert drops.reasons == ["NO_SOCKET", ""] and drops.unmatched == 0


def test_a_reused_buffer_drop_belongs_to_its_last_delivery_captured_or_not() -> None:
    """Buffers are reused: the SYN's buffer carries, after the capture's cut, a FIN to a closed
    socket that is then dropped; that drop is the uncaptured FIN's, not the SYN's."""
    packets = _packets([(1_000, "c2s", "S"), (2_000, "s2c", "S.")])
    events = [_event(1_100, "netif_receive_skb", skbaddr="aa", len="60"),
              _event(2_100, "netif_receive_skb", skbaddr="bb", len="60"),
              _event(9_000, "netif_receive_skb", skbaddr="aa", len="52"),
              _event(9_100, "kfree_skb", skbaddr="aa", reason="NO_SOCKET")]
    drops = segment_drops(packets, events, [], [], [74, 74])
    assert drops.reasons == ["", ""] and drops.unmatched == 0


def test_a_drop_on_the_sending_side_is_no_captured_segments() -> None:
    """lo down: a FIN dies in the qdisc, never captured, in a buffer the SYN had used."""
    packets = _packets([(1_000, "c2s", "S"), (2_000, "s2c", "S.")])
    events = [_event(1_100, "netif_receive_skb", skbaddr="aa", len="60"),
              _event(2_100, "netif_receive_skb", skbaddr="bb", len="60"),
              _event(2_200, "kfree_skb", skbaddr="aa", reason="QDISC_DROP")]
    drops = segment_drops(packets, events, [], [], [74, 74])
    assert drops.reasons == ["", ""] and drops.unmatched == 0  # lo's tx_dropped says it


def test_rule_losses_follow_the_rules_count_and_counter() -> None:
    packets = _packets([(1, "c2s", "S"), (2, "s2c", "S."), (3, "c2s", "F."), (9, "c2s", "F.")])
    rule = LossRule("client", "F")
    assert segment_drops(packets, None, [rule], [1]).reasons == ["", "", UNTRACED_RULE, ""]
    assert segment_drops(packets, [], [rule], [1]).reasons == ["", "", RULE_REASON, ""]
    assert segment_drops(packets, [], [rule], [0]).reasons == ["", "", "", ""]
    every = LossRule("client", "F", count=0)
    assert segment_drops(packets, [], [every], [2]).rule_lost == 2


@pytest.mark.root
@pytest.mark.skipif(shutil.which("nft") is None, reason="nft is not installed")
def test_a_lost_fin_is_retransmitted_and_drawn_where_it_died(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tcptrace_viz", "capture", "-s", "close-then-write", "--drop",
         "client:F"], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LOST (NETFILTER_DROP)" in done.stdout
    assert "dropped: --drop client:F: 1 segment captured" in done.stdout
    document = json.loads(next(tmp_path.glob("captures/close-then-write/*/trace.json"))
                          .read_text())
    stats = document["meta"]["stats"]
    assert stats["lost_on_purpose"] == 1 and stats["lost"] == 0
    # The counters add up: everything sent was captured; one segment never reached TCP.
    assert stats["kernel_sent_segs"] == stats["tcp_segments"]
    assert stats["kernel_in_segs"] == stats["tcp_segments"] - 1
    reasons = document["drop_reasons"]
    assert RULE_REASON in reasons.values()
    from tcptrace_viz import read_capture

    trace = read_capture(next(tmp_path.glob("captures/close-then-write/*")))
    fins = trace.packets[(trace.packets["dir"] == "c2s")
                         & trace.packets["flags"].str.contains("F")]
    assert len(fins) == 2, "the lost FIN is retransmitted"
    assert list(fins["drop"]) == [RULE_REASON, ""]
    text = (tmp_path / "reports" / "close-then-write.txt").read_text()
    assert "LOST (NETFILTER_DROP)--X|" in text or "X-" in text
    assert "Lost on purpose: --drop client:F" in text


@pytest.mark.root
def test_a_segment_to_a_closed_port_shows_the_kernels_reason() -> None:
    from capturing import capture  # here: it imports scapy, which is slow

    trace = capture("connect-refused", socket.AF_INET).trace
    syn = trace.packets[trace.packets["flags"] == "S"]
    assert list(syn["drop"]) == ["NO_SOCKET"]


def test_a_bad_drop_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tcptrace_viz", "check", "-s", "close-then-write", "--drop",
         "server:Q"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "is not SIDE:FLAGS[#N]" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
