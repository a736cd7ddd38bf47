"""What a Trace is of: its scenario or file, how it was seen, and what the run was expected to do.

:class:`TraceMeta` is the typed metadata every Trace carries.  It is written into a capture
folder's ``trace.json`` as a flat JSON object (:meth:`TraceMeta.to_json`) and read back from
untrusted JSON by :meth:`TraceMeta.from_json`, which keeps each field's type and keeps what it
does not know (written by a newer version, or by a scenario's own steps) in ``facts``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

Value = int | float | str
"""A scenario parameter's value."""


@dataclasses.dataclass(frozen=True)
class KeyMoment:
    """One event a scenario's lesson turns on, and what it means in plain words."""

    kind: str
    """``packet``, ``state`` or ``syscall``: the table the event is in."""
    ts_ns: int
    """When it happened (a syscall: when it returned), as in that table's ``ts_ns``."""
    says: str
    """The plain words, e.g. ``the write succeeds: the kernel only knows of a FIN``."""

    @classmethod
    def from_json(cls, value: Any) -> KeyMoment | None:
        """Read one from untrusted JSON; None unless it has the three fields, typed."""
        if not isinstance(value, Mapping):
            return None
        kind, ts_ns, says = value.get("kind"), value.get("ts_ns"), value.get("says")
        if kind not in ("packet", "state", "syscall") or not isinstance(says, str) \
                or not isinstance(ts_ns, int) or isinstance(ts_ns, bool):
            return None
        return cls(kind, ts_ns, says)


@dataclasses.dataclass
class TraceMeta:
    """The metadata of one Trace (a field left at its default was not known)."""

    # --- what the trace is of --------------------------------------------------------------------
    source: str = ""
    """How the trace was made: ``"capture"`` (a scenario run here), ``"run"`` (a user's own
    program run here, ``tcptrace-viz run``) or ``"file"`` (a user's pcap/pcapng file, states
    inferred from the packets)."""
    scenario: str = ""
    """The scenario's name, or the file's name for a user's capture."""
    title: str = ""
    """One line saying what the trace shows."""
    teaches: str = ""
    """What a reader should learn from the scenario (empty for a file)."""
    steps: str = ""
    """The scenario's steps in catalogue notation (C = client, S = server)."""
    sides: tuple[str, str] = ("client", "server")
    """The two lifelines, left to right."""
    parameters: dict[str, Value] = dataclasses.field(default_factory=dict)
    """The scenario parameter values the run used (defaults, or what ``--set`` gave)."""
    endpoints: dict[str, str] = dataclasses.field(default_factory=dict)
    """Each side's address and port as the ladder writes it (``[fd00::1]:5555``)."""
    family: str = ""
    """``"IPv4"`` or ``"IPv6"`` for a capture."""
    facts: dict[str, Any] = dataclasses.field(default_factory=dict)
    """What the scenario's own steps recorded (``bytes_accepted``, ``bytes_delivered``, a
    ``note``...), and any key a newer version wrote that this one does not know."""

    # --- how it was seen ------------------------------------------------------------------------
    kernel: str = ""
    """The kernel release the capture ran on."""
    sysctls: dict[str, str] = dataclasses.field(default_factory=dict)
    """The TCP settings that change how a close behaves, as the kernel reported them (in the
    run's own network namespace)."""
    sysctls_set: dict[str, str] = dataclasses.field(default_factory=dict)
    """What ``--sysctl`` set in the run's namespace (the machine's own settings untouched)."""
    tool_version: str = ""
    """The tcptrace-viz version that made the trace."""
    captured_at: str = ""
    """When the capture started, UTC, ISO 8601."""
    namespace: str = ""
    """How the run got its network namespace (root, or a user namespace)."""
    clocks: dict[str, str] = dataclasses.field(default_factory=dict)
    """Which clock timed the packets and which the states, and how they were aligned."""
    state_source: str = ""
    """Where the states came from: ``tracepoint``, ``sampled`` or ``inferred``."""
    state_source_note: str = ""
    """Why the states were not traced (no tracefs...), else empty."""
    order_notes: list[str] = dataclasses.field(default_factory=list)
    """States that do not sort between the packets that caused them, one sentence each."""
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Counters: segments captured, the kernel's own segment counts, losses (``losses``: one
    sentence per place a segment was lost), ring size, reordered frames..."""
    error: str = ""
    """The sentence a scenario step failed with, else empty."""

    # --- a user's file ----------------------------------------------------------------------------
    file: str = ""
    """The path of the file read."""
    file_format: str = ""
    """``pcap`` or ``pcapng`` (with its variant)."""
    partial: bool = False
    """The file is damaged or truncated: the trace holds what could be read."""
    problem: str = ""
    """What was wrong with the file, one sentence."""
    comments: list[str] = dataclasses.field(default_factory=list)
    """The file's own comments (untrusted text)."""
    interfaces: list[str] = dataclasses.field(default_factory=list)
    """Each interface's name, description and comments from the file, one line each
    (untrusted text)."""
    frames_total: int = 0
    """Records in the file, TCP or not."""

    # --- a user's program (tcptrace-viz run) ------------------------------------------------------
    command: list[str] = dataclasses.field(default_factory=list)
    """The command line(s) run: one, or the server's and then the client's."""
    programs: list[str] = dataclasses.field(default_factory=list)
    """Each program started, its pid and how it ended, one line each."""
    exit_status: str = ""
    """How the program (the client, with two) ended: ``exited with status 0``,
    ``killed by SIGPIPE``."""
    interrupted: bool = False
    """The run was stopped (Ctrl-C, SIGTERM) before the program ended by itself."""
    syscall_source: str = ""
    """Where the syscalls came from: ``tracepoint`` (the kernel's syscall tracepoints),
    ``unavailable``; empty for a scenario (its own steps log them)."""
    syscall_note: str = ""
    """What the syscalls table cannot show, or why there is none."""
    fds: list[str] = dataclasses.field(default_factory=list)
    """Which fd of which process was which connection, one line each."""

    # --- what was expected, and the verdict ------------------------------------------------------
    expected: list[str] = dataclasses.field(default_factory=list)
    """The outcomes the scenario accepts, one line each."""
    observed: list[str] = dataclasses.field(default_factory=list)
    """What the run showed, in the outcomes' terms."""
    verdict: str = ""
    """``"pass"``, ``"fail"`` or ``"error"``; empty when not judged (a file)."""
    verdict_detail: str = ""
    """Why the verdict is what it is (what failed, what was not seen)."""
    matched_outcome: str = ""
    """The label of the outcome that matched."""
    key_moments: list[KeyMoment] = dataclasses.field(default_factory=list)
    """The events the scenario's lesson turns on, found in this run, in time order."""

    @property
    def display_name(self) -> str:
        """What to call the trace in a heading: the scenario's name, else the file's, else
        ``TCP trace``."""
        return self.scenario or self.file or "TCP trace"

    def to_json(self) -> dict[str, Any]:
        """A flat JSON object: the fields, then the facts at the top level as well."""
        document = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                    if field.name != "facts"}
        document["sides"] = list(self.sides)
        document["key_moments"] = [dataclasses.asdict(moment) for moment in self.key_moments]
        for key, value in self.facts.items():
            document.setdefault(key, value)
        normalised: dict[str, Any] = json.loads(json.dumps(document, default=str))
        return normalised

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> TraceMeta:
        """Read untrusted JSON (or a plain mapping): a value of the wrong type is left at its
        default, an unknown key goes to ``facts``."""
        meta = cls()
        known = {field.name: field for field in dataclasses.fields(cls)}
        for key, value in document.items():
            field = known.get(str(key))
            if field is None or key == "facts":
                if key == "facts" and isinstance(value, Mapping):
                    meta.facts.update({str(k): v for k, v in value.items()})
                else:
                    meta.facts[str(key)] = value
                continue
            if key == "key_moments":
                moments = [KeyMoment.from_json(item) for item in value] \
                    if isinstance(value, list) else []
                meta.key_moments = [moment for moment in moments if moment is not None]
                continue
            coerced = _coerce(getattr(meta, field.name), value)
            if coerced is not None:
                setattr(meta, field.name, coerced)
        return meta

    def normalised(self) -> TraceMeta:
        """This metadata as it will read back from ``trace.json``."""
        return TraceMeta.from_json(self.to_json())

    def update(self, values: Mapping[str, Any]) -> None:
        """Set fields by name; a name that is no field becomes a fact."""
        names = {field.name for field in dataclasses.fields(self)}
        for key, value in values.items():
            if key in names and key != "facts":
                setattr(self, key, value)
            else:
                self.facts[key] = value


def _coerce(default: Any, value: Any) -> Any:
    """``value`` in the type of the field whose default is ``default``, or None if it is not."""
    if isinstance(default, bool):
        return value if isinstance(value, bool) else None
    if isinstance(default, int):
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(default, str):
        return value if isinstance(value, str) else None
    if isinstance(default, tuple):  # sides
        if isinstance(value, list | tuple) and len(value) == 2:
            return (str(value[0]), str(value[1]))
        return None
    if isinstance(default, list):
        return [str(item) for item in value] if isinstance(value, list | tuple) else None
    if isinstance(default, dict):
        return {str(key): item for key, item in value.items()} if isinstance(value, Mapping) \
            else None
    return None
