"""Which scenarios ``capture`` and ``check`` run, and running them with their ``--set`` values.

The command line's part of a scenario run that is not about parsing: the choice between
``--scenario``, ``--all`` and a scenario file's own, and the hand-over to
:func:`tcptrace_viz.runner.run_scenarios` once every ``--set`` value has been checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tcptrace_viz.errors import BadInputError

if TYPE_CHECKING:
    from tcptrace_viz.kernel.segment_loss import LossRule
    from tcptrace_viz.render.options import ReportChoices


def chosen(known: Sequence[str], scenarios: Sequence[str], run_all: bool, command: str,
           from_files: Sequence[str] = ()) -> list[str]:
    """The scenarios to run, in the order given: ``scenarios`` (``--scenario``), every one of
    ``known`` (``--all``) or, when neither is given, those of the scenario files.

    Raises:
        BadInputError: both ``--scenario`` and ``--all``, or nothing to run.
    """
    if run_all and scenarios:
        raise BadInputError("give either --scenario NAME or --all, not both")
    if run_all:
        return list(known)
    if not scenarios and from_files:
        return list(from_files)
    if not scenarios:
        raise BadInputError(f"name a scenario with --scenario NAME (`tcptrace-viz list` shows "
                            f"them), or use --all; see `tcptrace-viz {command} --help`")
    return list(dict.fromkeys(scenarios))


def run_chosen(names: list[str], ipv6: bool, out: Path | None, reports: Path | None,
               sets: Sequence[str], jobs: int | None,
               echoes: tuple[Callable[[str], None], Callable[[str], None]], *,
               brief: bool = False, choices: ReportChoices | None = None,
               sysctls: Sequence[str] = (), drops: Sequence[str] = ()) -> list[str]:
    """Capture each scenario (``jobs`` at a time); print its ladder and verdict (``echoes``:
    summaries, progress) in order; return the names that failed (see
    :func:`tcptrace_viz.runner.run_scenarios`).  Every ``--set``, ``--sysctl`` and ``--drop``
    is checked before any run."""
    from tcptrace_viz.capture.batch import default_jobs
    from tcptrace_viz.runner import run_scenarios
    from tcptrace_viz.scenarios import get
    from tcptrace_viz.scenarios.params import resolve_all

    echo, progress = echoes
    from tcptrace_viz.kernel.sysctls import check_settings, parse_settings

    values = resolve_all([get(name) for name in names], sets)  # refused before any run
    settings = parse_settings(sysctls)
    check_settings(settings)
    losses = loss_rules(drops)
    jobs = min(jobs or default_jobs(), len(names))
    progress(f"[1/1] {names[0]}: capturing..." if len(names) == 1 else
             f"[0/{len(names)}] capturing {len(names)} scenarios, {jobs} at a time...")
    return run_scenarios(names, values, ipv6=ipv6, out=out, reports=reports, jobs=jobs,
                         echo=echo, progress=progress, brief=brief, choices=choices,
                         sysctls=settings, losses=losses)


def loss_rules(drops: Sequence[str]) -> list[LossRule]:
    """Every ``--drop`` as a rule; one sentence (BadInputError) for one that cannot be one, or
    when this machine has no ``nft``."""
    from tcptrace_viz.kernel.segment_loss import LossRuleError, nft_available, parse_rule

    try:
        rules = [parse_rule(text) for text in drops]
    except LossRuleError as exc:
        raise BadInputError(str(exc)) from exc
    if rules and not nft_available():
        raise BadInputError("--drop needs the nft tool, which is not installed here "
                            "(apt-get install nftables)")
    return rules
