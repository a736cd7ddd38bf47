"""Markdown for tickets and wikis: what happened, the verdict, the diagram, the timeline table.

The diagram is a fenced ``mermaid`` block (drawn by GitHub and GitLab) followed by the ASCII
ladder for plain viewers.  Every cell from the capture is escaped: ``|`` and backticks cannot
break the table, and HTML, links, emphasis or ``$math$`` are shown as the literal text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from tcptrace_viz.analysis.selection import rows_of
from tcptrace_viz.render.capture_triage import findings_lines, triage_lines
from tcptrace_viz.render.data_loss import data_loss
from tcptrace_viz.render.file_comments import file_comment_items
from tcptrace_viz.render.mermaid import mermaid_text
from tcptrace_viz.render.program_facts import is_program, run_lines
from tcptrace_viz.render.safe_text import printable
from tcptrace_viz.render.text import KEEP_EACH_END, MAX_EVENTS, ladder_text
from tcptrace_viz.render.wording import as_list, verdict_word

if TYPE_CHECKING:
    from tcptrace_viz.render.options import RenderOptions
    from tcptrace_viz.render.prepared import Prepared

TABLE_MAX: Final = 500
"""Timeline rows written at most (a ticket is not the place for the full capture)."""
_PUNCTUATION: Final = re.compile(r"([\\`*_\[\]<#|~&$@])")
"""Characters that could start markup, a link, HTML, math, a mention or an issue link."""
_BACKTICKS: Final = re.compile(r"`+")


class MarkdownReport:
    """The ``md`` format."""


    def render(self, prepared: Prepared, options: RenderOptions) -> str:
        """The Markdown report, ending in a newline."""
        return markdown_report(prepared, options)


def md_text(text: object) -> str:
    """Plain text for Markdown: one line, every markup character backslash-escaped."""
    return _PUNCTUATION.sub(r"\\\1", printable(text))


def md_code(text: object) -> str:
    """Text as an inline code span that survives any backticks in it and table pipes."""
    body = printable(text).replace("|", "\\|")
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`"):
        body = f" {body} "
    return f"{fence}{body}{fence}" if body else ""


def _fenced(body: str, info: str = "") -> list[str]:
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", body.rstrip("\n"), fence]


def markdown_report(prepared: Prepared, options: RenderOptions | None = None) -> str:
    """Render a prepared trace (one connection of it, and those ``options.more`` names) as
    Markdown; a user's capture's report begins with its triage (summary, table, findings)."""
    meta = prepared.trace.meta
    name = meta.display_name
    out = [f"# {md_text(name)}", ""]
    if meta.title:
        out += [f"*{md_text(meta.title)}*", ""]
    out += triage_lines(prepared, "md", options)
    if meta.teaches:
        out += [f"> {md_text(meta.teaches)}", ""]
    verdict = verdict_word(meta)
    if verdict:
        detail = f": {md_text(meta.verdict_detail)}" if meta.verdict_detail else ""
        out += [f"**Verdict: {verdict}**{detail}", ""]
    expected, observed = as_list(meta.expected), as_list(meta.observed)
    if expected or observed:
        out += ["| expected (any of) | observed |", "|---|---|"]
        for i in range(max(len(expected), len(observed))):
            left = md_text(expected[i]) if i < len(expected) else ""
            right = md_text(observed[i]) if i < len(observed) else ""
            out.append(f"| {left} | {right} |")
        out.append("")
    counted = data_loss(meta)
    if counted is not None:
        accepted, delivered = counted
        out += [f"send() accepted {accepted:,} bytes; the peer received {delivered:,}: "
                f"**{accepted - delivered:,} bytes lost**.", ""]
    facts = [f"{label} {md_text(getattr(meta, key))}" for key, label in (
        ("kernel", "kernel"), ("family", "family"), ("captured_at", "captured"),
        ("tool_version", "tcptrace-viz")) if getattr(meta, key)]
    if facts:
        out += ["; ".join(facts) + ".", ""]
    out += [f"- {label}: {md_text(text)}" for label, text in file_comment_items(meta)]
    if file_comment_items(meta):
        out.append("")
    if is_program(meta):
        out += [f"- **{head.strip().rstrip(':')}**: {md_text(text)}"
                for head, text in run_lines(prepared)] + [""]
    if meta.partial:
        problem = str(meta.problem or "reading stopped early").rstrip(".")
        out += [f"**Partial trace:** {md_text(problem)}.",
                ""]
    elif meta.problem:  # read to the end, but some frames could not be used
        out += [f"**Not everything in the file is shown:** "
                f"{md_text(str(meta.problem).rstrip('.'))}.", ""]

    out += ["## What happened", "", *_diagram(prepared)]

    unit, factor = prepared.ladder().time_unit
    decimals = 3 if unit == "ms" else 6
    out += ["## Timeline", "", f"| t ({unit}) | what | who | description |",
            "|---:|---|---|---|"]
    table = prepared.timeline
    for item in rows_of(table.head(TABLE_MAX)):
        out.append(f"| {float(item.t) * factor:.{decimals}f} | {item.kind} | "
                   f"{md_text(item.side)} | {md_code(item.text)} |")
    more = prepared.timeline_length - TABLE_MAX
    if more > 0:
        out += ["", f"{more} more events are in the HTML report and the pcapng."]
    for extra, why in options.more if options else ():
        conn = int(extra.selection.connection or 0)
        out += ["", f"## Connection {conn}", ""] + ([md_text(why) + ".", ""] if why else [])
        out += ["### Findings", "", *findings_lines(extra.trace, conn, "md"), "",
                *_diagram(extra)]
    return "\n".join(out) + "\n"


def _diagram(prepared: Prepared) -> list[str]:
    """The ladder's note, its Mermaid diagram and its text ladder (folded)."""
    ladder = prepared.ladder()
    out = [md_text(ladder.note) + ".", ""] if ladder.note else []
    out += [*_fenced(mermaid_text(ladder), "mermaid"), ""]
    text_ladder = prepared.ladder(MAX_EVENTS, KEEP_EACH_END)
    out += ["<details><summary>Text ladder</summary>", ""]
    return [*out, *_fenced(ladder_text(text_ladder, prepared.trace.meta)), "", "</details>", ""]
