"""Scenario files: a user's own scenarios, written in Python with the API the built-ins use.

``tcptrace-viz capture --file lesson.py`` loads ``lesson.py`` here: the file is run once as a
module of its own, and every function it decorates with :func:`tcptrace_viz.scenario` joins
the registry beside the built-ins.  A file that cannot be read, does not compile, raises,
registers nothing or reuses a scenario's name is refused with one sentence naming the file and
the line (a :class:`~tcptrace_viz.errors.BadInputError`, exit status 2).

Loading a file runs its code, as ``python lesson.py`` would: load only files you trust.
"""

from __future__ import annotations

import sys
import traceback
import types
from pathlib import Path

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.scenarios import registry

_MODULE_PREFIX = "tcptrace_viz_scenario_file_"


def load_scenario_file(path: str | Path) -> list[str]:
    """Run the scenario file ``path`` and return the names of the scenarios it registered, in
    its order (loading the same file again returns them again without running it twice).

    Raises:
        BadInputError: the file is missing or unreadable, does not compile, raised while it
            ran, registered no scenario, or registered a name that is already taken.
    """
    file = Path(path)
    try:
        source = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"{file}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise BadInputError(f"{file}: cannot read this scenario file ({why})") from None
    resolved = str(file.resolve())
    if resolved in _LOADED:
        return list(_LOADED[resolved])
    try:
        code = compile(source, str(file), "exec")
    except SyntaxError as exc:
        raise BadInputError(f"{file}:{exc.lineno}: this scenario file does not compile: "
                            f"{exc.msg}") from None
    module = types.ModuleType(_MODULE_PREFIX + str(len(_LOADED)))
    module.__file__ = str(file)
    before = registry.names()
    sys.modules[module.__name__] = module  # dataclasses and pickling look modules up here
    try:
        exec(code, module.__dict__)  # running the user's file is the point
    except registry.DuplicateScenarioError as exc:
        _forget(module, before)
        raise BadInputError(f"{file}:{_line_in(exc, file)}: {exc}") from None
    except Exception as exc:  # the user's code: any error, said in one sentence
        _forget(module, before)
        raise BadInputError(f"{file}:{_line_in(exc, file)}: this scenario file raised "
                            f"{type(exc).__name__}: {exc}") from None
    added = [name for name in registry.names() if name not in before]
    if not added:
        _forget(module, before)
        raise BadInputError(f"{file}: registers no scenario (decorate a function with "
                            "@tcptrace_viz.scenario(...); see the README)")
    _LOADED[resolved] = added
    return added


_LOADED: dict[str, list[str]] = {}


def unload_scenario_file(path: str | Path) -> None:
    """Forget the scenarios ``path`` registered (to load an edited file again)."""
    for name in _LOADED.pop(str(Path(path).resolve()), []):
        registry.unregister(name)


def _forget(module: types.ModuleType, before: list[str]) -> None:
    """Undo a file that failed: its module and whatever it registered."""
    sys.modules.pop(module.__name__, None)
    for name in registry.names():
        if name not in before:
            registry.unregister(name)


def _line_in(exc: BaseException, file: Path) -> int | str:
    """The line of ``file`` the error came from (the innermost frame in that file)."""
    line: int | str = "?"
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == str(file) and frame.lineno is not None:
            line = frame.lineno
    return line
