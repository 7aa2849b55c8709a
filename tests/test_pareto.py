"""The Pareto front, hypervolume, relative columns and best-within queries on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raypruning import pareto as R
from raypruning.errors import InputError

from hand_tables import OBJ, table


def test_pareto_keeps_duplicates_drops_dominated_and_nan():
    assert R.pareto_mask(table(), OBJ).tolist() == [True, True, True, True, False, False, True]


def test_pareto_dominated_reference_is_off_the_front():
    df = table()
    df.loc[1, ["score", "total_time_s"]] = [91.0, 90.0]  # better and faster than the reference
    mask = R.pareto_mask(df, OBJ)
    assert not mask[0]
    assert mask[1]


def test_pareto_equal_on_one_objective_better_on_other_dominates():
    df = pd.DataFrame({"score": [80.0, 80.0], "total_time_s": [10.0, 12.0]})
    assert R.pareto_mask(df, OBJ).tolist() == [True, False]


def test_pareto_on_other_objectives():
    # on (score max, examples_trained min) trial 2/3 and 6 stay; 1 (89.5, 700) and 0 stay too
    mask = R.pareto_mask(table(), {"score": "max", "examples_trained": "min"})
    assert mask.tolist() == [True, True, True, True, False, False, True]


def test_pareto_unknown_column_or_direction_is_input_error():
    with pytest.raises(InputError, match="gpu_hours"):
        R.pareto_mask(table(), {"score": "max", "gpu_hours": "min"})
    with pytest.raises(InputError, match="'max' or 'min'"):
        R.pareto_mask(table(), {"score": "up"})


def test_add_pareto_column():
    assert R.add_pareto_column(table(), OBJ)["pareto"].tolist() == [True, True, True, True, False, False, True]


def test_hypervolume_default_reference_point_by_hand():
    # default reference: worst score 70 and worst time 100 (over rows with both values)
    # points strictly inside: (89.5, 60) and (88, 40); (90, 100) and (70, 20) add nothing
    # boxes: 19.5 x 40 = 780 and 18 x 60 = 1080, overlap 18 x 40 = 720 -> 1140
    assert R.hypervolume(table(), OBJ) == pytest.approx(1140.0)


def test_hypervolume_given_reference_point_by_hand():
    # reference (score 60, time 120); sweep from the best score down, slab = (score - 60) x (new time gain):
    # (90, 100): 30 x 20 = 600; (89.5, 60): 29.5 x 40 = 1180; (88, 40): 28 x 20 = 560 (its duplicate adds 0);
    # (70, 20): 10 x 20 = 200 -> 2540
    assert R.hypervolume(table(), OBJ, {"score": 60.0, "total_time_s": 120.0}) == pytest.approx(2540.0)


def test_hypervolume_needs_two_objectives():
    with pytest.raises(InputError, match="two objectives"):
        R.hypervolume(table(), {"score": "max"})


def test_add_relative_columns_numbers():
    out = R.add_relative_columns(table())
    # trial 1: 1 - 60/100 = 0.4, 89.5 - 90 = -0.5; trial 6: 1 - 20/100 = 0.8, 70 - 90 = -20
    assert out["time_saving"].tolist()[:2] == pytest.approx([0.0, 0.4])
    assert out.loc[6, "time_saving"] == pytest.approx(0.8)
    assert out.loc[1, "score_delta"] == pytest.approx(-0.5)
    assert out.loc[6, "score_delta"] == pytest.approx(-20.0)
    assert np.isnan(out.loc[5, "score_delta"])
    # wall time as the time column: trial 1: 1 - 75/120
    assert R.add_relative_columns(table(), "wall_time_s").loc[1, "time_saving"] == pytest.approx(1 - 75 / 120)


def test_add_relative_columns_without_reference_is_nan():
    df = table()
    df["is_reference"] = False
    out = R.add_relative_columns(df)
    assert out["time_saving"].isna().all() and out["score_delta"].isna().all()
    assert "time_saving" not in df.columns  # the input is left alone


def test_best_within_drop():
    df = table()
    assert R.best_within_drop(df, 1.0)["trial_id"] == 1  # 89.5 >= 89, 60 s
    assert R.best_within_drop(df, 2.0)["trial_id"] == 2  # 2 and 3 tie on time and score: lower id
    assert R.best_within_drop(df, 25.0)["trial_id"] == 6  # NaN-score trial 5 never qualifies
    # nothing is within 0 points but the reference itself, which always qualifies
    assert R.best_within_drop(df, 0.0)["trial_id"] == 0


def test_best_within_drop_exactly_at_the_limit():
    df = table()
    df.loc[1, "score"] = 89.3
    df.loc[0, "score"] = 90.3  # 90.3 - 1.0 is not exactly 89.3 in floats
    assert R.best_within_drop(df, 1.0)["trial_id"] == 1


def test_best_within_drop_time_tie_goes_to_higher_score():
    df = pd.concat([table(), pd.DataFrame({"trial_id": [7], "score": [89.0], "total_time_s": [40.0], "is_reference": [False]})], ignore_index=True)
    assert R.best_within_drop(df, 2.0)["trial_id"] == 7


def test_best_within_drop_without_reference_is_none():
    df = table()
    df["is_reference"] = False
    assert R.best_within_drop(df, 5.0) is None
    assert R.best_within_drop(table().drop(columns="is_reference"), 5.0) is None


def test_best_within_budget():
    df = table()
    assert R.best_within_budget(df, 45.0)["trial_id"] == 2  # 88 at 40 s; trial 5 (10 s) has no score
    assert R.best_within_budget(df, 1000.0)["trial_id"] == 0
    assert R.best_within_budget(df, 5.0) is None
    faster_tie = pd.concat([df, pd.DataFrame({"trial_id": [8], "score": [88.0], "total_time_s": [35.0]})], ignore_index=True)
    assert R.best_within_budget(faster_tie, 45.0)["trial_id"] == 8




def test_per_setting_means_over_seeds():
    df = pd.DataFrame({"trial_id": ["r", "r", "p", "p"], "seed": [0, 1, 0, 1], "score": [90.0, 92.0, 80.0, 86.0],
                       "total_time_s": [100.0, 110.0, 50.0, 40.0], "is_reference": [True, True, False, False]})
    settings = R.per_setting(df).set_index("trial_id")
    assert settings.loc["p", "score"] == 83.0 and settings.loc["p", "total_time_s"] == 45.0
    assert settings.loc["p", "seeds"] == 2 and settings.loc["p", "score_std"] == pytest.approx(np.sqrt(18))
    assert "seed" not in settings.columns


def test_fewer_epochs_rival_only_when_as_fast_and_as_accurate():
    settings = pd.DataFrame({"trial_id": ["r", "e1", "e2", "p"], "score": [90.0, 80.0, 88.0, 87.0],
                             "total_time_s": [100.0, 30.0, 60.0, 60.0], "is_reference": [True, False, False, False],
                             "method": ["reference", "full-epochs", "full-epochs", "dynamic"], "epochs": [3, 1, 2, 3]})
    pruned = R.best_within_drop(settings, 5.0, among=R.is_pruned(settings))
    assert pruned["trial_id"] == "p"
    assert R.fewer_epochs_rival(settings, pruned)["trial_id"] == "e2"  # 60 s, 88 >= 87
    settings.loc[2, "score"] = 86.9  # now less accurate than the pruned setting
    assert R.fewer_epochs_rival(settings, pruned) is None
