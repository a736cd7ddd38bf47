"""A capture's ``trace.pcapng`` on its own (renamed, or downloaded from a report) gives back the
whole Trace; a damaged, hostile or newer document in it gives the packets and one warning."""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from builders import captured_trace

from tcptrace_viz.model import Trace
from tcptrace_viz.pcap import write_pcapng
from tcptrace_viz.pcap.trace_block import (
    FORMAT_MAJOR,
    MAGIC,
    OPT_CUSTOM_BINARY_NO_COPY,
    PEN_DOCUMENTATION,
    find_trace_document,
    trace_options,
)
from tcptrace_viz.store import PCAPNG_NAME, capture_json, pcapng_bytes, read_capture, save_capture


def _run_trace() -> tuple[Trace, list[bytes], list[int]]:
    """``close-then-write`` with what a ``run`` capture adds: syscalls with pid and comm,
    states from two sources, a verdict."""
    trace, frames, times = captured_trace(verdict="pass", verdict_detail="the write fails",
                                          syscall_source="tracepoint")
    syscalls = trace.syscalls.copy()
    syscalls["pid"] = [4100 + index % 2 for index in range(len(syscalls))]
    syscalls["comm"] = ["client" if side == "client" else "server" for side in syscalls["side"]]
    states = trace.states.copy()
    states.loc[states.index[-1], "source"] = "socket-table"
    return Trace.build(packets=trace.packets, states=states, syscalls=syscalls,
                       meta=trace.meta), frames, times


def _lone_copy(tmp_path: Path, trace: Trace, frames: list[bytes], times: list[int]) -> tuple[
        Path, Path]:
    """The capture folder, and its pcapng copied alone to another folder under another name."""
    folder = save_capture(trace, pcapng_bytes(trace, frames, times), tmp_path / "captures")
    elsewhere = tmp_path / "attachments"
    elsewhere.mkdir()
    copy = elsewhere / "ctw-copy.pcapng"
    shutil.copyfile(folder / PCAPNG_NAME, copy)
    return folder, copy


def test_a_lone_copy_of_the_pcapng_reads_back_the_folders_trace(tmp_path: Path) -> None:
    trace, frames, times = _run_trace()
    folder, copy = _lone_copy(tmp_path, trace, frames, times)
    from_folder, from_copy = read_capture(folder), read_capture(copy)
    assert from_copy == from_folder
    assert from_copy.equals(trace)
    assert from_copy.states["source"].tolist()[-1] == "socket-table"
    assert from_copy.states["source"].ne("inferred").all()
    assert from_copy.syscalls["pid"].tolist()[:2] == [4100, 4101]
    assert set(from_copy.syscalls["comm"]) == {"client", "server"}
    assert from_copy.packets["reason"].tolist().count("NO_SOCKET") == 1
    assert from_copy.meta.scenario == "close-then-write" and from_copy.meta.verdict == "pass"
    assert not from_copy.meta.partial


def test_the_document_in_the_pcapng_is_the_one_in_trace_json(tmp_path: Path) -> None:
    trace, frames, times = _run_trace()
    _folder, copy = _lone_copy(tmp_path, trace, frames, times)
    found = find_trace_document(copy)
    assert found.problem == "" and found.document == json.loads(capture_json(trace))


def test_a_field_unknown_to_this_version_round_trips(tmp_path: Path) -> None:
    trace, frames, times = captured_trace(lesson_url="https://example.invalid/ctw")
    _folder, copy = _lone_copy(tmp_path, trace, frames, times)
    assert read_capture(copy).meta.facts["lesson_url"] == "https://example.invalid/ctw"


def test_tshark_and_capinfos_read_the_file_without_complaint(tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    trace, frames, times = _run_trace()
    _folder, copy = _lone_copy(tmp_path, trace, frames, times)
    shown = subprocess.run(["tshark", "-r", str(copy), "-T", "fields", "-e", "frame.number",
                            "-e", "tcp.flags.str", "-e", "frame.comment"],
                           capture_output=True, text=True, check=False)
    assert shown.returncode == 0, shown.stderr
    rows = [line.split("\t") for line in shown.stdout.splitlines()]
    assert [row[0] for row in rows] == [str(n) for n in range(1, len(frames) + 1)]
    assert rows[3][2] == "client FIN_WAIT1 (close() = 0)"  # the comment for Wireshark stays
    if shutil.which("capinfos") is not None:
        info = subprocess.run(["capinfos", str(copy)], capture_output=True, text=True,
                              check=False)
        assert info.returncode == 0, info.stderr
        assert re.search(rf"Number of packets:\s+{len(frames)}\b", info.stdout)


def test_a_document_longer_than_one_option_is_split_and_joined(tmp_path: Path) -> None:
    trace, frames, times = _run_trace()
    many = pd.concat([trace.syscalls] * 600, ignore_index=True)
    many["args"] = [f"fd=3, buf={index:06d}" + "x" * 40 for index in range(len(many))]
    big = Trace.build(packets=trace.packets, states=trace.states, syscalls=many,
                      meta=trace.meta)
    assert len(capture_json(big)) > 3 * 0xFFFF
    assert len(trace_options(capture_json(big).encode())) >= 3
    _folder, copy = _lone_copy(tmp_path, big, frames, times)
    assert read_capture(copy).equals(big)
    if shutil.which("tshark") is not None:
        assert subprocess.run(["tshark", "-r", str(copy)], capture_output=True,
                              check=False).returncode == 0


# --- untrusted documents -----------------------------------------------------------------------

def _value(document: bytes, major: int = FORMAT_MAJOR, length: int | None = None) -> bytes:
    return (struct.pack("=I", PEN_DOCUMENTATION) + MAGIC
            + struct.pack("=HHI", major, 0, len(document) if length is None else length)
            + document)


def _with_options(tmp_path: Path, *values: bytes) -> Path:
    """The capture's frames and comments, with ``values`` as this project's custom options."""
    trace, frames, times = captured_trace()
    options = [struct.pack("=HH", OPT_CUSTOM_BINARY_NO_COPY, len(value)) + value
               + b"\0" * (-len(value) % 4) for value in values]
    path = tmp_path / "hostile.pcapng"
    with path.open("wb") as stream:
        write_pcapng(stream, frames, times, trace.packets["comment"].tolist(),
                     section_options=options)
    return path


def _document(**changes: object) -> bytes:
    trace, _frames, _times = captured_trace()
    document = json.loads(capture_json(trace))
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(("values", "says"), [
    ([_value(_document(), major=FORMAT_MAJOR + 1)], f"is format {FORMAT_MAJOR + 1}.0, newer"),
    ([_value(b'{"format": "tcptrace-viz-trace/1", "states": [')], "is damaged"),
    ([_value(b"\xff\xfe not utf-8")], "is damaged"),
    ([_value(_document(), length=10**6)], "its pieces do not agree"),
    ([_value(b"[1, 2, 3]")], "holds no JSON object"),
    ([_value(b"[" * 30000 + b"]" * 30000)], "is damaged"),
    ([_value(_document(format="something-else/7"))], "is not a tcptrace-viz trace"),
    ([_value(_document(states=[{"ts_ns": "soon", "side": "client"}]))], "of the wrong types"),
    ([_value(_document(states=[{"ts_ns": 10**30}]))], "of the wrong types"),
])
def test_a_bad_document_gives_the_packets_and_one_warning(tmp_path: Path, values: list[bytes],
                                                          says: str) -> None:
    path = _with_options(tmp_path, *values)
    trace = read_capture(path)
    assert len(trace.packets) == 7 and trace.states["source"].eq("inferred").all()
    assert trace.meta.source == "file" and trace.meta.partial
    assert says in trace.meta.problem and str(path) in trace.meta.problem
    assert trace.meta.problem.count(". ") == 0 and trace.meta.problem.endswith(".")


def test_rows_that_are_no_objects_are_dropped(tmp_path: Path) -> None:
    path = _with_options(tmp_path, _value(_document(states=[1, "two", None],
                                                    syscalls="none")))
    trace = read_capture(path)
    assert trace.meta.source == "capture" and trace.states.empty and trace.syscalls.empty


def test_someone_elses_option_with_the_documentation_pen_is_ignored(tmp_path: Path) -> None:
    other = struct.pack("=I", PEN_DOCUMENTATION) + b"another tool's data here"
    trace = read_capture(_with_options(tmp_path, other))
    assert trace.meta.source == "file" and not trace.meta.partial


def test_a_copy_edited_by_editcap_drops_the_document(tmp_path: Path) -> None:
    if shutil.which("editcap") is None:
        pytest.skip("editcap is not installed")
    trace, frames, times = _run_trace()
    _folder, copy = _lone_copy(tmp_path, trace, frames, times)
    edited = tmp_path / "first-five.pcapng"
    subprocess.run(["editcap", "-r", str(copy), str(edited), "1-5"], check=True,
                   capture_output=True)
    read = read_capture(edited)  # its frames no longer match the document: read as a file
    assert read.meta.source == "file" and not read.meta.partial and len(read.packets) == 5


# --- the report's download --------------------------------------------------------------------

def test_the_html_reports_download_carries_the_document(tmp_path: Path) -> None:
    from tcptrace_viz.outputs import attached_capture
    from tcptrace_viz.render import prepare, render

    trace, frames, times = _run_trace()
    folder, _copy = _lone_copy(tmp_path, trace, frames, times)
    html = render(prepare(read_capture(folder)), "html", attached_capture(folder))
    assert isinstance(html, str)
    found = re.search(r"data:application/octet-stream;base64,([A-Za-z0-9+/=]+)", html)
    assert found is not None
    downloaded = tmp_path / "close-then-write.pcapng"
    downloaded.write_bytes(base64.b64decode(found.group(1)))
    assert read_capture(downloaded) == read_capture(folder)


# --- comments in other people's files ---------------------------------------------------------

REALWORLD = Path("/work/shared/realworld")
HOSTILE = '<script>alert("x")</script>'


def _reports(trace: Trace) -> dict[str, str]:
    from tcptrace_viz.render import RenderOptions, prepare, render

    prepared = prepare(trace)
    out = {fmt: render(prepared, fmt, RenderOptions()) for fmt in ("html", "md", "txt")}
    return {fmt: text for fmt, text in out.items() if isinstance(text, str)}


def test_a_hostile_section_comment_and_interface_name_are_shown_escaped(tmp_path: Path) -> None:
    from builders import Iface, Packet, Section, pcapng_file, syn

    for little in (True, False):
        path = tmp_path / f"hostile-{little}.pcapng"
        path.write_bytes(pcapng_file(Section(
            [Iface(name=f"eth0 {HOSTILE}")], [Packet(syn(), 1_764_000_000 * 10**9)],
            little=little, comment=f"ticket 42 {HOSTILE}")))
        trace = read_capture(path)
        assert trace.meta.comments == [f"ticket 42 {HOSTILE}"]
        assert trace.meta.interfaces == [f"interface 0: eth0 {HOSTILE}"]
        reports = _reports(trace)
        assert set(reports) == {"html", "md", "txt"}
        html = reports["html"]
        assert "<script>alert" not in html
        assert "ticket 42 &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
        assert "eth0 &lt;script&gt;" in html
        assert "ticket 42 \\<script>" in reports["md"]
        assert re.search(r"(?<!\\)<", reports["md"].split("## Connections")[0]) is None
        assert f"File comment: ticket 42 {HOSTILE}" in reports["txt"]
        assert f"Interface: interface 0: eth0 {HOSTILE}" in reports["txt"]


@pytest.mark.parametrize(("name", "shown"), [
    ("zeek__vlan-pcp-dei.pcapng", "File created by merging"),
    ("zeek__dce-rpc__dce_rpc_netlogon.pcapng", "BLACKCLOVER-NETWORK"),
])
def test_a_public_captures_comments_are_shown(name: str, shown: str) -> None:
    path = REALWORLD / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    trace = read_capture(path)
    assert any(shown in text for text in [*trace.meta.comments, *trace.meta.interfaces])
    for fmt, text in _reports(trace).items():
        assert shown in text, fmt


def test_the_public_api_reads_the_lone_copy_whole(tmp_path: Path) -> None:
    import tcptrace_viz

    trace, frames, times = _run_trace()
    folder, copy = _lone_copy(tmp_path, trace, frames, times)
    assert tcptrace_viz.read_capture(str(copy)) == tcptrace_viz.read_capture(folder)


def test_a_truncated_copy_keeps_its_document_and_is_marked_partial(tmp_path: Path) -> None:
    trace, frames, times = _run_trace()
    _folder, copy = _lone_copy(tmp_path, trace, frames, times)
    copy.write_bytes(copy.read_bytes()[:-20])  # the last packet block is cut
    read = read_capture(copy)
    assert read.meta.partial and str(copy) in read.meta.problem
    assert len(read.packets) == len(frames) - 1
    assert read.states.equals(trace.states) and read.syscalls.equals(trace.syscalls)
    assert read.meta.verdict == "pass"


def test_an_older_document_with_fewer_fields_is_read(tmp_path: Path) -> None:
    older = json.dumps({"format": "tcptrace-viz-trace/1",
                        "meta": {"scenario": "close-then-write", "verdict": "fail"},
                        "states": [{"ts_ns": 1_764_000_000_000_050_000, "side": "client",
                                    "old": "ESTABLISHED", "new": "FIN_WAIT1"}]}).encode()
    read = read_capture(_with_options(tmp_path, _value(older)))
    assert read.meta.source == "" and read.meta.verdict == "fail" and not read.meta.partial
    assert read.states["new"].tolist() == ["FIN_WAIT1"]
    assert read.states["source"].tolist() == [""]  # not claimed as traced
    assert read.packets["reason"].eq("").all()


def test_a_document_too_long_for_a_section_header_is_left_to_the_folder() -> None:
    from tcptrace_viz.pcap.trace_block import MAX_DOCUMENT
    from tcptrace_viz.pcap.walk import MAX_BLOCK

    assert trace_options(b"x" * (MAX_DOCUMENT + 1)) == []
    assert sum(len(option) for option in trace_options(b"x" * MAX_DOCUMENT)) < MAX_BLOCK - 512


def test_interfaces_that_say_the_same_are_one_line(tmp_path: Path) -> None:
    from builders import Iface, Packet, Section, pcapng_file, syn

    path = tmp_path / "merged.pcapng"
    interfaces = [Iface(name="eth0"), Iface(name="  "), Iface(name="wlan0"), Iface(name="eth0")]
    path.write_bytes(pcapng_file(Section(interfaces, [Packet(syn(), 1_764_000_000 * 10**9)],
                                         comment="line one\nline two")))
    trace = read_capture(path)
    assert trace.meta.interfaces == ["interfaces 0, 3: eth0", "interface 2: wlan0"]
    assert "File comment: line one line two" in _reports(trace)["txt"]


def test_a_big_endian_section_header_gives_its_document_too(tmp_path: Path) -> None:
    from builders import Iface, Packet, Section, block, section_bytes, syn

    document = _document()
    value = (struct.pack(">I", PEN_DOCUMENTATION) + MAGIC
             + struct.pack(">HHI", FORMAT_MAJOR, 0, len(document)) + document)
    option = struct.pack(">HH", OPT_CUSTOM_BINARY_NO_COPY, len(value)) + value \
        + b"\0" * (-len(value) % 4) + struct.pack(">HH", 0, 0)
    header = block(">", 0x0A0D0D0A, struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1) + option)
    rest = section_bytes(Section([Iface()], [Packet(syn(), 1_764_000_000 * 10**9)],
                                 little=False))
    first_block = struct.unpack_from(">I", rest, 4)[0]
    path = tmp_path / "big-endian.pcapng"
    path.write_bytes(header + rest[first_block:])
    read = read_capture(path)
    assert read.meta.source == "capture" and read.meta.scenario == "close-then-write"
    assert len(read.packets) == 1 and read.states["source"].eq("tracepoint").all()
