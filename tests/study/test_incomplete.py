"""A study that ends with trials undone fails (exit 1), naming how many, why, and the resume command.

The same error for a real Tune run with a failed trial: tests/test_study_e2e.py (it starts Ray,
which the command-line tests that come before it must not find running)."""

from __future__ import annotations

from pathlib import Path

from raypruning import cli
from raypruning.errors import StudyIncomplete
from raypruning.study.driver import incomplete

REPO = Path(__file__).resolve().parents[2]


def test_an_interrupted_study_without_failures_only_says_how_to_finish():
    message = str(incomplete([], 3, 5, "raypruning study s.yaml --resume"))
    assert message == "the study stopped with 3/5 trials done; finish it with: raypruning study s.yaml --resume"


def test_the_command_line_exits_1_with_one_line(monkeypatch, capsys):
    """The tables are written before the error is raised, so the CLI only has to report it."""
    from raypruning.study import driver

    def stops_early(*args, **kwargs):
        raise StudyIncomplete("the study stopped with 1/2 trials done; finish it with: x --resume")

    monkeypatch.setattr(driver, "run_study", stops_early)
    assert cli.main(["study", str(REPO / "studies/quickstart.yaml")]) == cli.EXIT_FAILURE
    assert capsys.readouterr().err == "error: the study stopped with 1/2 trials done; finish it with: x --resume\n"
