"""Per-namespace TCP settings: ``--sysctl net.ipv4.tcp_fin_timeout=2`` inside a run's namespace.

A network namespace has its own copy of most ``net.*`` settings; ``/proc/sys/net`` shows the
copies of the namespace of the process that reads it, and only those a namespace has: a
setting that exists on the host but not in a new namespace is global, and writing it would
change the whole machine.  :func:`check_settings` refuses those (and unknown names) before
anything runs, by looking from a throwaway namespace; the worker applies the rest with
:func:`apply_settings` after entering its own, and reads the namespace's values back with
:func:`read_settings` for the Trace.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Final

from tcptrace_viz.errors import BadInputError, ScenarioError

REPORTED: Final = (
    "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_orphan_retries", "net.ipv4.tcp_rfc1337",
    "net.ipv4.tcp_abort_on_overflow", "net.ipv4.tcp_timestamps", "net.ipv4.tcp_sack",
    "net.ipv4.tcp_window_scaling", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_max_tw_buckets",
)
"""The settings that change how a close behaves, recorded with every capture."""
_NAME: Final = re.compile(r"net(\.[a-z0-9_]+)+")


def _path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


def parse_setting(text: str) -> tuple[str, str]:
    """``"net.ipv4.tcp_fin_timeout=2"`` -> ``("net.ipv4.tcp_fin_timeout", "2")``.

    Raises:
        BadInputError: not ``NAME=VALUE``, or a name outside ``net.`` (those are never
            per-namespace).
    """
    name, equals, value = text.partition("=")
    name, value = name.strip().replace("/", "."), value.strip()
    if not equals or not name or not value:
        raise BadInputError(f"--sysctl {text!r}: expected NAME=VALUE, e.g. "
                            "--sysctl net.ipv4.tcp_fin_timeout=2")
    if not _NAME.fullmatch(name):
        raise BadInputError(f"--sysctl {name}: only per-namespace network settings (net.*) can "
                            "be set for a run; this one would change the whole machine")
    return name, value


def check_settings(names: Iterable[str]) -> None:
    """Refuse a setting this kernel does not have, or has only for the whole machine.

    Raises:
        BadInputError: one sentence naming the first such setting.
    """
    wanted = list(dict.fromkeys(names))
    for name in wanted:
        if not os.path.exists(_path(name)):
            raise BadInputError(f"--sysctl {name}: this kernel has no such setting")
    missing = _absent_in_a_new_namespace(wanted)
    if missing:
        raise BadInputError(f"--sysctl {missing[0]}: not a per-namespace setting (a new "
                            "network namespace has no copy of it); setting it would change "
                            "the whole machine")


def _absent_in_a_new_namespace(names: list[str]) -> list[str]:
    """The ``names`` a new network namespace has no copy of (looked at from a forked child)."""
    if not names:
        return []
    from tcptrace_viz.kernel import netns
    from tcptrace_viz.kernel.process import child_exit_status

    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(reader)
            netns.enter_private_netns()
            absent = [name for name in names if not os.path.exists(_path(name))]
            os.write(writer, "\n".join(absent).encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(writer)
    try:
        chunks = []
        while chunk := os.read(reader, 65536):
            chunks.append(chunk)
    finally:
        os.close(reader)
        _, status = os.waitpid(pid, 0)
    if child_exit_status(status) != (0, ""):
        return []  # no namespace to look from: the worker will fail with its own sentence
    return [name for name in b"".join(chunks).decode().split("\n") if name]


def apply_settings(settings: Mapping[str, str]) -> None:
    """Write each setting in the calling process's (new) network namespace.

    Raises:
        ScenarioError: the kernel refused a value (one sentence with its reason).
    """
    for name, value in settings.items():
        try:
            with open(_path(name), "w", encoding="ascii") as handle:
                handle.write(value)
        except OSError as exc:
            raise ScenarioError(f"--sysctl {name}={value}: the kernel refused it "
                                f"({exc.strerror})") from exc


def read_settings(names: Iterable[str] = REPORTED) -> dict[str, str]:
    """The values of ``names`` as the calling process's namespace has them (absent ones left
    out)."""
    values = {}
    for name in names:
        try:
            with open(_path(name), encoding="ascii") as handle:
                values[name] = " ".join(handle.read().split())
        except OSError:
            continue
    return values
