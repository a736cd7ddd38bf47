"""Scenario parameters (--set NAME=VALUE), loss accounting and time order, without root."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tcptrace_viz.capture.assembly import time_order
from tcptrace_viz.capture.losses import account
from tcptrace_viz.cli import main
from tcptrace_viz.errors import BadInputError
from tcptrace_viz.scenarios import get
from tcptrace_viz.scenarios.params import bind_outcomes, parse_size, resolve_all


def test_sizes_take_binary_suffixes() -> None:
    assert parse_size("160MiB") == 160 << 20
    assert parse_size("4 KiB") == 4096
    assert parse_size("1GiB") == 1 << 30
    assert parse_size("1500") == 1500
    with pytest.raises(ValueError):
        parse_size("lots")


def test_set_gives_bulk_close_its_size() -> None:
    values = resolve_all([get("bulk-close"), get("linger0")], ["bytes=160MiB"])
    assert values == {"bulk-close": {"bytes": 160 << 20}, "linger0": {}}
    assert resolve_all([get("bulk-close")], [])["bulk-close"]["bytes"] == 40 << 20
    outcome = bind_outcomes(get("bulk-close").outcomes, {"bytes": 123})[0]
    assert {call.ret for call in outcome.calls} == {"123"}


@pytest.mark.parametrize("assignment", ["size=1MiB", "bytes=lots", "bytes", "bytes=0",
                                        "bytes=2GiB"])
def test_bad_set_is_refused_in_one_sentence(assignment: str) -> None:
    with pytest.raises(BadInputError) as caught:
        resolve_all([get("bulk-close")], [assignment])
    assert "bytes=40MiB" in caught.value.message  # names the valid ones
    result = CliRunner().invoke(main, ["check", "-s", "bulk-close", "--set", assignment])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tcptrace-viz: --set"), result.output


def test_list_and_help_show_parameters() -> None:
    listing = CliRunner().invoke(main, ["list"]).output
    assert "--set bytes=40MiB" in listing
    assert "--set" in CliRunner().invoke(main, ["capture", "--help"]).output


def test_frames_are_put_in_time_order_stably() -> None:
    frames = [b"a", b"b", b"c", b"d", b"e"]
    sorted_frames, stamps, backwards = time_order(frames, [10, 30, 20, 30, 40])
    assert sorted_frames == [b"a", b"c", b"b", b"d", b"e"] and stamps == [10, 20, 30, 30, 40]
    assert backwards == 1


def test_losses_are_counted_and_named() -> None:
    stats = {"kernel_sent_segs": 100, "tcp_segments": 90, "dropped": 6}
    account(stats, {"lo.rx_dropped": 3, "TcpExt.TCPBacklogDrop": 2})
    assert (stats["ring_drops"], stats["lo_drops"], stats["input_drops"]) == (6, 3, 2)
    assert stats["not_captured_unexplained"] == 1 and stats["lost"] == 12
    text = " ".join(stats["losses"])
    assert "packet ring was full" in text and "receive backlog" in text
    assert "TCPBacklogDrop 2" in text and "no drop counter" in text
