"""The namespace primitives, for real: addresses usable at once, and why a namespace is refused."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

NOBODY = 65534

# Adds a fresh address to lo and binds to it at once, N times; prints how many binds failed
# with EADDRNOTAVAIL.  "fresh": a new network namespace each time (as each capture worker has).
ADD_AND_BIND = """
import errno, os, socket, sys
from tcptrace_viz.kernel import netns
count, fresh = int(sys.argv[1]), sys.argv[2] == "fresh"
failed = 0
if not fresh:
    netns.enter_private_netns()
    netns.setup_loopback()
for i in range(count):
    if fresh:
        netns.enter_private_netns()
        netns.setup_loopback()
    address = f"fd00:7463:7476::{i + 1:x}:1"
    netns.add_ipv6_address(address)
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as exc:
            if exc.errno != errno.EADDRNOTAVAIL:
                raise
            failed += 1
print(failed)
"""


@pytest.mark.parametrize("where", ["fresh", "same"])
def test_an_ipv6_address_is_usable_as_soon_as_it_is_added(where: str) -> None:
    """No duplicate address detection: binding right after adding never fails (was 616/1000)."""
    run = subprocess.run([sys.executable, "-c", ADD_AND_BIND, "1000", where],
                         capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.strip() == "0", f"{run.stdout.strip()} of 1000 binds failed"


def test_an_ipv6_address_survives_lo_down_and_up() -> None:
    """simultaneous-close takes lo down and up: the address must not turn tentative again."""
    code = """
import socket
from tcptrace_viz.kernel import netns
netns.enter_private_netns(); netns.setup_loopback(); netns.keep_ipv6_addresses_on_down()
netns.add_ipv6_address("fd00::7")
for _ in range(200):
    netns.set_loopback_up(False); netns.set_loopback_up(True)
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.bind(("fd00::7", 0))
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_adding_an_address_twice_says_so() -> None:
    code = """
from tcptrace_viz.kernel import netns
netns.enter_private_netns(); netns.setup_loopback(); netns.add_ipv6_address("fd00::8")
try:
    netns.add_ipv6_address("fd00::8")
except FileExistsError as exc:
    print(exc.strerror)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert run.stdout.strip() == "cannot add fd00::8 to lo: File exists"


# Runs the command line as user nobody in a child user namespace whose
# user.max_user_namespaces is 0 (the limit belongs to that namespace: the machine's own setting
# is left alone).  The parent, root outside, writes the child's uid and gid maps; the child
# lowers the limit, drops to nobody and runs main in-process, because nobody may not be able to
# read the interpreter's files (so what main needs is imported first).
AS_NOBODY_WITHOUT_USERNS = """
import ctypes, os, sys
import encodings.ascii, encodings.latin_1, encodings.utf_8
from tcptrace_viz.cli import main
import tcptrace_viz.capture.session
from tcptrace_viz.capture.assembly import import_assembly
from tcptrace_viz.capture.sniffer import preload_scapy
preload_scapy()
import_assembly()
CLONE_NEWUSER = 0x10000000
PR_SET_DUMPABLE = 4
go_read, go_write = os.pipe()
ready_read, ready_write = os.pipe()
pid = os.fork()
if pid == 0:
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWUSER) != 0:
        os._exit(90)
    os.write(ready_write, b"x")
    os.read(go_read, 1)
    with open("/proc/sys/user/max_user_namespaces", "w") as handle:
        handle.write("0")
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # /proc/self is nobody's again
    main(sys.argv[1:])
os.read(ready_read, 1)
for name in ("uid_map", "gid_map"):
    with open(f"/proc/{pid}/{name}", "w") as handle:
        handle.write("0 0 1\\nNOBODY NOBODY 1\\n")
os.write(go_write, b"x")
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
""".replace("NOBODY", str(NOBODY))


def test_without_user_namespaces_capture_names_the_limit() -> None:
    """As a user without root where user namespaces are limited to 0: exit 3, the right knob."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder).chmod(0o777)  # nobody's
        run = subprocess.run(
            [sys.executable, "-c", AS_NOBODY_WITHOUT_USERNS, "capture", "-s",
             "close-then-write", "--out", f"{folder}/captures", "--reports",
             f"{folder}/reports"],
            check=False, capture_output=True, text=True, timeout=120, cwd=folder)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert ("cannot create a user and network namespace (No space left on device): "
            "namespaces are limited to 0 here (sysctl user.max_user_namespaces=0)") in run.stderr
    assert "unprivileged_userns_clone" not in run.stderr  # not on this kernel


OWN_TABLE = """
import os
from tcptrace_viz.kernel import netns
def read(name):
    with open("/proc/sys/net/ipv4/" + name) as handle:
        return handle.read().strip()
before = [read("tcp_max_tw_buckets"), read("tcp_max_syn_backlog"), read("tcp_child_ehash_entries")]
outer = os.readlink("/proc/self/ns/net")
netns.enter_private_netns()
print(os.readlink("/proc/self/ns/net") != outer)
print([read("tcp_max_tw_buckets"), read("tcp_max_syn_backlog")] == before[:2])
print(before[2])
"""


def test_a_runs_namespace_has_its_own_connection_table_and_the_machines_limits() -> None:
    """Its table is its own (reading the socket table walks only it), the limits the kernel
    derives from a table's size are the machine's, and the machine's setting is untouched."""
    done = subprocess.run([sys.executable, "-c", OWN_TABLE], capture_output=True, text=True,
                          check=True)
    moved, same_limits, host_setting = done.stdout.split()
    assert moved == "True" and same_limits == "True"
    with open("/proc/sys/net/ipv4/tcp_child_ehash_entries") as handle:
        assert handle.read().strip() == host_setting
