"""Time tcptrace-viz's pcap reader against dpkt, scapy, tshark and tcptrace, in one run.

    /work/venv/bin/python benchmarks/bench_reader.py                 # 10k, 100k, 1M; pcap+pcapng
    /work/venv/bin/python benchmarks/bench_reader.py --sizes 100k --formats pcap

Captures are generated into benchmarks/data/ (git-ignored) on first use.  Every contender runs
in its own child process, which reports its time and its peak RSS (``ru_maxrss``), so one
contender's memory never shows up in another's figure.  Python contenders are timed from
opening the file to the last packet decoded (imports excluded, reported separately); tshark and
tcptrace are timed as whole processes.  Each contender extracts the same per-packet facts
(addresses, ports, seq/ack, flags, length, window, options) except scapy's RawPcapReader (raw
records only: a lower bound) and tcptrace (its per-connection summary).  ``ours-python`` is
ours with TCPTRACE_VIZ_NO_EXTENSIONS=1: what a machine without a C compiler gets.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
CONTENDERS = ("ours", "ours-python", "dpkt", "scapy-raw", "scapy", "tshark", "tcptrace")
NO_EXTENSIONS_ENV = "TCPTRACE_VIZ_NO_EXTENSIONS"  # ours-python: ours without its C extension
BEST_OF = ("ours", "ours-python", "tcptrace")  # quick enough to take the best of --repeat runs
SCAPY_FULL_LIMIT = 100_000  # scapy's PcapReader beyond this is extrapolated (minutes per 1M)
TSHARK_FIELDS = ("frame.time_epoch", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst",
                 "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
                 "tcp.window_size_value", "tcp.options")


# --- contenders (run inside the child) ---------------------------------------------------------
def run_ours(path: str) -> int:
    from tcptrace_viz.pcap import read_pcap

    return len(read_pcap(path).packets)


def run_dpkt(path: str) -> int:
    import dpkt

    rows = []
    with open(path, "rb") as stream:
        reader = dpkt.pcapng.Reader(stream) if path.endswith("ng") else dpkt.pcap.Reader(stream)
        for ts, buf in reader:
            ip = dpkt.ethernet.Ethernet(buf).data
            seg = getattr(ip, "data", None)
            if isinstance(seg, dpkt.tcp.TCP):
                rows.append((ts, ip.src, ip.dst, seg.sport, seg.dport, seg.seq, seg.ack,
                             seg.flags, len(seg.data), seg.win, dpkt.tcp.parse_opts(seg.opts)))
    return len(rows)


def run_scapy_raw(path: str) -> int:
    from scapy.utils import RawPcapReader

    count = 0
    with RawPcapReader(path) as reader:
        for _record in reader:
            count += 1
    return count


def run_scapy(path: str) -> int:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import PcapReader

    rows = []
    with PcapReader(path) as reader:
        for packet in reader:
            if TCP in packet:
                seg = packet[TCP]
                net = packet[IP] if IP in packet else packet[IPv6]
                rows.append((packet.time, net.src, net.dst, seg.sport, seg.dport, seg.seq,
                             seg.ack, str(seg.flags), len(seg.payload), seg.window, seg.options))
    return len(rows)


def run_tshark(path: str) -> int:
    args = ["tshark", "-n", "-r", path, "-Y", "tcp", "-T", "fields",
            "-o", "tcp.analyze_sequence_numbers:FALSE", "-o", "tcp.desegment_tcp_streams:FALSE"]
    for field in TSHARK_FIELDS:
        args += ["-e", field]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as child:
        assert child.stdout is not None
        lines = sum(block.count(b"\n") for block in iter(lambda: child.stdout.read(1 << 20), b""))
    return lines


def run_tcptrace(path: str) -> int:
    done = subprocess.run(["tcptrace", "-n", path], capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        if "TCP packets traced" in line:
            return int(line.split(",")[1].split()[0])
    raise RuntimeError(done.stdout[-500:])


RUNNERS = {"ours": run_ours, "ours-python": run_ours, "dpkt": run_dpkt,
           "scapy-raw": run_scapy_raw, "scapy": run_scapy, "tshark": run_tshark,
           "tcptrace": run_tcptrace}
IMPORTS = {"ours": "tcptrace_viz.pcap", "ours-python": "tcptrace_viz.pcap", "dpkt": "dpkt",
           "scapy-raw": "scapy.utils", "scapy": "scapy.all"}


def measure(contender: str, path: str) -> dict[str, object]:
    """Run one contender here; its time, packet count and peak RSS (self or child)."""
    start = time.perf_counter()
    if contender in IMPORTS:
        __import__(IMPORTS[contender])
    imported = time.perf_counter()
    packets = RUNNERS[contender](path)
    done = time.perf_counter()
    external = contender in ("tshark", "tcptrace")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if external else resource.RUSAGE_SELF)
    return {"seconds": done - imported, "import_seconds": imported - start, "packets": packets,
            "rss_mb": usage.ru_maxrss / 1024}


# --- the harness ---------------------------------------------------------------------------------
def ensure_captures(label: str) -> None:
    stem = DATA / f"bench-{label}"
    if not (stem.with_suffix(".pcap").exists() and stem.with_suffix(".pcapng").exists()):
        print(f"generating {stem}.pcap/.pcapng ...", file=sys.stderr)
        subprocess.run([sys.executable, str(HERE / "make_captures.py"), str(SIZES[label]),
                        str(stem)], check=True)


def child_measure(contender: str, path: Path, repeat: int) -> dict[str, object] | None:
    best: dict[str, object] | None = None
    env = dict(os.environ)
    env.pop(NO_EXTENSIONS_ENV, None)
    if contender == "ours-python":
        env[NO_EXTENSIONS_ENV] = "1"
    for _ in range(repeat):
        done = subprocess.run([sys.executable, __file__, "--measure", contender, str(path)],
                              capture_output=True, text=True, check=False, env=env)
        if done.returncode:
            print(f"  {contender} failed on {path.name}: {done.stderr.strip()[-300:]}",
                  file=sys.stderr)
            return None
        result = json.loads(done.stdout)
        if best is None or result["seconds"] < best["seconds"]:  # type: ignore[operator]
            best = result
    return best


def available(contender: str) -> bool:
    if contender in ("tshark", "tcptrace"):
        return shutil.which(contender) is not None
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10k,100k,1M")
    parser.add_argument("--formats", default="pcap,pcapng")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--repeat", type=int, default=5,
                        help="best of N for ours, ours-python and tcptrace")
    parser.add_argument("--measure", nargs=2, metavar=("CONTENDER", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return 0
    contenders = [name for name in args.contenders.split(",") if available(name)]
    missing = sorted(set(args.contenders.split(",")) - set(contenders))
    if missing:
        print(f"not installed, skipped: {', '.join(missing)}", file=sys.stderr)
    print(f"# {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print("| file | reader | packets | seconds | packets/s | ours is x faster | peak RSS MB "
          "| import s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    scapy_rate: dict[str, float] = {}
    for label in args.sizes.split(","):
        ensure_captures(label)
        for fmt in args.formats.split(","):
            path = DATA / f"bench-{label}.{fmt}"
            ours: float | None = None
            for contender in contenders:
                note, imported = "", ""
                if contender == "scapy" and SIZES[label] > SCAPY_FULL_LIMIT:
                    if fmt not in scapy_rate:
                        continue
                    seconds, packets, rss = SIZES[label] / scapy_rate[fmt], "~", "n/a"
                    note = " (extrapolated from 100k)"
                else:
                    repeat = args.repeat if contender in BEST_OF else 1
                    result = child_measure(contender, path, repeat)
                    if result is None:
                        continue
                    seconds = float(result["seconds"])  # type: ignore[arg-type]
                    packets = result["packets"]
                    rss = f"{float(result['rss_mb']):.0f}"  # type: ignore[arg-type]
                    if contender in IMPORTS:
                        imported = f"{float(result['import_seconds']):.2f}"  # type: ignore[arg-type]
                    if contender == "scapy":
                        scapy_rate[fmt] = SIZES[label] / seconds
                if contender == "ours":
                    ours = seconds
                ratio = f"{seconds / ours:.1f}" if ours else ""
                print(f"| {path.name} | {contender}{note} | {packets} | {seconds:.3f} | "
                      f"{SIZES[label] / seconds:,.0f} | {ratio} | {rss} | {imported} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
