"""A private network namespace with only a loopback interface, set up for clean captures.

The calling process moves itself into a fresh, anonymous network namespace (``unshare``), so the
only packets on its ``lo`` are the scenario's.  The namespace has no name and no mount: it
disappears with the last process in it, whatever way that process ends.

Inside, ``lo`` is brought up with a 1500-byte MTU and segmentation offloads off, so every TCP
segment crosses the wire as its own frame (as on a real link) and the frame count can be checked
against the kernel's own segment counters.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import ipaddress
import os
import socket
import struct

from tcptrace_viz.errors import PrivilegeError

CLONE_NEWNET = 0x40000000  # new network namespace
CLONE_NEWUSER = 0x10000000  # new user namespace (lets a non-root user own the network namespace)

SIOCGIFFLAGS = 0x8913  # get interface flags
SIOCSIFFLAGS = 0x8914  # set interface flags
SIOCSIFMTU = 0x8922  # set interface MTU
SIOCETHTOOL = 0x8946  # ethtool commands
IFF_UP = 0x1

NETLINK_ROUTE = 0  # rtnetlink
RTM_NEWADDR = 20
NLMSG_ERROR = 2  # also the acknowledgement (error 0)
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
IFA_F_NODAD = 0x02  # no duplicate address detection: the address is never tentative
NETLINK_TIMEOUT_S = 5.0

ETHTOOL_STSO = 0x0000001F  # set TCP segmentation offload
ETHTOOL_SGSO = 0x00000024  # set generic segmentation offload
ETHTOOL_SSG = 0x00000005  # set scatter-gather (TSO depends on it)

LOOPBACK_MTU = 1500  # a real link's MTU: segments of 1448 bytes, not 64 KiB

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def enter_private_netns() -> str:
    """Move the calling process into a new network namespace; return how it was done.

    Root gets a plain network namespace.  Other users get a user namespace too, where they are
    root for this namespace only.  Must be called before the process starts threads.  The
    namespace has its own small table of connections (see :func:`_own_connection_table`).
    """
    if os.geteuid() == 0:
        try:
            _unshare(CLONE_NEWNET)
        except OSError as exc:
            raise PrivilegeError(
                f"cannot create a network namespace ({exc.strerror}); run as root on a kernel "
                "with network namespaces, or in a container started with --privileged") from exc
        _own_connection_table()
        return "netns"
    uid, gid = os.geteuid(), os.getegid()
    try:
        _unshare(CLONE_NEWUSER | CLONE_NEWNET)
    except OSError as exc:
        raise PrivilegeError(userns_problem(exc.errno or 0)) from exc
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    except OSError as exc:
        raise PrivilegeError(
            f"cannot map user {uid} into the new user namespace ({exc.strerror}); run as root"
        ) from exc
    _own_connection_table()
    return "userns+netns"


CHILD_EHASH_ENTRIES = 1024
"""Buckets of the run's own table of connections (a scenario has a handful)."""
_TABLE_LIMITS = ("net/ipv4/tcp_max_tw_buckets", "net/ipv4/tcp_max_syn_backlog")
"""Settings the kernel sizes from that table: kept at the machine's values."""


def _own_connection_table() -> None:
    """Move on into a second new namespace that has its own table of established and
    TIME_WAIT sockets (``net.ipv4.tcp_child_ehash_entries``, Linux 6.1+).

    A namespace shares the machine's table by default (262,144 buckets here), and every read
    of ``/proc/net/tcp`` walks all of it: 2.4 ms, against 0.06 ms for a table of its own.  The
    limits the kernel derives from the table's size are set back to the shared table's values,
    so TCP behaves as before.  Where the setting is missing or refused, the process stays in
    the first namespace (slower to read, the same behaviour)."""
    try:
        limits = {name: _sysctl(name) for name in _TABLE_LIMITS}
        _write("/proc/sys/net/ipv4/tcp_child_ehash_entries", str(CHILD_EHASH_ENTRIES))
        _unshare(CLONE_NEWNET)
    except OSError:
        return
    for name, value in limits.items():
        if value is not None:
            with contextlib.suppress(OSError):
                _write(f"/proc/sys/{name}", value)


def userns_problem(err: int) -> str:
    """One sentence on why ``unshare(CLONE_NEWUSER)`` failed with ``err``, and what to do.

    It names only the sysctls this machine has (``kernel.unprivileged_userns_clone`` is a
    Debian/Ubuntu patch; ``kernel.apparmor_restrict_unprivileged_userns`` comes with AppArmor).
    """
    start = f"cannot create a user and network namespace ({os.strerror(err)})"
    if err == errno.ENOSPC:
        limits = {name: _sysctl(f"user/{name}") for name in ("max_user_namespaces",
                                                             "max_net_namespaces")}
        zero = [name for name, value in limits.items() if value == "0"]
        if zero:
            why = f"namespaces are limited to 0 here (sysctl user.{zero[0]}=0)"
        else:
            why = "a namespace limit is reached (" + ", ".join(
                f"user.{name} is {value}" for name, value in limits.items()
                if value is not None) + ", counted per user)"
        knob = f"user.{zero[0]}" if zero else "it"
        return f"{start}: {why}; raise {knob} with sysctl, or run as root"
    if err == errno.EPERM:
        knobs = [f"sysctl {name.replace('/', '.')} is {value}"
                 for name, forbids in _POLICY_SYSCTLS
                 if (value := _sysctl(name)) is not None and value == forbids]
        why = ", ".join(knobs) if knobs else ("e.g. an LSM such as AppArmor or SELinux, or a "
                                              "seccomp filter of the container")
        return f"{start}: a security policy forbids it ({why}); run as root"
    if err in (errno.EINVAL, errno.ENOSYS):
        return f"{start}: this kernel has no user namespaces (CONFIG_USER_NS); run as root"
    return f"{start}; run as root"


# The settings that forbid unprivileged user namespaces where they exist, with the value that does.
_POLICY_SYSCTLS = (("kernel/unprivileged_userns_clone", "0"),
                   ("kernel/apparmor_restrict_unprivileged_userns", "1"))


def _sysctl(name: str) -> str | None:
    """The value of ``/proc/sys/<name>``, or None where this kernel has no such setting."""
    try:
        with open(f"/proc/sys/{name}", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def _ifreq(name: str, payload: bytes) -> bytes:
    return struct.pack("16s", name.encode()) + payload.ljust(24, b"\0")


def setup_loopback(mtu: int = LOOPBACK_MTU) -> None:
    """Bring ``lo`` up with ``mtu`` and without segmentation offloads."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = struct.unpack_from("H", fcntl.ioctl(sock, SIOCGIFFLAGS, _ifreq("lo", b"")), 16)[0]
        fcntl.ioctl(sock, SIOCSIFFLAGS, _ifreq("lo", struct.pack("H", flags | IFF_UP)))
        fcntl.ioctl(sock, SIOCSIFMTU, _ifreq("lo", struct.pack("i", mtu)))
        for command in (ETHTOOL_STSO, ETHTOOL_SGSO):
            _ethtool_set(sock, command, 0)


def _ethtool_set(sock: socket.socket, command: int, value: int) -> None:
    # struct ethtool_value {u32 cmd; u32 data;}; ifr_data points at it.
    buffer = ctypes.create_string_buffer(struct.pack("II", command, value))
    pointer = struct.pack("P", ctypes.addressof(buffer))
    try:
        fcntl.ioctl(sock, SIOCETHTOOL, _ifreq("lo", pointer))
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise


def add_ipv6_address(address: str) -> None:
    """Add ``address``/128 to ``lo``, usable at once: without duplicate address detection.

    An address added the plain way (``SIOCSIFADDR``) stays tentative until the kernel's DAD work
    has run, even on ``lo``, and binding to it meanwhile fails with EADDRNOTAVAIL.  An rtnetlink
    ``RTM_NEWADDR`` with ``IFA_F_NODAD`` is never tentative, also after ``lo`` goes down and up.
    """
    packed = ipaddress.IPv6Address(address).packed
    ifindex = socket.if_nametoindex("lo")
    # struct ifaddrmsg {u8 family, prefixlen, flags, scope; u32 index;}, then the attributes.
    body = (struct.pack("BBBBI", socket.AF_INET6, 128, IFA_F_NODAD, 0, ifindex)
            + _rtattr(IFA_LOCAL, packed) + _rtattr(IFA_ADDRESS, packed)
            + _rtattr(IFA_FLAGS, struct.pack("I", IFA_F_NODAD)))
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.settimeout(NETLINK_TIMEOUT_S)
        sock.send(struct.pack("IHHII", 16 + len(body), RTM_NEWADDR, flags, 1, 0) + body)
        while True:
            reply = sock.recv(65536)
            for kind, payload in _nlmsgs(reply):
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("i", payload)[0]
                    if code:
                        raise OSError(code, f"cannot add {address} to lo: "
                                            f"{os.strerror(code)}")
                    return


def _rtattr(kind: int, value: bytes) -> bytes:
    attribute = struct.pack("HH", 4 + len(value), kind) + value
    return attribute.ljust((len(attribute) + 3) & ~3, b"\0")


def _nlmsgs(data: bytes) -> list[tuple[int, bytes]]:
    """The netlink messages in one datagram: (type, payload)."""
    found = []
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("IH", data, offset)
        if length < 16:
            break
        found.append((kind, data[offset + 16:offset + length]))
        offset += (length + 3) & ~3
    return found


def run_addresses(family: int, pid: int) -> tuple[str, str]:
    """Client and server addresses unique to this run.

    The kernel's tracepoints are global, not per namespace.  Two runs at the same time each use
    their own loopback address, derived from the pid of the process that owns the namespace,
    so each keeps only its own sockets' events.
    """
    if family == socket.AF_INET:
        address = f"127.{(pid >> 16) & 0xFF}.{(pid >> 8) & 0xFF}.{pid & 0xFF}"
        if address == "127.0.0.0":
            address = "127.0.0.1"
        return address, address
    address = f"fd00:7463:7476::{pid & 0xFFFF:x}:{(pid >> 16) & 0xFFFF:x}"
    return address, address


def set_loopback_up(up: bool) -> None:
    """Bring ``lo`` up or down (``simultaneous-close`` holds both FINs back this way)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = struct.unpack_from("H", fcntl.ioctl(sock, SIOCGIFFLAGS, _ifreq("lo", b"")), 16)[0]
        flags = flags | IFF_UP if up else flags & ~IFF_UP
        fcntl.ioctl(sock, SIOCSIFFLAGS, _ifreq("lo", struct.pack("H", flags)))


def keep_ipv6_addresses_on_down() -> None:
    """Keep ``lo``'s IPv6 addresses while it is down (they are deleted by default)."""
    path = "/proc/sys/net/ipv6/conf/lo/keep_addr_on_down"
    if os.path.exists(path):
        _write(path, "1")


def tcp_counters() -> dict[str, int]:
    """The namespace's TCP MIB counters (``/proc/net/snmp``): OutSegs, InSegs, RetransSegs..."""
    with open("/proc/net/snmp", encoding="ascii") as handle:
        lines = [line.split() for line in handle if line.startswith("Tcp:")]
    names, values = lines[0][1:], lines[1][1:]
    return {name: int(value) for name, value in zip(names, values, strict=True)}

