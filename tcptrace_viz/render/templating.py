"""The jinja2 environment for HTML output, the Content-Security-Policy, and the inline SVG check.

Every template is autoescaped (``autoescape=True``, whatever its file name: jinja2's
``select_autoescape()`` would *not* escape ``*.html.j2``).  The only markup that enters a page
unescaped is our own static script and the ladder SVG, and the SVG only after ``trusted_svg()``
has checked that it is the inert drawing matplotlib wrote (matplotlib escapes capture text).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import xml.etree.ElementTree as ET
from importlib import resources
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

SVG_NS: Final = "{http://www.w3.org/2000/svg}"
_FORBIDDEN_SVG_TAGS: Final = frozenset({"script", "foreignObject", "iframe", "object", "embed",
                                        "a", "image", "animate", "set", "handler"})


@functools.cache
def environment() -> jinja2.Environment:
    """The shared jinja2 environment: package templates, autoescaping on, strict undefined."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("tcptrace_viz.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@functools.cache
def static_text(name: str) -> str:
    """A static file shipped next to the templates (script, stylesheet)."""
    return resources.files("tcptrace_viz.render").joinpath("templates", name).read_text("utf-8")


def csp_hash(source: str) -> str:
    """The CSP source expression allowing exactly this inline script or style."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(script: str | None) -> str:
    """Nothing external; only our own inline script (by hash), inline styles and data: images."""
    script_src = csp_hash(script) if script else "'none'"
    return ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
            f"script-src {script_src}; base-uri 'none'; form-action 'none'")


class UntrustedSvgError(ValueError):
    """The SVG handed to the report is not the inert drawing matplotlib makes."""


def trusted_svg(svg: str) -> Markup:
    """Check ``svg`` and return it, without its XML prologue, as Markup for inline use.

    It must parse as XML, have an ``<svg>`` root, and contain no element that runs code or
    loads anything, no link outside itself (matplotlib's ``<use href="#m…">`` markers are
    fine) and no ``on*`` event attribute.  matplotlib output
    passes; an SVG into which capture text had leaked as markup does not.

    Raises:
        UntrustedSvgError: the check failed.
    """
    from markupsafe import Markup

    try:
        root = ET.fromstring(svg)
    except ET.ParseError as exc:
        raise UntrustedSvgError(f"the ladder SVG does not parse: {exc}") from exc
    if root.tag != f"{SVG_NS}svg":
        raise UntrustedSvgError("the ladder SVG has no <svg> root")
    metadata = {id(el) for meta in root.iter(f"{SVG_NS}metadata") for el in meta.iter()}
    for element in root.iter():
        if id(element) in metadata:
            continue  # matplotlib's RDF description (never rendered), written by us
        tag = element.tag.removeprefix(SVG_NS)
        if tag in _FORBIDDEN_SVG_TAGS or not element.tag.startswith(SVG_NS):
            raise UntrustedSvgError(f"the ladder SVG holds a <{tag}> element")
        for attr in element.attrib:
            name = attr.rsplit("}", 1)[-1].lower()
            if name.startswith("on"):
                raise UntrustedSvgError(f"the ladder SVG holds an {name} attribute")
            if name == "href" and not element.attrib[attr].startswith("#"):
                raise UntrustedSvgError("the ladder SVG links outside itself")
    start = svg.find("<svg")
    return Markup(svg[start:])
