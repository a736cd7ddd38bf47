"""What turns the HTML report into a lesson: the steps its player plays, the live TCP state
machine beside the ladder, quiz mode, and a built-in scenario's own source code.

:func:`lesson_context` gives the report template its part of the context; the pieces live in
:mod:`.lesson_steps` (the steps and their captions) and :mod:`.fsm` (the state machine).
"""

from __future__ import annotations

import inspect
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from tcptrace_viz.render.fsm import badge_letters, fsm_svg
from tcptrace_viz.render.lesson_steps import steps, steps_json
from tcptrace_viz.render.templating import trusted_svg

if TYPE_CHECKING:
    from tcptrace_viz.meta import TraceMeta
    from tcptrace_viz.render.options import RenderOptions
    from tcptrace_viz.render.prepared import Prepared

BUILTIN_PACKAGE: Final = "tcptrace_viz.scenarios.builtin"


def lesson_context(prepared: Prepared, options: RenderOptions) -> dict[str, Any]:
    """The template variables of the player, the state machine and the source section."""
    trace = prepared.selection.trace
    sides = [*trace.sides, "", ""][:2]
    has_states = bool(len(trace.states))
    return {
        "steps_json": steps_json(steps(prepared)),
        "quiz": options.quiz,
        "fsm": trusted_svg(fsm_svg(sides)) if has_states else None,
        "fsm_sides": list(zip(sides, badge_letters(sides), strict=True)),
        "source": scenario_source(prepared.trace.meta),
    }


def scenario_source(meta: TraceMeta) -> dict[str, str] | None:
    """The module of the built-in scenario ``meta.scenario`` names: its path inside the
    package and its text; None for anything else (a user's scenario, a capture file)."""
    name = str(meta.scenario or "")
    if not name:
        return None
    from tcptrace_viz import scenarios

    try:
        scenario = scenarios.get(name)
    except KeyError:
        return None
    module = inspect.getmodule(scenario.run)
    if module is None or not module.__name__.startswith(BUILTIN_PACKAGE + "."):
        return None
    filename = module.__name__.rsplit(".", 1)[1] + ".py"
    try:
        text = resources.files(BUILTIN_PACKAGE).joinpath(filename).read_text("utf-8")
    except OSError:
        return None
    return {"path": f"tcptrace_viz/scenarios/builtin/{filename}", "text": text}
