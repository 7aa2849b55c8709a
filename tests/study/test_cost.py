"""A study's cost in full-data runs, on hand-built tables whose answer is known."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from raypruning import keys as K
from raypruning.study import trials as R
from raypruning.study.cost import StudyCost, study_cost
from raypruning.study.layout import StudyMeta, read_meta


def _table() -> pd.DataFrame:
    """Reference at 100 s and 110 s (two seeds: unit 105 s); a pruned trial branched from its
    warmup (60 s standalone, 25 s spent); a trial run alone; a row read from the reference's history."""
    return pd.DataFrame({
        K.TRIAL_ID: ["ref", "ref", "b", "c", "ref-e1"],
        K.SEED: [0, 1, 0, 0, 0],
        K.IS_REFERENCE: [True, True, False, False, False],
        K.TOTAL_TIME: [100.0, 110.0, 60.0, 40.0, 50.0],
        K.COST: [100.0, 110.0, 25.0, 40.0, 0.0],
    })


def test_cost_counts_what_was_spent_and_what_alone_would_cost():
    cost = study_cost(_table())
    # spent: 100 + 110 + 25 + 40 = 275; alone: 100 + 110 + 60 + 40 = 310; the curve row is free.
    assert cost.cost_full_runs == pytest.approx(275 / 105)
    assert cost.cost_full_runs_standalone == pytest.approx(310 / 105)
    assert "2.6 full-data runs" in cost.line() and "3.0" in cost.line()


def test_no_cost_without_the_column_or_a_reference():
    assert study_cost(_table().drop(columns=[K.COST])) is None
    no_ref = _table().assign(**{K.IS_REFERENCE: False})
    assert study_cost(no_ref) is None
    assert study_cost(pd.DataFrame()) is None


def test_study_json_keeps_the_cost(tmp_path):
    meta = StudyMeta({"a": 1}, {"pruning.keep_fraction": 1.0}, {"score": "max"}, "sqlite:///x",
                     StudyCost(2.5, 7.0))
    (tmp_path / "study.json").write_text(meta.to_json())
    raw = json.loads((tmp_path / "study.json").read_text())
    assert (raw[K.COST_FULL_RUNS], raw[K.COST_FULL_RUNS_STANDALONE]) == (2.5, 7.0)
    assert read_meta(tmp_path).cost == StudyCost(2.5, 7.0)
    old = dict(raw)
    del old[K.COST_FULL_RUNS], old[K.COST_FULL_RUNS_STANDALONE]
    (tmp_path / "study.json").write_text(json.dumps(old))
    assert read_meta(tmp_path).cost is None


def test_rows_carry_the_runs_cost_and_old_reports_read_as_standalone():
    from raypruning.config import load_config

    base = load_config(None, ["train.epochs=2"]).to_dict()
    history = [{K.EPOCH: 1, K.SCORE: 70.0, K.TOTAL_TIME: 10.0}, {K.EPOCH: 2, K.SCORE: 80.0, K.TOTAL_TIME: 20.0}]
    ref = R.RunResult.from_summary(0, {K.SCORE: 80.0, K.TOTAL_TIME: 20.0, K.HISTORY: history})
    branched = R.RunResult.from_summary(0, {K.SCORE: 78.0, K.TOTAL_TIME: 15.0, K.COST: 5.0})
    old = R.RunResult(0, 75.0, None, 12.0, 13.0, 11.0, 1.0, 100, "accuracy").to_dict()
    old.pop("cost_s")  # a seed report written before cost_s existed
    outcomes = [
        R.TrialOutcome("a", {"pruning.keep_fraction": 1.0},
                       {K.DONE: True, K.SEED_RUNS: json.dumps([ref.to_dict()])}),
        R.TrialOutcome("b", {"pruning.keep_fraction": 0.5},
                       {K.DONE: True, K.SEED_RUNS: json.dumps([branched.to_dict()])}),
        R.TrialOutcome("c", {"pruning.keep_fraction": 0.3}, {K.DONE: True, K.SEED_RUNS: json.dumps([old])}),
    ]
    df = R.trials_table(R.records(outcomes, {"pruning.keep_fraction": 1.0}, base, epoch_curve=True),
                        {"score": "max", "total_time_s": "min"})
    costs = dict(zip(df[K.TRIAL_ID], df[K.COST]))
    assert costs == {"a": 20.0, "a-e1": 0.0, "b": 5.0, "c": 12.0}
    cost = study_cost(df)
    assert cost.cost_full_runs == pytest.approx((20 + 5 + 12) / 20)
    assert cost.cost_full_runs_standalone == pytest.approx((20 + 15 + 12) / 20)
