"""The scenario registry: a decorator fills it, refuses a duplicate, lists in order, copies."""

from __future__ import annotations

import dataclasses

import pytest

from tcptrace_viz.scenarios import CATALOGUE, registry
from tcptrace_viz.scenarios.expectation import Outcome


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> dict[str, registry.Scenario]:
    """An empty registry for this test; the built-ins are back afterwards."""
    empty: dict[str, registry.Scenario] = {}
    monkeypatch.setattr(registry, "_REGISTRY", empty)
    return empty


def _steps(ctx: object) -> None:
    """Steps that never run here."""


def _register(name: str, **fields: object) -> None:
    registry.scenario(name=name, title=f"{name}: a title", teaches="what it teaches",
                      steps="C close()", outcomes=(Outcome("Linux"),), **fields)(_steps)


def test_the_built_ins_are_the_catalogues() -> None:
    assert sorted(registry.names()) == sorted(CATALOGUE)
    assert len(set(registry.names())) == len(registry.names())


def test_the_built_ins_are_registered_in_catalogue_order() -> None:
    assert registry.names() == list(CATALOGUE)


def test_the_decorator_registers_and_returns_the_function(
        fresh: dict[str, registry.Scenario]) -> None:
    decorated = registry.scenario(name="demo", title="t", teaches="x", steps="s",
                                  outcomes=())(_steps)
    assert decorated is _steps
    demo = registry.get("demo")
    assert (demo.name, demo.title, demo.run) == ("demo", "t", _steps)
    assert (demo.wire, demo.sides, demo.parameters, demo.burst_bytes, demo.complete) == (
        True, ("client", "server"), (), None, False)


def test_every_field_given_is_kept(fresh: dict[str, registry.Scenario]) -> None:
    def burst(values: object) -> int:
        return 7

    _register("pipe-like", wire=False, sides=("writer", "reader"), burst_bytes=burst,
              complete=True)
    pipe = registry.get("pipe-like")
    assert (pipe.wire, pipe.sides, pipe.burst_bytes, pipe.complete) == (
        False, ("writer", "reader"), burst, True)
    assert pipe.outcomes == (Outcome("Linux"),)


def test_names_are_in_registration_order(fresh: dict[str, registry.Scenario]) -> None:
    for name in ("zeta", "alpha", "mid"):
        _register(name)
    assert registry.names() == ["zeta", "alpha", "mid"]


def test_a_duplicate_name_is_refused_and_the_first_kept(
        fresh: dict[str, registry.Scenario]) -> None:
    _register("twice")
    first = registry.get("twice")
    with pytest.raises(ValueError) as caught:
        _register("twice", wire=False)
    assert str(caught.value) == "scenario 'twice' is registered twice; choose another name"
    assert registry.get("twice") == first and registry.names() == ["twice"]


def test_a_built_in_name_cannot_be_taken() -> None:
    before, names = registry.get("linger0"), registry.names()
    with pytest.raises(ValueError, match="scenario 'linger0' is a built-in; choose another"):
        _register("linger0")
    assert registry.get("linger0") == before
    assert registry.names() == names


def test_get_hands_out_a_copy() -> None:
    one, two = registry.get("close-then-write"), registry.get("close-then-write")
    assert one == two and one is not two
    assert one is not registry._REGISTRY["close-then-write"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.title = "changed"  # type: ignore[misc]
    assert registry.get("close-then-write").title == two.title


def test_names_hands_out_a_new_list() -> None:
    listed = registry.names()
    kept = list(listed)
    listed.append("mine")
    listed.remove("linger0")
    assert registry.names() == kept


def test_an_unknown_name_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no-such-scenario"):
        registry.get("no-such-scenario")


def test_the_cli_names_an_unknown_scenario_in_one_sentence() -> None:
    from click.testing import CliRunner

    from tcptrace_viz.cli import main

    result = CliRunner().invoke(main, ["check", "-s", "no-such-scenario"])
    assert result.exit_code == 2
    message = result.output.strip().splitlines()[-1]
    assert "unknown scenario 'no-such-scenario'" in message
    assert "`tcptrace-viz list` shows the built-in ones" in message
    assert "Traceback" not in result.output
