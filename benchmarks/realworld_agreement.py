"""Does every TCP segment read by tcptrace-viz agree with tshark, over a corpus of real captures?

    /work/venv/bin/python benchmarks/realworld_agreement.py [/path/to/realworld] [--show N]

The corpus folder holds capture files and ``tshark-fields/<file>.tsv.gz``: what tshark 4.0.17
decodes in each frame (see the corpus's README.md).  Every file is read with
``tcptrace_viz.pcap.read_pcap``; each TCP segment is compared with tshark's row of the same
frame (addresses, ports, flags, seq, ack, TCP payload length as tshark computes it, and the
timestamp).  Printed: files read, files refused (grouped by reason), tracebacks (should be 0),
disagreeing segments grouped by field (with the files they come from), and TCP segments that
tshark decodes and we do not, grouped by the encapsulation tshark reports.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import re
import sys
import traceback
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tcptrace_viz.errors import BadInputError  # noqa: E402
from tcptrace_viz.pcap import read_pcap  # noqa: E402

DEFAULT_CORPUS = Path("/work/shared/realworld")
FIELDS = ("frame.number", "frame.protocols", "frame.cb_pen", "frame.time_epoch", "frame.len",
          "frame.cap_len", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport",
          "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
          "tcp.window_size_value", "tcp.hdr_len", "tcp.stream", "_ws.short", "_ws.malformed")
COL = {name: index for index, name in enumerate(FIELDS)}
#: tshark protocol names that are not an encapsulation worth grouping by.
_NOT_ENCAPSULATION = {"frame", "tcp", "data", "ethertype"}


@dataclass
class Expected:
    """tshark's decoding of one frame's (innermost) TCP segment."""

    protocols: str
    src: str
    dst: str
    """Innermost addresses ("?": unknown, tshark shows only the outermost of a family)."""
    outer: str
    """Outermost IP addresses as "src>dst" when tshark saw more than one IP header."""
    sport: int
    dport: int
    flags: int
    seq: int
    ack: int
    length: int
    ts_ns: int
    malformed: bool


@dataclass
class Tally:
    """The corpus-wide counts."""

    files: int = 0
    read: int = 0
    partial: int = 0
    refused: collections.Counter[str] = field(default_factory=collections.Counter)
    refused_files: dict[str, list[str]] = field(default_factory=dict)
    tracebacks: list[tuple[str, str]] = field(default_factory=list)
    segments: int = 0
    agree: int = 0
    disagree: collections.Counter[str] = field(default_factory=collections.Counter)
    disagree_files: dict[str, collections.Counter[str]] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    extra: collections.Counter[str] = field(default_factory=collections.Counter)
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    skipped_files: dict[str, collections.Counter[str]] = field(default_factory=dict)
    skipped_malformed: int = 0
    in_refused: collections.Counter[str] = field(default_factory=collections.Counter)


def _first(value: str) -> str:
    return value.split(",", maxsplit=1)[0] if value else ""


def _ns(epoch: str) -> int:
    return int(Decimal(epoch) * 1_000_000_000) if epoch else 0


def load_tshark(path: Path) -> dict[int, Expected]:
    """Frame number to tshark's TCP segment, for frames where tshark decodes TCP."""
    expected: dict[int, Expected] = {}
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            cells = line.rstrip("\n").split("\t")
            if len(cells) < len(FIELDS) or not cells[COL["tcp.srcport"]]:
                continue
            protocols = cells[COL["frame.protocols"]]
            if ":icmp" in protocols:  # a TCP header quoted by an ICMP error: not a segment
                continue
            layers = protocols.split(":")
            layers = layers[:layers.index("tcp")] if "tcp" in layers else layers
            ip_layers = [layer for layer in layers if layer in ("ip", "ipv6")]
            # tshark prints a field's first occurrence: the outermost IPv4 / IPv6 header's.
            addresses = {"ip": (cells[COL["ip.src"]], cells[COL["ip.dst"]]),
                         "ipv6": (cells[COL["ipv6.src"]], cells[COL["ipv6.dst"]])}
            inner = ip_layers[-1] if ip_layers else "ip"
            src, dst = addresses[inner] if ip_layers.count(inner) == 1 else ("?", "?")
            outer = addresses[ip_layers[0]] if len(ip_layers) > 1 else ("", "")
            try:
                expected[int(cells[0])] = Expected(
                    protocols=protocols, src=_first(src), dst=_first(dst),
                    outer=f"{_first(outer[0])}>{_first(outer[1])}" if outer[0] else "",
                    sport=int(_first(cells[COL["tcp.srcport"]])),
                    dport=int(_first(cells[COL["tcp.dstport"]])),
                    flags=int(_first(cells[COL["tcp.flags"]]) or "0", 16) & 0xFF,
                    seq=int(_first(cells[COL["tcp.seq_raw"]]) or "-1"),
                    ack=int(_first(cells[COL["tcp.ack_raw"]]) or "-1"),
                    length=int(_first(cells[COL["tcp.len"]]) or "-1"),
                    ts_ns=_ns(cells[COL["frame.time_epoch"]]),
                    malformed=bool(cells[COL["_ws.malformed"]] or cells[COL["_ws.short"]]))
            except ValueError:
                continue
    return expected


def encapsulation(protocols: str) -> str:
    """``eth:ethertype:vlan:ethertype:ip:tcp`` to ``eth:vlan:ip`` (the layers below TCP)."""
    layers = protocols.split(":")
    below = layers[:layers.index("tcp")] if "tcp" in layers else layers
    return ":".join(layer for layer in below if layer not in _NOT_ENCAPSULATION)


def _refusal_reason(message: str, name: str) -> str:
    text = message.replace(name, "<file>")
    text = re.sub(r"\d[\d,]*", "N", text)
    return text[:110]


def compare_file(path: Path, tsv: Path, tally: Tally, show: int) -> None:
    """Read one capture and compare it with tshark's decoding."""
    name = path.name
    tally.files += 1
    expected = load_tshark(tsv) if tsv.exists() else {}
    reason = ""
    try:
        result = read_pcap(path)
    except BadInputError as error:
        reason = _refusal_reason(str(error), name)
        tally.refused[reason] += 1
        tally.refused_files.setdefault(reason, []).append(name)
        ours = None
    except Exception:  # the point is to count them
        tally.tracebacks.append((name, traceback.format_exc(limit=4)))
        return
    else:
        tally.read += 1
        tally.partial += bool(result.partial)
        ours = result.packets
    if ours is None and "compressed" in reason:  # its decompressed copy is in the corpus
        tally.in_refused[reason] += len(expected)
        return
    seen: set[int] = set()
    if ours is not None and len(ours):
        columns = {key: ours[key].tolist() if key in ours.columns else [""] * len(ours)
                   for key in ("frame", "src", "dst", "sport", "dport", "flag_bits", "seq",
                               "ack", "len", "ts_ns", "comment", "tunnel")}
        for row in range(len(ours)):
            frame = int(columns["frame"][row])
            seen.add(frame)
            tally.segments += 1
            want = expected.get(frame)
            if want is None:
                tally.extra[name] += 1
                continue
            wrong = _differences(want, {key: values[row] for key, values in columns.items()})
            if not wrong:
                tally.agree += 1
            for what, detail in wrong:
                tally.disagree[what] += 1
                tally.disagree_files.setdefault(what, collections.Counter())[name] += 1
                examples = tally.examples.setdefault(what, [])
                if len(examples) < show:
                    examples.append(f"{name} frame {frame}: {detail}")
    for frame, want in expected.items():
        if frame in seen:
            continue
        if want.malformed:
            tally.skipped_malformed += 1
            continue
        group = encapsulation(want.protocols)
        tally.skipped[group] += 1
        tally.skipped_files.setdefault(group, collections.Counter())[name] += 1


def _differences(want: Expected, got: dict[str, object]) -> list[tuple[str, str]]:
    wrong: list[tuple[str, str]] = []

    def check(what: str, ours: object, theirs: object) -> None:
        if ours != theirs:
            wrong.append((what, f"ours {ours!r}, tshark {theirs!r}"))

    if want.src != "?":
        check("src", got["src"], want.src)
        check("dst", got["dst"], want.dst)
    tunnel = str(got["tunnel"])
    endpoints = next((word for word in tunnel.split() if ">" in word), "")
    if want.outer or endpoints:
        check("tunnel", endpoints, want.outer)
    check("sport", int(got["sport"]), want.sport)  # type: ignore[call-overload]
    check("dport", int(got["dport"]), want.dport)  # type: ignore[call-overload]
    check("flags", int(got["flag_bits"]), want.flags)  # type: ignore[call-overload]
    check("seq", int(got["seq"]), want.seq)  # type: ignore[call-overload]
    if want.flags & 0x10:
        check("ack", int(got["ack"]), want.ack)  # type: ignore[call-overload]
    if want.length >= 0:  # a first fragment (reassembly off): tshark gives no tcp.len
        check("len", int(got["len"]), want.length)  # type: ignore[call-overload]
    if "timestamp's sub-second field" in str(got["comment"]):  # tshark shows garbage there
        check("time", int(got["ts_ns"]) % 1_000_000_000, 0)  # type: ignore[call-overload]
    else:
        check("time", int(got["ts_ns"]) // 1000,  # type: ignore[call-overload]
              want.ts_ns // 1000)
    return wrong


def capture_files(corpus: Path) -> list[Path]:
    """The corpus's capture files (everything but its README, manifest and the caches)."""
    return sorted(path for path in corpus.iterdir()
                  if path.is_file() and path.name not in ("README.md", "MANIFEST.tsv"))


def report(tally: Tally, show: int) -> None:
    """Print the tally."""
    print(f"files: {tally.files}  read: {tally.read} (partial: {tally.partial})  "
          f"refused: {sum(tally.refused.values())}  tracebacks: {len(tally.tracebacks)}")
    print("\nrefused, by reason:")
    for reason, count in tally.refused.most_common():
        print(f"  {count:5}  {reason}")
    for name, text in tally.tracebacks:
        print(f"\nTRACEBACK {name}\n{text}")
    print(f"\nTCP segments read: {tally.segments}  agree with tshark: {tally.agree}  "
          f"not TCP to tshark: {sum(tally.extra.values())} "
          f"({', '.join(f'{n} {c}' for n, c in tally.extra.most_common(5))})")
    print("segments that disagree, by field:")
    for what, count in tally.disagree.most_common():
        files = tally.disagree_files[what]
        print(f"  {what:6} {count:6}  in {len(files)} files: "
              + ", ".join(f"{n} ({c})" for n, c in files.most_common(4)))
        for example in tally.examples.get(what, []):
            print(f"           {example}")
    print("\nTCP segments (to tshark) in compressed files (their decompressed copies count):")
    for reason, count in tally.in_refused.most_common():
        if count:
            print(f"  {count:6}  {reason}")
    total = sum(tally.skipped.values())
    print(f"\ndecodable TCP segments skipped: {total} "
          f"(plus {tally.skipped_malformed} that tshark calls malformed), by encapsulation:")
    for group, count in tally.skipped.most_common():
        files = tally.skipped_files[group]
        print(f"  {count:6}  {group or '(none)'}  in {len(files)} files: "
              + ", ".join(f"{n} ({c})" for n, c in files.most_common(2)))


def main(argv: list[str] | None = None) -> int:
    """Compare the whole corpus; exit 1 when a file raised a traceback."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--show", type=int, default=2, help="examples printed per field")
    parser.add_argument("--only", default="", help="only files whose name contains this")
    args = parser.parse_args(argv)
    if not (args.corpus / "tshark-fields").is_dir():
        print(f"{args.corpus} has no tshark-fields/ folder: not a realworld corpus.")
        return 2
    tally = Tally()
    for path in capture_files(args.corpus):
        if args.only and args.only not in path.name:
            continue
        compare_file(path, args.corpus / "tshark-fields" / f"{path.name}.tsv.gz", tally,
                     args.show)
    report(tally, args.show)
    return 1 if tally.tracebacks else 0


if __name__ == "__main__":
    raise SystemExit(main())
