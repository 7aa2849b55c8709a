"""The trials table: records from Tune outcomes, the file, baselines at the front's settings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from raypruning import keys as K
from raypruning import pareto
from raypruning.study import trials as R
from raypruning.config import apply_overrides, from_dict
from raypruning.errors import InputError

from hand_tables import OBJ


def test_load_missing_names_the_path(tmp_path):
    with pytest.raises(InputError, match="trials.parquet") as info:
        R.load_trials(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="no such study folder"):
        R.load_trials(tmp_path / "nope" / "deeper")


def test_load_unreadable_is_input_error(tmp_path):
    (tmp_path / "trials.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="cannot read"):
        R.load_trials(tmp_path)

def test_outcome_overrides_unpack_a_baseline():
    outcome = R.TrialOutcome("t1", {R.BASELINE_KEY: {"pruning.mode": "static"}, "pruning.keep_fraction": 0.5}, {})
    assert outcome.overrides == {"pruning.mode": "static", "pruning.keep_fraction": 0.5}
    assert outcome.is_baseline and not outcome.finished


def _run(seed: int, score: float, total: float, history: list | None = None, test: float | None = None) -> dict:
    return R.RunResult(seed, score, test, total, total + 5, total - 1, 1.0, 100, "accuracy", history or []).to_dict()


def _outcome(trial_id: str, params: dict, runs: list[dict]) -> R.TrialOutcome:
    return R.TrialOutcome(trial_id, params, {K.DONE: True, K.SEED_RUNS: json.dumps(runs)})


def test_records_one_row_per_seed_and_the_epoch_curve_from_the_reference():
    from raypruning.config import load_config

    base = load_config(None, ["train.epochs=3"]).to_dict()
    reference = {"pruning.keep_fraction": 1.0}
    history = [{K.EPOCH: k, K.SCORE: 60.0 + 10 * k, K.TOTAL_TIME: 10.0 * k, K.WALL_TIME: 12.0 * k,
                K.EXAMPLES_TRAINED: 100 * k, K.TEST_SCORE: 50.0 + k} for k in (1, 2, 3)]
    outcomes = [
        _outcome("a", {"pruning.keep_fraction": 1.0}, [_run(0, 90.0, 30.0, history), _run(1, 88.0, 32.0, history)]),
        _outcome("b", {"pruning.keep_fraction": 0.5}, [_run(0, 85.0, 20.0), _run(1, 87.0, 18.0)]),
        R.TrialOutcome("c", {"pruning.keep_fraction": 0.3}, {K.SCORE: 1.0}),  # never sent its seed report
    ]
    recs = R.records(outcomes, reference, base, epoch_curve=True)
    rows = pd.DataFrame([r.to_row() for r in recs])
    assert sorted(zip(rows[K.TRIAL_ID], rows[K.SEED])) == [
        ("a", 0), ("a", 1), ("a-e1", 0), ("a-e1", 1), ("a-e2", 0), ("a-e2", 1), ("b", 0), ("b", 1)]
    curve = rows[rows[K.METHOD] == "full-epochs"]
    assert sorted(curve[K.EPOCHS].unique()) == [1, 2]  # k < E only
    e1 = curve[curve[K.TRIAL_ID] == "a-e1"].iloc[0]
    assert (e1[K.SCORE], e1[K.TOTAL_TIME], e1[K.TEST_SCORE]) == (70.0, 10.0, 51.0)
    # `best` re-applies these overrides: full data for k epochs must be a valid config.
    cfg = from_dict(apply_overrides(base, R.overrides_of(e1)))
    assert (cfg.train.epochs, cfg.pruning.mode, cfg.pruning.keep_fraction) == (1, "full", 1.0)
    assert rows[rows[K.TRIAL_ID] == "a"][K.METHOD].unique().tolist() == ["reference"]


def test_trials_table_flags_the_front_on_seed_means():
    from raypruning.config import load_config

    base = load_config(None, ["train.epochs=3"]).to_dict()
    outcomes = [
        _outcome("a", {"pruning.keep_fraction": 1.0}, [_run(0, 90.0, 30.0), _run(1, 90.0, 30.0)]),
        # b's first seed alone would dominate c; its mean (80, 20) does not.
        _outcome("b", {"pruning.keep_fraction": 0.5}, [_run(0, 89.0, 19.0), _run(1, 71.0, 21.0)]),
        _outcome("c", {"pruning.keep_fraction": 0.4}, [_run(0, 85.0, 20.0), _run(1, 85.0, 20.0)]),
    ]
    df = R.trials_table(R.records(outcomes, {"pruning.keep_fraction": 1.0}, base), OBJ)
    flags = df.groupby(K.TRIAL_ID)[K.PARETO].agg(set).to_dict()
    assert flags == {"a": {True}, "b": {False}, "c": {True}}
    settings = pareto.per_setting(df)
    b = settings[settings[K.TRIAL_ID] == "b"].iloc[0]
    assert b[K.SEEDS] == 2 and b[K.SCORE] == pytest.approx(80.0) and b[K.SCORE_STD] == pytest.approx(np.std([89, 71], ddof=1))


def test_seed_report_means_and_runs():
    runs = [R.RunResult(0, 80.0, 70.0, 10.0, 12.0, 9.0, 1.0, 50, "acc"),
            R.RunResult(1, 90.0, None, 20.0, 22.0, 19.0, 1.0, 50, "acc")]
    report = R.seed_report(runs)
    assert (report[K.SCORE], report[K.TOTAL_TIME], report[K.TEST_SCORE]) == (85.0, 15.0, 70.0)
    outcome = R.TrialOutcome("t", {}, report)
    assert outcome.finished and [r.seed for r in outcome.runs] == [0, 1]
