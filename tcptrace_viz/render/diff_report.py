"""``tcptrace-viz diff A B`` as text, Markdown or a self-contained HTML page: the differences
in words, then (HTML) the two ladders side by side."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from tcptrace_viz.render.safe_text import printable
from tcptrace_viz.render.text_columns import wrap_text

if TYPE_CHECKING:
    from tcptrace_viz.analysis.compare import Difference
    from tcptrace_viz.render.prepared import Prepared

DIFF_FORMATS: Final = ("txt", "md", "html")
WIDTH: Final = 100


def _headline(differences: list[Difference]) -> str:
    if not differences:
        return "A and B behaved the same: the same segments, states and system call results"
    count = len(differences)
    return f"A and B differ in {count} place" + "s" * (count != 1)


def diff_report(a: Prepared, b: Prepared, names: tuple[str, str],
                differences: list[Difference], fmt: str) -> str:
    """The comparison of ``a`` and ``b`` (labelled ``names``) as ``fmt``."""
    headline = _headline(differences)
    if fmt == "html":
        return _html(a, b, names, headline, differences)
    if fmt == "md":
        from tcptrace_viz.render.markdown import md_text

        lines = ["# tcptrace-viz diff", "", f"- **A**: {md_text(names[0])}",
                 f"- **B**: {md_text(names[1])}", "", md_text(headline) + ".", ""]
        lines += [f"- {md_text(d.sentence())}" for d in differences]
        return "\n".join(lines) + "\n"
    lines = [f"A: {printable(names[0])}", f"B: {printable(names[1])}",
             *wrap_text(printable(headline) + ".", WIDTH)]
    for difference in differences:
        lines += wrap_text(f"  {printable(difference.sentence())}", WIDTH, indent="    ")
    return "\n".join(lines) + "\n"


_ID: Final = re.compile(r'(\bid="|url\(#|href="#)')


def _prefixed(svg: str, prefix: str) -> str:
    """``svg`` with every id (and every reference to one) prefixed: two drawings in one page
    must not share ids (their clip paths would clip each other)."""
    return _ID.sub(lambda match: match.group(1) + prefix, svg)


def _html(a: Prepared, b: Prepared, names: tuple[str, str], headline: str,
          differences: list[Difference]) -> str:
    from tcptrace_viz.render.templating import (
        content_security_policy,
        environment,
        static_text,
        trusted_svg,
    )

    context = {
        "csp": content_security_policy(None),
        "css": static_text("report.css"),
        "headline": headline,
        "names": names,
        "differences": [d.sentence() for d in differences],
        "svgs": [trusted_svg(_prefixed(a.svg, "a-")), trusted_svg(_prefixed(b.svg, "b-"))],
    }
    return environment().get_template("diff.html.j2").render(context)
