"""Per-namespace TCP settings: ``--sysctl net.ipv4.tcp_fin_timeout=2`` inside a run's namespace.

A network namespace has its own copy of most ``net.*`` settings; ``/proc/sys/net`` shows the
copies of the namespace of the process that reads it, and only those a namespace has: a
setting that exists on the host but not in a new namespace is global, and writing it would
change the whole machine.  :func:`check_settings` refuses those (and unknown names, and
values the kernel refuses) before anything runs, by trying them in a throwaway namespace; the
worker applies the rest with :func:`apply_settings` after entering its own, and reads the
namespace's values back with :func:`read_settings` for the Trace.
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


def parse_settings(texts: Iterable[str]) -> dict[str, str]:
    """Every ``--sysctl`` as name -> value.

    Raises:
        BadInputError: one is malformed, or a name is given twice with different values.
    """
    settings: dict[str, str] = {}
    for text in texts:
        name, value = parse_setting(text)
        if settings.get(name, value) != value:
            raise BadInputError(f"--sysctl {name} is given twice ({settings[name]} and {value})")
        settings[name] = value
    return settings


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


def check_settings(settings: Mapping[str, str]) -> None:
    """Refuse a setting this kernel does not have, has only for the whole machine, or would
    refuse the value of (tried in a throwaway namespace, so nothing runs with a bad one).

    Raises:
        BadInputError: one sentence naming the first such setting.
    """
    for name in settings:
        if not os.path.exists(_path(name)):
            raise BadInputError(f"--sysctl {name}: this kernel has no such setting")
    for line in _tried_in_a_new_namespace(dict(settings)):
        kind, name, why = [*line.split("\t"), "", ""][:3]
        if kind == "absent":
            raise BadInputError(f"--sysctl {name}: not a per-namespace setting (a new "
                                "network namespace has no copy of it); setting it would "
                                "change the whole machine")
        if kind == "refused":
            raise BadInputError(f"--sysctl {name}={settings.get(name, '')}: the kernel refuses "
                                f"this value ({why})")


def _tried_in_a_new_namespace(settings: dict[str, str]) -> list[str]:
    """Each setting written in a new network namespace (a forked child's, thrown away after):
    ``absent\tNAME`` where it has no copy, ``refused\tNAME\twhy`` where the value is refused."""
    if not settings:
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
            lines = []
            for name, value in settings.items():
                try:
                    with open(_path(name), "w", encoding="ascii") as handle:
                        handle.write(value)
                except FileNotFoundError:
                    lines.append(f"absent\t{name}")
                except OSError as exc:
                    lines.append(f"refused\t{name}\t{exc.strerror}")
            os.write(writer, "\n".join(lines).encode())
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
    return [line for line in b"".join(chunks).decode().split("\n") if line]


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
