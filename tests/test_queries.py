"""`best` and `pareto` on hand-made study folders: the answer, the fewer-epochs note, damaged folders."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from raypruning import keys as K
from raypruning.cli import main
from raypruning.config import load_config
from raypruning.queries import trial_config
from raypruning.storage import STORAGE_TIMEOUT_ENV
from raypruning.study.layout import STUDY_FILE, StudyMeta, read_meta
from raypruning.study.trials import RunResult, TrialOutcome, records, trials_table, write_trials

OBJ = {"score": "max", "total_time_s": "min"}


def _outcome(trial_id: str, params: dict, score: float, total: float, history: list | None = None) -> TrialOutcome:
    run = RunResult(0, score, score - 1, total, total + 5, total, 0.0, 100, "accuracy", history or []).to_dict()
    return TrialOutcome(trial_id, params, {K.DONE: True, K.SEED_RUNS: json.dumps([run])})


@pytest.fixture
def study(tmp_path):
    """A study folder: the reference (90 in 30 s, 60/80/90 after epochs 1-3) and two pruned settings."""
    base = load_config(None, ["train.epochs=3"]).to_dict()
    reference = {"pruning.keep_fraction": 1.0}
    history = [{K.EPOCH: k, K.SCORE: s, K.TOTAL_TIME: 10.0 * k, K.WALL_TIME: 11.0 * k, K.EXAMPLES_TRAINED: 100 * k}
               for k, s in ((1, 60.0), (2, 89.5), (3, 90.0))]
    outcomes = [_outcome("ref", reference, 90.0, 30.0, history),
                _outcome("p1", {"pruning.keep_fraction": 0.5, "pruning.warmup_epochs": 1}, 89.2, 21.0),
                _outcome("p2", {"pruning.keep_fraction": 0.3, "pruning.warmup_epochs": 1}, 85.0, 15.0)]
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / STUDY_FILE).write_text(StudyMeta(base, reference, OBJ, "sqlite:///x").to_json())
    write_trials(trials_table(records(outcomes, reference, base, epoch_curve=True), OBJ), folder)
    return folder


def test_best_names_the_fewer_epochs_run_that_beats_pruning(study, capsys):
    # Within 1 point: p1 (89.2, 21 s) and full data for 2 epochs (89.5, 20 s), which is faster and better.
    assert main(["best", str(study), "--max-drop", "1", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["trial"]["trial_id"] == "ref-e2" and answer["trial"]["method"] == "full-epochs"
    assert "full data for 2 epoch(s)" in answer["note"] and "trial p1" in answer["note"]
    assert answer["config"]["train"]["epochs"] == 2 and answer["config"]["pruning"]["mode"] == "full"
    # Within 5 points the pruned p2 (85.0, 15 s) is fastest, and no fewer-epochs run rivals it.
    assert main(["best", str(study), "--max-drop", "5", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["trial"]["trial_id"] == "p2" and answer["note"] is None
    assert answer["config"]["pruning"]["keep_fraction"] == 0.3


def test_trial_config_reapplies_the_stored_overrides(study):
    df = pd.read_parquet(study / K.TRIALS_FILE).set_index(K.TRIAL_ID)
    cfg = trial_config(read_meta(study), df.loc["p1"])
    assert (cfg.pruning.keep_fraction, cfg.pruning.warmup_epochs, cfg.train.epochs) == (0.5, 1, 3)


def test_trial_config_of_a_table_without_overrides(study):
    """Tables written before the overrides column: tau, T, f and the method's keys."""
    row = pd.read_parquet(study / K.TRIALS_FILE).set_index(K.TRIAL_ID).loc["p2"].drop(K.OVERRIDES)
    cfg = trial_config(read_meta(study), row)
    assert (cfg.pruning.keep_fraction, cfg.pruning.mode, cfg.pruning.score) == (0.3, "dynamic", "el2n")


@pytest.mark.parametrize("command", [["best"], ["pareto"], ["dashboard", "--print"]])
@pytest.mark.parametrize("damage,words", [
    ("not json {", "not valid JSON"),
    ('{"config": {}}', "missing reference, objectives"),
    (None, "not a study folder"),
])
def test_a_damaged_study_folder_is_one_line(tmp_path, capsys, command, damage, words):
    folder = tmp_path / "damaged"
    folder.mkdir()
    if damage is not None:
        (folder / STUDY_FILE).write_text(damage)
    assert main([command[0], str(folder), *command[1:]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and str(folder) in err


@pytest.mark.slow  # waits for the store's timeout
def test_an_unreachable_remote_study_is_one_line_within_its_timeout(capsys, monkeypatch):
    """The store never answers here (no network): one line once $RAYPRUNING_STORAGE_TIMEOUT_S
    (default storage.STORAGE_TIMEOUT_S, 15 s) has passed."""
    monkeypatch.setenv(STORAGE_TIMEOUT_ENV, "3")
    start = time.monotonic()
    assert main(["best", "gs://nonexistent-bucket/a"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "gs://nonexistent-bucket/a" in err, err
    assert time.monotonic() - start < 15


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_a_storage_timeout_that_is_not_seconds_is_one_line(capsys, monkeypatch, value):
    monkeypatch.setenv(STORAGE_TIMEOUT_ENV, value)
    assert main(["best", "gs://nonexistent-bucket/a"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: ${STORAGE_TIMEOUT_ENV}: expected a number of seconds > 0, got {value!r}"
