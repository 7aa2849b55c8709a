"""The trials table: records from Tune outcomes, the file, baselines at the front's settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raypruning import keys as K
from raypruning import pareto
from raypruning.study import trials as R
from raypruning.errors import InputError

OBJ = {"score": "max", "total_time_s": "min"}


def table() -> pd.DataFrame:
    """Reference 0; 2 and 3 are exact duplicates; 4 is dominated by 2; 5 has no score."""
    return pd.DataFrame(
        {
            "trial_id": [0, 1, 2, 3, 4, 5, 6],
            "warmup_epochs": [0, 1, 1, 1, 2, 1, 0],
            "period_epochs": [1, 1, 2, 2, 1, 1, 3],
            "keep_fraction": [1.0, 0.7, 0.5, 0.5, 0.6, 0.3, 0.2],
            "score": [90.0, 89.5, 88.0, 88.0, 85.0, np.nan, 70.0],
            "total_time_s": [100.0, 60.0, 40.0, 40.0, 50.0, 10.0, 20.0],
            "wall_time_s": [120.0, 75.0, 50.0, 52.0, 61.0, 15.0, 30.0],
            "examples_trained": [1000, 700, 500, 500, 600, 300, 200],
            "is_reference": [True, False, False, False, False, False, False],
            "method": ["reference", "dynamic", "dynamic", "static-el2n", "dynamic-random", "dynamic", "dynamic"],
        }
    )

def test_write_then_load_round_trip(tmp_path):
    df = pareto.add_pareto_column(pareto.add_relative_columns(table()), OBJ)
    written = R.write_trials(df, tmp_path)
    assert written == tmp_path / "trials.parquet"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    loaded = R.load_trials(tmp_path)
    assert list(loaded.columns[: len(K.TRIAL_COLUMNS)]) == K.TRIAL_COLUMNS
    pd.testing.assert_frame_equal(loaded, R.order_columns(df))
    assert R.load_trials(written).shape == df.shape


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

def test_baseline_points_follow_the_front():
    from raypruning.config import load_config
    from raypruning.study.driver import baseline_points
    from raypruning.study.trials import BASELINE_KEY

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


def test_outcome_overrides_unpack_a_baseline():
    outcome = R.TrialOutcome("t1", {R.BASELINE_KEY: {"pruning.mode": "static"}, "pruning.keep_fraction": 0.5}, {})
    assert outcome.overrides == {"pruning.mode": "static", "pruning.keep_fraction": 0.5}
    assert outcome.is_baseline and not outcome.finished
