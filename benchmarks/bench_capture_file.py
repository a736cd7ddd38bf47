"""Time reading one capture file, whole processes with imports, against dpkt, tshark, tcptrace.

    python benchmarks/bench_capture_file.py                 # the 1M-packet pcap, best of 3
    python benchmarks/bench_capture_file.py --size 100k --repeat 1
    python benchmarks/bench_capture_file.py --size 10M --repeat 1 --contenders report,tcptrace

Each contender runs as a fresh process under ``/usr/bin/time -v`` (wall clock and peak RSS of the
whole process, interpreter start and imports included), all on the same generated pcap:

- ``reader``: ``tcptrace_viz.pcap.read_pcap(FILE)`` (the packet reader alone);
- ``read_capture``: ``tcptrace_viz.read_capture(FILE)`` (packets, connections, relative
  numbers, inferred states);
- ``report``: ``tcptrace-viz report FILE -o x.html``;
- ``connections``: ``tcptrace-viz connections FILE -f csv`` (``--contenders`` to add it);
- ``export``: ``tcptrace-viz export FILE --parquet DIR`` (``--contenders`` to add it);
- ``dpkt``: dpkt decoding every TCP segment into a pandas DataFrame;
- ``tshark``: ``tshark -T fields`` parsed into a pandas DataFrame;
- ``tcptrace``: ``tcptrace -n -l FILE``.

The rounds interleave the contenders, so a machine that gets busier shifts all alike; each figure
is the best of the rounds.  Benchmarks only report: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
TSHARK_FIELDS = ("frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport",
                 "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
                 "tcp.window_size_value")

DPKT = """
import sys, dpkt, pandas
rows = []
with open(sys.argv[1], "rb") as stream:
    for ts, buf in dpkt.pcap.Reader(stream):
        ip = dpkt.ethernet.Ethernet(buf).data
        seg = getattr(ip, "data", None)
        if isinstance(seg, dpkt.tcp.TCP):
            rows.append((ts, ip.src, ip.dst, seg.sport, seg.dport, seg.seq, seg.ack, seg.flags,
                         len(seg.data), seg.win, dpkt.tcp.parse_opts(seg.opts)))
frame = pandas.DataFrame(rows, columns=["time", "src", "dst", "sport", "dport", "seq", "ack",
                                        "flags", "len", "win", "options"])
print(len(frame))
"""
TSHARK = """
import subprocess, sys, pandas
args = ["tshark", "-n", "-r", sys.argv[1], "-Y", "tcp", "-T", "fields", "-E", "separator=\\t",
        "-o", "tcp.analyze_sequence_numbers:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE"]
for field in sys.argv[2:]:
    args += ["-e", field]
child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
frame = pandas.read_csv(child.stdout, sep="\\t", header=None, names=sys.argv[2:])
child.wait()
print(len(frame))
"""
READER = ("import sys; from tcptrace_viz.pcap import read_pcap; "
          "print(len(read_pcap(sys.argv[1]).packets))")
READ_CAPTURE = ("import sys, tcptrace_viz; "
                "print(len(tcptrace_viz.read_capture(sys.argv[1]).packets))")


def commands(pcap: Path, out: Path) -> dict[str, list[str]]:
    """Every contender's command line, in table order."""
    cli = Path(sys.executable).with_name("tcptrace-viz")
    report = [str(cli)] if cli.exists() else [sys.executable, "-m", "tcptrace_viz"]
    return {
        "reader": [sys.executable, "-c", READER, str(pcap)],
        "read_capture": [sys.executable, "-c", READ_CAPTURE, str(pcap)],
        "report": [*report, "report", str(pcap), "-o", str(out / "x.html")],
        "connections": [*report, "connections", str(pcap), "-f", "csv"],
        "export": [*report, "export", str(pcap), "--parquet", str(out / "parquet")],
        "dpkt": [sys.executable, "-c", DPKT, str(pcap)],
        "tshark": [sys.executable, "-c", TSHARK, str(pcap), *TSHARK_FIELDS],
        "tcptrace": ["tcptrace", "-n", "-l", str(pcap)],
    }


def timed(command: list[str]) -> tuple[float, float] | None:
    """Wall seconds and peak RSS (MB) of one whole process, or None if it failed."""
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        print(f"  failed: {' '.join(command[:3])}: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert wall and rss, done.stderr[-500:]
    hours, minutes, seconds = wall.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), int(rss.group(1)) / 1024


def ensure_capture(label: str) -> Path:
    """The generated pcap of that size, made once."""
    stem = DATA / f"bench-{label}"
    if not stem.with_suffix(".pcap").exists():
        print(f"generating {stem}.pcap ...", file=sys.stderr)
        DATA.mkdir(exist_ok=True)
        subprocess.run([sys.executable, str(HERE / "make_captures.py"), str(SIZES[label]),
                        str(stem)], check=True)
    return stem.with_suffix(".pcap")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1M", choices=sorted(SIZES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--contenders", default="reader,read_capture,report,dpkt,tshark,tcptrace",
                        help="comma-separated, from: reader, read_capture, report, connections, "
                             "export, dpkt, tshark, tcptrace")
    args = parser.parse_args()
    pcap = ensure_capture(args.size)
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as out:
        wanted = args.contenders.split(",")
        lines = {name: line for name, line in commands(pcap, Path(out)).items() if name in wanted}
        for _ in range(args.repeat):
            for name, command in lines.items():
                result = timed(command)
                if result and (name not in best or result[0] < best[name][0]):
                    best[name] = (result[0], min(result[1], best.get(name, result)[1]))
    print(f"{pcap.name}, best of {args.repeat}\n")
    print(f"| {'contender':<13} | {'seconds':>8} | {'peak RSS MB':>11} |")
    print(f"|{'-' * 15}|{'-' * 9}:|{'-' * 12}:|")
    for name, (seconds, rss) in best.items():
        print(f"| {name:<13} | {seconds:8.2f} | {rss:11.0f} |")
    ratios = [("dpkt", "read_capture", 20), ("tcptrace", "report", 2)]
    print()
    for slow, fast, target in ratios:
        if slow in best and fast in best:
            ratio = best[slow][0] / best[fast][0]
            print(f"{fast} vs {slow}: {ratio:.1f}x faster (target {target}x)")
    if "report" in best:
        print(f"report peak RSS: {best['report'][1]:.0f} MB (target 500 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
