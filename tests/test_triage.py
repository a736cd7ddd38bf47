"""Triage of a capture of many connections: the summary line, the filters, the connection a
report draws by default and why, and the ``connections`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from builders import (
    Wire,
    close_then_write,
    connect_refused,
    ether,
    ipv4,
    linger0,
    merge,
    normal_close,
    pcap_file,
    retransmission,
    tcp,
    wire_bytes,
)

from tcptrace_viz.analysis import annotate_packets
from tcptrace_viz.analysis.connection_table import connections
from tcptrace_viz.analysis.triage import Filters, choose, matching, most_telling, summary_line


def _wires() -> list[Wire]:
    """Noise first (a refused SYN, ordinary closes), the story later (a reset after FIN)."""
    def at(wire: Wire, port: int, start_us: float) -> Wire:
        wire.ends["client"] = (wire.ends["client"][0], port)
        wire.clock_us += start_us
        for row in wire.rows:
            if row["sport"] == 40000:
                row["sport"] = port
            if row["dport"] == 40000:
                row["dport"] = port
        return wire

    return [at(connect_refused(), 41000, 0), at(normal_close(), 41001, 1000),
            at(normal_close(), 41002, 2000), at(retransmission(), 41003, 3000),
            at(close_then_write(), 41004, 4000)]


def _table():
    return connections(annotate_packets(merge(*_wires())))


def test_the_summary_counts_how_connections_ended() -> None:
    table = _table()
    assert len(table) == 5
    assert summary_line(table).startswith("5 connections: ")
    assert "1 refused" in summary_line(table)
    assert summary_line(table.iloc[:0]) == "no TCP connections"
    assert summary_line(table.iloc[:0], 32).startswith(
        "no TCP connections: none of the 32 frames read is a TCP segment")


def test_filters_keep_what_they_say() -> None:
    table = _table()
    assert table[matching(table, Filters(refused=True))]["conn"].tolist() == [0]
    reset = table[matching(table, Filters(rst=True))]
    assert set(reset["rst_from"]) - {""} and 0 in reset["conn"].tolist()
    assert table[matching(table, Filters(retrans=True))]["retransmissions"].min() > 0
    assert len(table[matching(table, Filters(port=41002))]) == 1
    assert len(table[matching(table, Filters(host="127.0.0.1"))]) == 5
    assert len(table[matching(table, Filters(host="[127.0.0.1]"))]) == 5
    assert len(table[matching(table, Filters(host="10.9.9.9"))]) == 0
    assert len(table[matching(table, Filters(rst=True, port=41002))]) == 0
    assert Filters(rst=True, port=80).describe() == "with an RST, port 80"


@pytest.mark.parametrize("host", ["fd00::2", "FD00:0000::0002", "[fd00:0:0::2]",
                                  "::ffff:10.0.0.2"])
def test_a_host_matches_however_its_address_is_written(host: str) -> None:
    table = pd.DataFrame({"client": ["[fd00::1]:5000", "10.0.0.1:5000"],
                          "server": ["[fd00::2]:80", "10.0.0.2:80"]})
    expected = [1] if "10.0.0.2" in host else [0]
    assert table.index[matching(table, Filters(host=host))].tolist() == expected


def test_the_most_telling_connection_is_the_reset_after_a_fin_not_the_first() -> None:
    table = _table()
    conn, why = most_telling(table)
    row = table[table["conn"] == conn].iloc[0]
    assert conn != 0 and row["close_kind"] == "FIN" and row["rst_from"]
    assert "reset after a FIN" in why
    conn, why = choose(table, Filters(refused=True))
    assert conn == 0 and "refused" in why and "of the 1 refused ones" in why


def test_a_retransmitted_fin_is_more_telling_than_a_retransmitted_segment() -> None:
    resent_data = retransmission()
    resent_fin = Wire(client=("127.0.0.1", 41009), start_us=5000).handshake()
    resent_fin.send("client", "P.", 5).send("server", ".").send("client", "F.")
    resent_fin.send("client", "F.", seq=6, after_us=200_000).send("server", ".")
    resent_fin.send("server", "F.").send("client", ".")
    packets = annotate_packets(merge(normal_close(Wire(client=("127.0.0.1", 41008))),
                                     resent_data, resent_fin))
    table = connections(packets)
    assert most_telling(table)[1] == "it has retransmissions"  # without the packets
    conn, why = most_telling(table, packets)
    assert table[table["conn"] == conn]["client"].iloc[0].endswith(":41009")
    assert why.startswith("its FIN was retransmitted")


def _pcap(tmp_path: Path) -> Path:
    frame = merge(*_wires())
    path = tmp_path / "ticket.pcap"
    path.write_bytes(pcap_file(wire_bytes(frame), frame["ts_ns"].tolist()))
    return path


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tcptrace_viz", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("fmt", ["txt", "md", "csv", "json"])
def test_the_connections_command_in_every_format(tmp_path: Path, fmt: str) -> None:
    done = _cli("connections", _pcap(tmp_path), "-f", fmt, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    if fmt == "json":
        document = json.loads(done.stdout)
        assert document["summary"].startswith("5 connections")
        assert len(document["connections"]) == 5
    elif fmt == "csv":
        assert done.stdout.splitlines()[0].startswith("conn,client,server")
        assert len(done.stdout.splitlines()) == 6
    else:
        assert done.stdout.startswith("5 connections: ")


def test_connections_filters_and_limit(tmp_path: Path) -> None:
    pcap = _pcap(tmp_path)
    done = _cli("connections", pcap, "--refused", cwd=tmp_path)
    assert "1 of them refused" in done.stdout and "41000" in done.stdout
    assert "41001" not in done.stdout
    capped = _cli("connections", pcap, "--limit", "2", cwd=tmp_path)
    assert "3 more not listed" in capped.stdout
    none = _cli("connections", pcap, "--rst", "--port", "9", cwd=tmp_path)
    assert none.returncode == 0 and "0 of them with an RST, port 9" in none.stdout
    for bad in (["--host", "notanip"], ["--port", "99999"]):
        refused = _cli("connections", pcap, *bad, cwd=tmp_path)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr


def test_report_draws_the_most_telling_connection_and_says_why(tmp_path: Path) -> None:
    pcap = _pcap(tmp_path)
    done = _cli("report", pcap, "-f", "txt", "-o", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "shown: it was reset after a FIN" in done.stdout
    picked = _cli("report", pcap, "--refused", "-f", "txt", "-o", "-", cwd=tmp_path)
    assert "tcptrace-viz: drawing connection 0: it was refused" in picked.stderr
    missing = _cli("report", pcap, "--rst", "--port", "9", cwd=tmp_path)
    assert missing.returncode == 2
    assert "no connection matches the filters (with an RST, port 9)" in missing.stderr


@pytest.mark.parametrize("fmt", ["md", "txt"])
def test_the_text_formats_of_a_users_capture_carry_the_triage(tmp_path: Path, fmt: str) -> None:
    done = _cli("report", _pcap(tmp_path), "-f", fmt, "-o", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "5 connections: " in text and "41003" in text  # the summary and the table
    assert "Findings for connection" in text and "RST" in text


def test_a_scenarios_text_report_has_no_connection_table() -> None:
    from factory import close_then_write

    from tcptrace_viz.render import render

    assert "connections:" not in render(close_then_write(), "txt")
    assert "## Connections" not in render(close_then_write(), "md")


def _many(tmp_path: Path, count: int = 25, last: Callable[[], Wire] = normal_close) -> Path:
    """A capture of ``count`` ordinary closes (ports 42000 on), the last one made by ``last``."""
    def wire(port: int) -> Wire:
        made = last() if port == 42000 + count - 1 else normal_close()
        for row in made.rows:
            row["sport" if row["sport"] == 40000 else "dport"] = port
            row["ts_ns"] += port * 1_000_000
        return made

    frame = merge(*[wire(42000 + i) for i in range(count)])
    many = tmp_path / "many.pcap"
    many.write_bytes(pcap_file(wire_bytes(frame), frame["ts_ns"].tolist()))
    return many


def test_the_html_of_many_connections_puts_its_table_after_the_ladder(tmp_path: Path) -> None:
    html = _cli("report", _many(tmp_path), "-f", "html", "-o", "-", cwd=tmp_path).stdout
    assert "<strong>25 connections: 25 closed with FIN.</strong>" in html
    assert html.index('id="lesson"') < html.index('id="tv-connections"')  # ladder first
    assert html.count("<tr data-conn=") == 25
    assert 'href="#connections">The table of all 25 connections</a> follows the ladder' in html
    few = _cli("report", _pcap(tmp_path), "-f", "html", "-o", "-", cwd=tmp_path).stdout
    assert few.index('id="tv-connections"') < few.index('id="lesson"')  # short: above it
    assert 'data-flags="refused incomplete"' in few or 'data-flags="rst refused' in few


@pytest.mark.parametrize("fmt", ["txt", "md", "html"])
def test_several_connections_named_are_drawn_one_after_the_other(tmp_path: Path,
                                                                  fmt: str) -> None:
    done = _cli("report", _pcap(tmp_path), "-c", "3", "-c", "1", "-c", "3", "-f", fmt, "-o", "-",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "tcptrace-viz: drawing connections 3, 1" in done.stderr
    text = done.stdout
    if fmt == "html":
        assert text.count('<figure class="ladder"') == 2
        assert 'id="connection-1"' in text and 'href="#connection-1"' in text
        assert 'id="c1-tv-p0"' in text  # the second ladder's ids are its own
    elif fmt == "md":
        assert text.count("```mermaid") == 2 and "## Connection 1" in text
    else:
        assert "Connection 1\nFindings:" in text
        assert text.count("t (ms) client") == 2
    assert text.index("Findings for connection 3") < text.index("onnection 1")


def test_all_connections_are_drawn_up_to_a_cap_and_it_says_so(tmp_path: Path) -> None:
    many = _many(tmp_path, 25)
    done = _cli("report", many, "--all-connections", "-f", "txt", "-o", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "--all-connections draws 20 of the 25 connections" in done.stderr
    assert done.stdout.count("t (ms) client") == 20
    assert "--all-connections draws 20 of the 25 connections" in done.stdout
    html = _cli("report", many, "--all-connections", "--port", "42003", "-f", "html", "-o", "-",
                cwd=tmp_path)
    assert html.returncode == 0 and "draws" not in html.stderr
    assert html.stdout.count('<figure class="ladder"') == 1
    reset_last = _cli("report", _many(tmp_path, 25, linger0), "--all-connections", "-f", "txt",
                      "-o", "-", cwd=tmp_path)
    assert "Drawn: connection 24, because it was reset" in reset_last.stdout  # not only 0-19


@pytest.mark.parametrize("args", [["-c", "1", "--all-connections"], ["-c", "1", "-c", "2",
                                  "-f", "svg"], ["-c", "1", "-c", "99"]])
def test_impossible_drawings_are_refused_in_one_sentence(tmp_path: Path, args: list[str]) -> None:
    done = _cli("report", _pcap(tmp_path), *args, "-o", str(tmp_path / "out.x"), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2


def _first_ladder_time(text: str) -> float:
    header = text.index("t (ms) client")
    return float(text[header:].splitlines()[1].split()[0])


def test_ladder_times_count_from_the_drawn_connections_start(tmp_path: Path) -> None:
    pcap = _many(tmp_path, 6)  # each a millisecond after the one before
    relative = _cli("report", pcap, "-c", "4", "-f", "txt", "-o", "-", cwd=tmp_path).stdout
    assert _first_ladder_time(relative) == 0.0
    assert "times count from its first event" in relative
    absolute = _cli("report", pcap, "-c", "4", "--absolute-time", "-f", "txt", "-o", "-",
                    cwd=tmp_path).stdout
    assert _first_ladder_time(absolute) >= 4.0  # it starts 4 ms into the capture
    html = _cli("report", pcap, "-c", "4", "-f", "html", "-o", "-", cwd=tmp_path).stdout
    assert "since connection 4&#39;s first event" in html


@pytest.mark.parametrize("fmt", ["md", "txt"])
def test_a_long_table_in_text_is_capped_and_says_so(tmp_path: Path, fmt: str) -> None:
    from tcptrace_viz.render.capture_triage import TABLE_ROWS

    done = _cli("report", _many(tmp_path, TABLE_ROWS + 5), "-f", fmt, "-o", "-", cwd=tmp_path)
    text = done.stdout
    assert text.index(f"{TABLE_ROWS + 5} connections: ") < text.index("onnections listed")
    assert f"{TABLE_ROWS} of {TABLE_ROWS + 5} connections listed" in text
    assert "Drawn: connection 0, because it is the first." in text.replace("\\", "")
    assert "Findings for connection 0" in text


def test_a_connection_through_a_vlan_or_tunnel_says_so_in_every_listing(tmp_path: Path) -> None:
    """The "via" column: in text, Markdown and the HTML table only when a connection came
    through VLANs or a tunnel; in CSV and JSON always (stable columns for scripts)."""
    frames, stamps = [], []
    for number, vlans in enumerate(((), (0x8100,))):  # the same 4-tuple, then on VLAN 100
        for step, (flags, seq, ack) in enumerate(((0x02, 100, 0), (0x12, 900, 101),
                                                  (0x10, 101, 901))):
            ports, src, dst = (((40000, 80), "10.0.0.1", "10.0.0.2") if step != 1
                               else ((80, 40000), "10.0.0.2", "10.0.0.1"))
            segment = tcp(*ports, seq, ack, flags)
            frames.append(ether(ipv4(segment, src, dst), vlans=vlans))
            stamps.append(1_000_000_000 * (number + 1) + step * 1000)
    path = tmp_path / "vlan.pcap"
    path.write_bytes(pcap_file(frames, stamps))
    text = _cli("connections", path, cwd=tmp_path).stdout
    header = next(line for line in text.splitlines() if line.startswith("#"))
    assert header.split()[-1] == "via" and "VLAN 100" in text
    csv_text = _cli("connections", path, "-f", "csv", cwd=tmp_path).stdout
    assert csv_text.splitlines()[0].split(",")[-2:] == ["tunnel", "summary"]
    html = tmp_path / "vlan.html"
    assert _cli("report", path, "-o", html, cwd=tmp_path).returncode == 0
    assert '<th scope="col">via</th>' in html.read_text()
    plain = tmp_path / "plain.pcap"
    plain.write_bytes(pcap_file(frames[:3], stamps[:3]))
    header = next(line for line in _cli("connections", plain, cwd=tmp_path).stdout.splitlines()
                  if line.startswith("#"))
    assert "via" not in header.split()
    assert "tunnel" in _cli("connections", plain, "-f", "json", cwd=tmp_path).stdout
