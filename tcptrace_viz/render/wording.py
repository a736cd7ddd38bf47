"""Fixed wording the renderers share: the flag and state legends, the verdict word, and meta
values as the lists the reports show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from tcptrace_viz.meta import TraceMeta

FLAG_LEGEND: Final = ("Flags: S = SYN (open), F = FIN (I am done sending), R = RST (reset: "
                      "connection aborted), P = PSH (data), . = ACK; seq/ack count bytes from 0 "
                      "for each side.")
"""One sentence for a reader who has never seen tcpdump output."""

INJECTED_LEGEND: Final = ("injected = sent by the scenario from a raw socket (ctx.inject), not "
                          "by either kernel.")

STATE_LEGEND: Final = ("[STATE] = the kernel's TCP state for that socket, as traced; [STATE?] = "
                       "guessed (sampled, or inferred from the packets).")


def verdict_word(meta: TraceMeta) -> str:
    """``PASS``, ``FAIL`` or ``""`` when the trace has no expectation."""
    verdict = str(meta.verdict or "").strip().lower()
    return {"pass": "PASS", "fail": "FAIL"}.get(verdict, verdict.upper())


def as_list(value: object) -> list[str]:
    """A meta value that should be a list of strings, tolerating a single string or absence."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [str(value)]


def sysctl_items(meta: TraceMeta) -> list[tuple[str, str]]:
    """``meta.sysctls`` as sorted (name, value) pairs, those ``--sysctl`` set marked."""
    values = {str(k): str(v) for k, v in meta.sysctls.items()}
    values.update({str(k): str(v) for k, v in meta.sysctls_set.items() if str(k) not in values})
    return sorted((name, f"{value} (set by the scenario or --sysctl, in this run's namespace only)"
                   if name in meta.sysctls_set else value) for name, value in values.items())


def settings_text(meta: TraceMeta) -> str:
    """What the run was set to: its scenario parameters (``--set``, defaults included) and
    what ``--sysctl`` set in its namespace: ``bytes=41943040, net.ipv4.tcp_fin_timeout=2``."""
    parameters = [f"{name}={value}" for name, value in sorted(meta.parameters.items())]
    sysctls = [f"{name}={value}" for name, value in sorted(meta.sysctls_set.items())]
    return ", ".join(parameters + sysctls)


def verdict_line(name: str, meta: TraceMeta | None, why: str = "", width: int = 0) -> str:
    """One line for ``check``: the scenario's name (padded to ``width``), ``PASS``, ``FAIL`` or
    ``ERROR`` (``meta`` None: the run crashed, ``why``), and unless it passed the first thing
    that was not as expected."""
    if meta is None:
        word, first = "ERROR", why
    else:
        word = verdict_word(meta) or "?"
        detail = str(meta.verdict_detail or "")
        note = f"(note: {detail})" if detail else ""
        first = detail.split("; ", maxsplit=1)[0] if word != "PASS" else note
    line = f"{name:<{width}}  {word}" + (f"  {first}" if first else "")
    return line.replace("\n", " ")
