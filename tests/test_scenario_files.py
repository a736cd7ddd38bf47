"""Scenario files: a user's scenarios in Python, loaded beside the built-ins (no root needed)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.scenarios import files, registry

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

GOOD = '''
from tcptrace_viz import Outcome, ScenarioContext, scenario


@scenario(name="{name}", title="a lesson", teaches="something", steps="C close()",
          outcomes=(Outcome("Linux", wire=("c2s F.",)),))
def lesson(ctx: ScenarioContext) -> None:
    client, server = ctx.connected_pair()
    ctx.close("client", client)
'''


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Whatever a test's files register is forgotten afterwards."""
    before = registry.names()
    loaded = dict(files._LOADED)
    yield
    for name in registry.names():
        if name not in before:
            registry.unregister(name)
    files._LOADED.clear()
    files._LOADED.update(loaded)


def _file(tmp_path: Path, text: str, name: str = "lesson.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_file_registers_its_scenarios_once(tmp_path: Path, clean_registry: None) -> None:
    path = _file(tmp_path, GOOD.format(name="my-lesson"))
    assert files.load_scenario_file(path) == ["my-lesson"]
    assert files.load_scenario_file(path) == ["my-lesson"]  # not run twice
    scenario = registry.get("my-lesson")
    assert scenario.title == "a lesson" and scenario.run.__name__ == "lesson"
    path.write_text(GOOD.format(name="renamed"))  # edited: unload, load again
    files.unload_scenario_file(path)
    assert "my-lesson" not in registry.names()
    assert files.load_scenario_file(path) == ["renamed"]


@pytest.mark.parametrize(("text", "said"), [
    ("def broken(:\n    pass\n", r"lesson.py:1: this scenario file does not compile: "),
    ("x = 1\n\nraise RuntimeError('no network here')\n",
     r"lesson.py:3: this scenario file raised RuntimeError: no network here"),
    ("import os\n", r"lesson.py: registers no scenario \(decorate a function with "),
    (GOOD.format(name="linger0"), r"lesson.py:5: scenario 'linger0' is a built-in; choose"),
    (GOOD.format(name="twice") + GOOD.format(name="twice").replace("def lesson", "def again"),
     r"lesson.py:\d+: scenario 'twice' is registered twice"),
])
def test_a_bad_file_gets_one_sentence_with_file_and_line(
        tmp_path: Path, clean_registry: None, text: str, said: str) -> None:
    before = registry.names()
    with pytest.raises(BadInputError, match=said) as caught:
        files.load_scenario_file(_file(tmp_path, text))
    assert "\n" not in str(caught.value)
    assert registry.names() == before  # nothing of a failed file stays registered


def test_a_missing_or_unreadable_file(tmp_path: Path, clean_registry: None) -> None:
    with pytest.raises(BadInputError, match=r"nope\.py: no such scenario file"):
        files.load_scenario_file(tmp_path / "nope.py")
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(BadInputError, match="cannot read this scenario file"):
        files.load_scenario_file(binary)


def test_a_bad_key_moment_is_refused_at_its_line(tmp_path: Path, clean_registry: None) -> None:
    text = GOOD.format(name="m").replace(
        'outcomes=(Outcome("Linux", wire=("c2s F.",)),))',
        'outcomes=(Outcome("Linux", wire=("c2s F.",)),),\n'
        '          key_moments=(Moment("client", "x"),))').replace(
        "import Outcome", "import Moment, Outcome")
    with pytest.raises(BadInputError, match=r"lesson.py:\d+: this scenario file raised "
                                             r"ValueError: key moment 'client'"):
        files.load_scenario_file(_file(tmp_path, text))


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_the_examples_load(example: Path, clean_registry: None) -> None:
    names = files.load_scenario_file(example)
    assert names
    for name in names:
        scenario = registry.get(name)
        assert scenario.teaches and scenario.outcomes and scenario.key_moments


BASE = '''
from tcptrace_viz import CallOutcome, Moment, Outcome, Parameter, ScenarioContext, scenario


@scenario(name={name!r}, title="t", teaches="t", steps="C close()",
          parameters=(Parameter("size", "int", 3, "bytes"),),
          outcomes={outcomes}, key_moments={moments})
def lesson(ctx: ScenarioContext) -> None:
    ctx.connected_pair()
'''


@pytest.mark.parametrize(("fields", "said"), [
    ({"outcomes": 'Outcome("L")'}, "outcomes must be a tuple of Outcome"),
    ({"moments": 'Moment("client close", "x")'}, "key_moments must be a tuple of Moment"),
    ({"outcomes": '(Outcome("L", calls=(CallOutcome("server", "send", 1, ret=5),)),)'},
     "ret must be text, e.g. ret='5'"),
    ({"outcomes": '(Outcome("L", states=("server CLOSE_WAIT")),)'},
     "states must be a tuple of str"),
    ({"outcomes": '(Outcome("L", states=("server CLOSE_WAITT",)),)'},
     "state 'server CLOSE_WAITT' is not '<side> <STATE>'"),
    ({"outcomes": '(Outcome("L", wire=("x2y P.",)),)'}, "'x2y P.' is not '<c2s|s2c> <flags>'"),
    ({"outcomes": '(Outcome("L", calls=(CallOutcome("middle", "send"),)),)'},
     "the side must be one of"),
    ({"outcomes": '(Outcome("L", calls=(CallOutcome("server", "send", errno="EPIPPE"),)),)'},
     "'EPIPPE' is no errno name"),
    ({"outcomes": '(Outcome("L", calls=(CallOutcome("server", "send", ret="{nosuch}"),)),)'},
     r"ret names \{nosuch\}, which is no parameter of this scenario \(size\)"),
    ({"name": "../../escaped"}, "scenario name '../../escaped': use lowercase letters"),
    ({"name": "has space/slash"}, "scenario name 'has space/slash'"),
])
def test_a_definition_mistake_is_one_sentence_at_its_line(
        tmp_path: Path, clean_registry: None, fields: dict[str, str], said: str) -> None:
    values = {"name": "lesson", "outcomes": '(Outcome("L"),)', "moments": "()"} | fields
    path = _file(tmp_path, BASE.format(**values))
    with pytest.raises(BadInputError, match=r"lesson\.py:5: this scenario file raised \w+: .*"
                                            + said) as caught:
        files.load_scenario_file(path)
    assert "\n" not in str(caught.value)
