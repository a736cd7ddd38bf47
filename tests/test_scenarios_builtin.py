"""The built-in catalogue: one module per scenario, listed once, each one described (no root).

Nothing here counts the scenarios or names them: these hold for any catalogue, so adding a
scenario is its module plus one import line in ``tcptrace_viz/scenarios/builtin/__init__.py``.
"""

from __future__ import annotations

import ast
import importlib
import pathlib
import re
import subprocess
import sys

import pytest

from tcptrace_viz.scenarios import CATALOGUE, builtin, get, names
from tcptrace_viz.scenarios.registry import scenario

BUILTIN_DIR = pathlib.Path(builtin.__file__).parent
CLI_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
DIRECTIONS = ("c2s", "s2c")


def module_of(name: str) -> str:
    """The module a built-in scenario lives in: its CLI name with ``_`` for ``-``."""
    return f"{builtin.__name__}.{name.replace('-', '_')}"


def imported_modules() -> list[str]:
    """The modules ``builtin/__init__.py`` imports, in its order (the catalogue)."""
    tree = ast.parse((BUILTIN_DIR / "__init__.py").read_text())
    return [alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
            and node.module == builtin.__name__ for alias in node.names]


def test_catalogue_is_the_registry_in_registration_order() -> None:
    assert tuple(names()) == CATALOGUE
    assert CATALOGUE


def test_catalogue_needs_no_assert() -> None:
    """``python -O`` strips asserts: the catalogue must come out the same without them."""
    code = "from tcptrace_viz.scenarios import CATALOGUE; print(','.join(CATALOGUE))"
    optimised = subprocess.run([sys.executable, "-O", "-c", code], check=True,
                               capture_output=True, text=True, timeout=60).stdout.strip()
    assert optimised == ",".join(CATALOGUE)


def test_every_builtin_comes_from_a_module_named_after_it() -> None:
    for name in names():
        assert get(name).run.__module__ == module_of(name), name


def test_the_import_list_is_the_catalogue() -> None:
    """Every module in builtin/ is imported exactly once, and in the order scenarios register."""
    files = sorted(path.stem for path in BUILTIN_DIR.glob("*.py")
                   if not path.name.startswith("_"))
    imported = imported_modules()
    assert len(imported) == len(set(imported)), "a module is imported twice"
    assert sorted(imported) == files, "a module in builtin/ is missing from the import list"
    assert imported == [module_of(name).rpartition(".")[2] for name in names()]


def test_names_are_unique_and_a_duplicate_is_refused() -> None:
    assert len(set(names())) == len(names())
    before = names()
    with pytest.raises(ValueError, match="is a built-in"):
        scenario(name=before[0], title="t", teaches="t", steps="t", outcomes=())(
            lambda _ctx: None)
    assert names() == before


@pytest.mark.parametrize("name", CATALOGUE)
def test_scenario_is_described(name: str) -> None:
    scen = get(name)
    assert scen.name == name
    assert CLI_NAME.fullmatch(name)
    assert scen.title and "\n" not in scen.title
    assert scen.teaches and scen.steps
    assert scen.run.__doc__, "the steps function says what it does"
    module = importlib.import_module(module_of(name))
    assert module.__doc__ and module.__doc__.startswith(f"{name}: ")


@pytest.mark.parametrize("name", CATALOGUE)
def test_outcomes_are_well_formed(name: str) -> None:
    """Outcomes exist, each requires something, and refers only to the scenario's sides."""
    scen = get(name)
    assert scen.outcomes
    labels = [outcome.label for outcome in scen.outcomes]
    assert all(labels) and len(labels) == len(set(labels))
    assert len(set(scen.sides)) == 2
    parameters = {parameter.name for parameter in scen.parameters}
    for outcome in scen.outcomes:
        assert outcome.describe()
        segments = outcome.wire + outcome.forbidden + outcome.present
        if not scen.wire:
            assert not segments, "a scenario without TCP traffic expects no segments"
        for pattern in segments:
            direction, _, flags = pattern.partition(" ")
            assert direction in DIRECTIONS and flags, pattern
        for state in outcome.states:
            assert state.split()[0] in scen.sides, state
        for call in outcome.calls:
            assert call.side in scen.sides, call
            assert set(re.findall(r"\{(\w+)\}", call.ret or "")) <= parameters, call


@pytest.mark.parametrize("name", CATALOGUE)
def test_parameters_are_well_formed(name: str) -> None:
    scen = get(name)
    declared = [parameter.name for parameter in scen.parameters]
    assert len(declared) == len(set(declared))
    for parameter in scen.parameters:
        assert parameter.help
        if parameter.minimum is not None and isinstance(parameter.default, int | float):
            assert parameter.default >= parameter.minimum
        if parameter.maximum is not None and isinstance(parameter.default, int | float):
            assert parameter.default <= parameter.maximum
    if scen.burst_bytes is not None:
        assert scen.burst_bytes({p.name: p.default for p in scen.parameters}) > 0


def test_the_builtins_use_only_the_public_scenario_api() -> None:
    """A scenario file has every tool a built-in has: built-ins import nothing of the package
    but :mod:`tcptrace_viz.scenarios.api` (what ``from tcptrace_viz import ...`` offers), and
    the steps of another built-in they vary (as a file may share its own functions)."""
    import tcptrace_viz
    from tcptrace_viz.scenarios import api

    for path in BUILTIN_DIR.glob("*.py"):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tcptrace_viz"):
                sibling = (node.module or "").rpartition(".")
                if sibling[0] == "tcptrace_viz.scenarios.builtin":
                    assert (BUILTIN_DIR / f"{sibling[2]}.py").is_file(), node.module
                    continue
                assert node.module == "tcptrace_viz.scenarios.api", (path.name, node.module)
                for alias in node.names:
                    assert getattr(tcptrace_viz, alias.name) is getattr(api, alias.name)
            assert not (isinstance(node, ast.Import)
                        and any(a.name.startswith("tcptrace_viz") for a in node.names)), path
