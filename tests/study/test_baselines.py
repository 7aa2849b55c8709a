"""The study's pure decisions: baselines at the front, the epoch baseline, the reference point, which models stay."""

from __future__ import annotations

import pandas as pd

from raypruning.config import load_config
from raypruning.study.baselines import baseline_points, epoch_baseline
from raypruning.study.driver import reference_point
from raypruning.study.kept_models import drop_models
from raypruning.study.trials import BASELINE_KEY

OBJ = {"score": "max", "total_time_s": "min"}


def test_baseline_points_follow_the_front():
    cfg = load_config(None, ["study.baselines=[static-el2n, dynamic-random]"])
    table = pd.DataFrame({
        "trial_id": ["r", "a", "b", "c"], "warmup_epochs": [1, 0, 1, 2], "period_epochs": [1, 1, 2, 1],
        "keep_fraction": [1.0, 0.3, 0.5, 0.8], "score": [90.0, 80.0, 88.0, 85.0],
        "total_time_s": [10.0, 4.0, 6.0, 9.0], "is_reference": [True, False, False, False],
        "pareto": [True, True, True, False], "method": ["reference", "dynamic", "dynamic", "dynamic"]})
    points = [p[BASELINE_KEY] for p in baseline_points(cfg, table)]
    assert len(points) == 4  # two baselines x the two non-reference front settings
    assert {(p["pruning.keep_fraction"], p["pruning.mode"], p["pruning.score"]) for p in points} == {
        (0.3, "static", "el2n"), (0.5, "static", "el2n"), (0.3, "dynamic", "random"), (0.5, "dynamic", "random")}


def test_epoch_baseline_runs_when_the_schedule_decays():
    assert epoch_baseline(load_config(None)) == "curve"
    assert epoch_baseline(load_config(None, ["train.lr_schedule=linear"])) == "runs"
    assert epoch_baseline(load_config(None, ["train.lr_schedule=linear", "study.epoch_baseline=off"])) == "off"
    cfg = load_config(None, ["train.lr_schedule=cosine", "train.epochs=3"])
    points = [p[BASELINE_KEY] for p in baseline_points(cfg, _table())]
    assert [p["train.epochs"] for p in points if "train.epochs" in p] == [1, 2]


def test_reference_point_is_full_data_with_the_base_values():
    cfg = load_config(None, ["pruning.warmup_epochs=1", "search.space={warmup_epochs: {int: [2, 3]}, "
                                                        "keep_fraction: {uniform: [0.2, 0.9]}}", "train.epochs=4"])
    # A base value outside its searched range falls back to the range's low end.
    assert reference_point(cfg) == {"pruning.warmup_epochs": 2, "pruning.keep_fraction": 1.0}


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "trial_id": ["r", "r", "r-e1", "a", "b", "c"], "seed": [0, 1, 0, 0, 0, 0],
        "warmup_epochs": [1, 1, 0, 1, 1, 1], "period_epochs": [1] * 6, "keep_fraction": [1.0, 1.0, 1.0, 0.3, 0.5, 0.8],
        "score": [90.0, 90.0, 70.0, 80.0, 89.5, 85.0], "total_time_s": [10.0, 10.0, 3.0, 4.0, 6.0, 9.0],
        "is_reference": [True, True, False, False, False, False],
        "pareto": [True, True, True, True, True, False],
        "method": ["reference", "reference", "full-epochs", "dynamic", "dynamic", "dynamic"]})


def test_keep_models_front_keeps_the_front_and_the_best_within_one_point(tmp_path):
    runs = tmp_path / "runs"
    for name in ("trial-r-seed0", "trial-r-seed1", "trial-a", "trial-b", "trial-c", "other"):
        (runs / name).mkdir(parents=True)
    table = _table()
    table.loc[table["trial_id"] == "b", "pareto"] = False  # b is the best within 1 point even off the front
    assert drop_models(str(runs), table, OBJ, "front") == 1
    assert sorted(p.name for p in runs.iterdir()) == ["other", "trial-a", "trial-b", "trial-r-seed0",
                                                      "trial-r-seed1"]
    assert drop_models(str(runs), table, OBJ, "all") == 0
    assert drop_models(str(runs), table, OBJ, "none") == 4
    assert [p.name for p in runs.iterdir()] == ["other"]
