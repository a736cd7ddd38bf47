"""Capture folders on disk: ``trace.pcapng`` + ``trace.json``, written atomically, read back equal.

A run is written into a hidden temporary folder beside its final place and renamed once both
files are complete, so a crash or Ctrl-C never leaves a half-written folder that looks complete.
``read_capture`` loads such a folder, or any pcap/pcapng file a user brings.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tcptrace_viz._version import __version__
from tcptrace_viz.errors import BadInputError
from tcptrace_viz.meta import TraceMeta
from tcptrace_viz.model import Trace

if TYPE_CHECKING:
    from tcptrace_viz.pcap.reader import PcapReadResult

PCAPNG_NAME = "trace.pcapng"
JSON_NAME = "trace.json"
FORMAT_TAG = "tcptrace-viz-trace/1"
IPV6_TAG = "ipv6"
"""Added to an IPv6 run's names: ``captures/<scenario>/<time>-ipv6/``, ``reports/<scenario>-ipv6.*``
(the IPv4 run's files are left alone)."""
_IPV6_FOLDER = re.compile(rf"\d{{8}}T\d{{6}}Z-{IPV6_TAG}(-\d+)?")


def pcapng_bytes(trace: Trace, frames: Sequence[bytes], ts_ns: Sequence[int]) -> bytes:
    """The pcapng file of a run: every frame once, with the trace's packet comments for
    Wireshark, and the whole ``trace.json`` document in custom options (``pcap/trace_block.py``)
    so that the file alone reads back as the same Trace."""
    import io

    from tcptrace_viz.pcap import LINKTYPE_ETHERNET, write_pcapng
    from tcptrace_viz.pcap.trace_block import trace_options

    comments = [""] * len(frames)
    for frame_number, comment in zip(trace.packets["frame"], trace.packets["comment"],
                                     strict=True):
        comments[int(frame_number) - 1] = str(comment)
    stream = io.BytesIO()
    section = (f"tcptrace-viz {__version__}: scenario {trace.meta.scenario or '?'} "
               f"on Linux {trace.meta.kernel or '?'}")[:200]  # leaves the document its room
    document = json.dumps(_json_document(trace), separators=(",", ":"), default=str)
    write_pcapng(stream, frames, np.asarray(ts_ns, dtype=np.int64), comments,
                 LINKTYPE_ETHERNET, "lo", section,
                 section_options=trace_options(document.encode("utf-8")))
    return stream.getvalue()


def _json_document(trace: Trace) -> dict[str, Any]:
    return {
        "format": FORMAT_TAG,
        "meta": trace.meta.to_json(),
        "states": trace.states.drop(columns="t").to_dict(orient="records"),
        "syscalls": trace.syscalls.drop(columns="t").to_dict(orient="records"),
        "reset_reasons": {str(int(frame)): str(reason) for frame, reason
                          in zip(trace.packets["frame"], trace.packets["reason"], strict=True)
                          if reason},
        "drop_reasons": {str(int(frame)): str(reason) for frame, reason
                         in zip(trace.packets["frame"], trace.packets["drop"], strict=True)
                         if reason},
    }


def save_capture(trace: Trace, pcapng: bytes, out_dir: Path) -> Path:
    """Write ``captures/<scenario>/<UTC timestamp>/`` atomically; return the folder."""
    folder = new_capture_folder(out_dir, trace.meta.scenario or "capture")
    return write_capture_folder(folder, pcapng, capture_json(trace))


def report_name(scenario: str, ipv6: bool = False) -> str:
    """The stem of a run's report files: ``linger0``, or ``linger0-ipv6`` for an IPv6 run."""
    return f"{scenario}-{IPV6_TAG}" if ipv6 else scenario


def report_name_of(folder: Path) -> str:
    """The report stem of the capture folder ``folder`` (``captures/linger0/<time>-ipv6`` is
    ``linger0-ipv6``); a folder not named by :func:`new_capture_folder` gives its own name."""
    scenario = folder.parent.name if folder.parent.name else folder.name
    return report_name(scenario, bool(_IPV6_FOLDER.fullmatch(folder.name)))


def new_capture_folder(out_dir: Path, scenario: str, ipv6: bool = False) -> Path:
    """A free ``<out_dir>/<scenario>/<UTC timestamp>`` name for a new capture (not created);
    ``-ipv6`` follows the timestamp of an IPv6 run."""
    parent = out_dir / scenario
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + (f"-{IPV6_TAG}" if ipv6 else "")
    final = parent / stamp
    suffix = 2
    while final.exists():
        final = parent / f"{stamp}-{suffix}"
        suffix += 1
    return final


def capture_json(trace: Trace) -> str:
    """The text of a capture folder's ``trace.json``."""
    return json.dumps(_json_document(trace), indent=1, default=str)


def write_capture_folder(final: Path, pcapng: bytes, document: str) -> Path:
    """Write both files into a hidden folder beside ``final``, then rename it; return where it
    went: ``final``, or ``final-2``... when another run took that name meanwhile.

    Nothing is left on failure, not even a scenario folder this call made.
    """
    parent = final.parent
    made_parent = not parent.exists()
    parent.mkdir(parents=True, exist_ok=True)
    temporary = parent / f".{final.name}.partial-{os.getpid()}"
    try:
        temporary.mkdir()
        (temporary / PCAPNG_NAME).write_bytes(pcapng)
        (temporary / JSON_NAME).write_text(document, encoding="utf-8")
        final = _rename_to_free(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        if made_parent:
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise
    return final


def _rename_to_free(temporary: Path, final: Path) -> Path:
    """Rename ``temporary`` to ``final`` or, should another process have made that folder since
    its name was chosen (a run in the same second), to the next free ``final-N``."""
    wanted, suffix = final, 2
    while True:
        try:
            if not final.exists():  # rename() would replace an empty folder
                temporary.rename(final)
                return final
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        final = wanted.with_name(f"{wanted.name}-{suffix}")
        suffix += 1


def remove_partial_folders(out_dir: Path) -> None:
    """Delete temporary folders left by runs that were killed before they could clean up."""
    if not out_dir.is_dir():
        return
    for scenario_dir in out_dir.iterdir():
        if not scenario_dir.is_dir():
            continue
        for child in scenario_dir.glob(".*.partial-*"):
            pid_text = child.name.rsplit("-", 1)[-1]
            if pid_text.isdigit() and not Path(f"/proc/{pid_text}").exists():
                shutil.rmtree(child, ignore_errors=True)


def _read_folder(folder: Path) -> Trace:
    from tcptrace_viz.pcap import read_pcap

    json_path, pcap_path = folder / JSON_NAME, folder / PCAPNG_NAME
    if not json_path.is_file() or not pcap_path.is_file():
        raise BadInputError(f"{folder} is not a complete capture folder: it needs {JSON_NAME} "
                            f"and {PCAPNG_NAME}")
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{json_path} cannot be read as JSON: {exc}") from exc
    problem = document_problem(document)
    if problem:
        raise BadInputError(f"{json_path} {problem}")
    trace = trace_from_document(document, read_pcap(pcap_path).packets)
    if trace is None:
        raise BadInputError(f"{json_path} has states or system calls of the wrong types")
    return trace


def document_problem(document: object) -> str:
    """"" when ``document`` (untrusted JSON) is a trace document this version reads, else
    what it is instead, to follow the name of the file or section header it came from."""
    if not isinstance(document, dict) or document.get("format") != FORMAT_TAG:
        return f"is not a tcptrace-viz trace ({FORMAT_TAG})"
    return ""


def trace_from_document(document: dict[str, Any], decoded: pd.DataFrame) -> Trace | None:
    """The Trace of a trace document and its pcapng's decoded packets, whether the document
    came from ``trace.json`` or from the pcapng's section header: one normalisation for both.
    None when its tables cannot take the Trace's schema (wrong types: a damaged document)."""
    from tcptrace_viz.analysis import annotate_packets

    packets = annotate_packets(decoded)
    for key, column in (("reset_reasons", "reason"), ("drop_reasons", "drop")):
        reasons = document.get(key) or {}
        if isinstance(reasons, dict) and reasons:
            by_frame = {str(frame): str(value) for frame, value in reasons.items()}
            packets[column] = pd.Series([by_frame.get(str(int(frame)), "")
                                         for frame in packets["frame"]], dtype=object)
    try:
        return Trace.build(packets=packets, states=pd.DataFrame(_rows(document.get("states"))),
                           syscalls=pd.DataFrame(_rows(document.get("syscalls"))),
                           meta=TraceMeta.from_json(_mapping(document.get("meta"))))
    except (ValueError, TypeError, KeyError, OverflowError):
        return None


def _rows(value: object) -> list[dict[str, Any]]:
    """The rows of a table in untrusted JSON: a list of objects, anything else dropped."""
    if not isinstance(value, list):
        return []
    return [_mapping(row) for row in value if isinstance(row, dict)]


def _mapping(value: object) -> dict[str, Any]:
    return {str(key): item for key, item in value.items()} if isinstance(value, dict) else {}


def read_pcap_file(path: Path, progress: Callable[[int, int], None] | None = None,
                   status: Callable[[str], None] | None = None) -> Trace:
    """A user's pcap/pcapng file as a Trace; states are inferred from the packets.

    ``progress(bytes_done, bytes_total)`` follows the reading; ``status(text)`` names each
    later step (finding connections, inferring states).
    """
    from tcptrace_viz.pcap import read_pcap

    return trace_of_file(path, read_pcap(path, progress=progress), status)


def trace_of_file(path: Path, result: PcapReadResult,
                  status: Callable[[str], None] | None = None) -> Trace:
    """The Trace of a file ``read_pcap`` read into memory (``result.packets``): this project's
    own pcapng gives back its whole Trace, any other file its packets and inferred states."""
    from tcptrace_viz.analysis import annotate_packets, infer_all_states

    tell = status or (lambda _text: None)
    embedded, block_problem = _embedded_trace(path, result.packets) \
        if result.file_format.startswith("pcapng") else (None, "")
    if embedded is not None:
        if result.partial:
            embedded.meta.partial, embedded.meta.problem = True, result.problem
        return embedded
    tell(f"finding the connections of {len(result.packets):,} TCP segments")
    packets = annotate_packets(result.packets)
    connections = np.unique(packets["conn"].to_numpy()).tolist() if len(packets) else []
    inferred = connections[:MAX_INFERRED_CONNECTIONS]
    tell(f"inferring the TCP states of {len(inferred):,} connections"
         + (f" (the first {len(inferred):,} of {len(connections):,})"
            if len(inferred) < len(connections) else ""))
    states = infer_all_states(packets, inferred)
    return Trace.build(packets=packets, states=states,
                       meta=file_meta(path, result, block_problem))


def file_meta(path: Path, result: PcapReadResult, block_problem: str = "") -> TraceMeta:
    """The metadata of a user's capture file (states inferred), as ``read_pcap`` found it."""
    return TraceMeta(
        source="file", scenario=path.name, title=f"capture file {path.name}", file=str(path),
        file_format=result.file_format, partial=result.partial or bool(block_problem),
        problem=_joined(result.problem, f"{path}: {block_problem}." if block_problem else ""),
        comments=list(result.comments), interfaces=list(result.interfaces),
        tool_version=__version__, state_source="inferred",
        frames_total=result.frames_total,
        stats={"frames": result.frames_total, "tcp_segments": result.rows})


MAX_INFERRED_CONNECTIONS = 2000


def _embedded_trace(path: Path, decoded: pd.DataFrame) -> tuple[Trace | None, str]:
    """The Trace a pcapng of this project's carries in its section header, or None and why not
    ("" when the file has no such document: someone else's file)."""
    from tcptrace_viz.pcap.trace_block import find_trace_document

    found = find_trace_document(path)
    if found.document is None:
        return None, found.problem
    problem = document_problem(found.document)
    if problem:
        return None, (f"its tcptrace-viz trace document {problem}; only the packets are shown, "
                      "their states inferred")
    trace = trace_from_document(found.document, decoded)
    if trace is None:
        return None, ("its tcptrace-viz trace document has states or system calls of the wrong "
                      "types; only the packets are shown, their states inferred")
    return trace, ""


def _joined(*sentences: str) -> str:
    return " ".join(sentence for sentence in sentences if sentence)


def read_capture(path: str | os.PathLike[str],
                 progress: Callable[[int, int], None] | None = None,
                 status: Callable[[str], None] | None = None) -> Trace:
    """Load a capture folder or a pcap/pcapng file as a Trace (BadInputError if unusable).

    A capture folder's own ``trace.json`` or ``trace.pcapng`` loads the whole folder (states
    and system calls included).  For any other pcap/pcapng file, ``progress`` and ``status``
    report on the work as ``read_pcap_file`` describes.
    """
    target = Path(path)
    if not target.exists():
        raise BadInputError(f"{target} does not exist")
    folder = capture_folder_of(target)
    if folder is not None:
        return _read_folder(folder)
    return read_pcap_file(target, progress, status)


def capture_folder_of(path: Path) -> Path | None:
    """The capture folder ``path`` names: a folder itself, or a folder's ``trace.json`` or its
    ``trace.pcapng`` (a capture's own file: states and calls come with it); None for any other
    file."""
    if path.is_dir():
        return path
    if path.name == JSON_NAME or (path.name == PCAPNG_NAME and (path.parent / JSON_NAME).is_file()):
        return path.parent
    return None
