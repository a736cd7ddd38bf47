"""The package's data flow, proved on its imports: no import runs against it.

scenario -> capture -> Trace -> renderers -> CLI.  Each top-level unit of ``tcptrace_viz``
(a subpackage or a module) sits in one layer of :data:`LAYERS`; a module may import its own
unit and units of lower layers only, never a sibling of its own layer nor anything above.  Every
import counts: module level, inside functions, and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import functools
import graphlib
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tcptrace_viz"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("_version", "arrays", "tcp", "reason_words"),
    ("errors", "interrupts"),
    ("event_text", "meta", "vocabulary", "whole_capture"),
    ("model",),  # the Trace
    ("kernel", "pcap", "analysis"),  # what the kernel offers; reading captures; analysing Traces
    ("forked",),  # a function run in a forked child
    ("shard_tables",),  # the connection table of a capture spread over shards
    ("scenarios", "store"),  # the close scenarios; capture folders
    ("big_capture",),  # a capture too big to hold, read shard by shard
    ("capture",),  # a scenario run into a Trace
    ("render",),  # a Trace into pictures and reports
    # report sets on disk; progress lines; the index; errors as one sentence and an exit code
    ("outputs", "progress", "index_state", "command_errors", "parquet_tables"),
    ("runner",),  # capture, judge and report the chosen scenarios, side by side
    # which scenarios a command runs; which connections a report shows; shared options; run
    ("scenario_choice", "connection_triage", "command_options", "program_runner"),
    ("diff_command", "export_parquet"),  # diff's steps; export --parquet
    ("cli",),
    ("notebook",),  # the Trace users hold: rendering and connections at hand
    ("entry", "tcptrace_viz"),  # the console entry point and the public API
    ("__main__",),  # python -m tcptrace_viz
)
RANK = {unit: rank for rank, layer in enumerate(LAYERS) for unit in layer}


def _module_name(path: pathlib.Path) -> str:
    parts = ["tcptrace_viz", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path) -> set[str]:
    """Every ``tcptrace_viz`` module ``path`` imports, anywhere in it."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # ``from a.b import c``: c is module a.b.c or a name in a.b (resolved in _graph)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "tcptrace_viz" or name.startswith("tcptrace_viz.")}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "tcptrace_viz"


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for module, path in modules.items():
        targets = set()
        for imported in _imports(path):
            name = imported
            while name not in modules and "." in name:  # ``from pkg import function``
                name = name.rpartition(".")[0]
            if name in modules and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def test_every_unit_has_a_layer() -> None:
    units = {_unit(module) for module in _graph()}
    assert units <= set(RANK), f"add to LAYERS: {sorted(units - set(RANK))}"


@pytest.mark.parametrize("module", sorted(_graph()))
def test_no_import_runs_against_the_flow(module: str) -> None:
    unit = _unit(module)
    against = sorted(target for target in _graph()[module]
                     if _unit(target) != unit and RANK[_unit(target)] >= RANK[unit])
    assert not against, f"{module} ({unit}, layer {RANK[unit]}) imports {against}"


def test_no_import_cycle_between_modules() -> None:
    """Not even inside one unit, and not through an import inside a function."""
    graph = _graph()
    graphlib.TopologicalSorter(graph).static_order()  # raises CycleError with the cycle


def test_no_module_over_350_lines() -> None:
    long = {str(path.relative_to(PACKAGE)): count for path in PACKAGE.rglob("*.py")
            if (count := len(path.read_text(encoding="utf-8").splitlines())) > 350}
    assert not long, f"split these modules by job: {long}"
