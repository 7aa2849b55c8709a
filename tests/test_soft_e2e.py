"""Soft pruning (InfoBatch) end to end on Ray Train with 2 gloo workers, on the quickstart's sentence task."""

import math

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, SOFT_EPOCHS, SOFT_RUN, SOFT_TRAIN
from raypruning import keys as K
from raypruning.config import load_config
from raypruning.run import FAULT_EPOCH_ENV, FAULT_MARKER_ENV, run_training

pytestmark = pytest.mark.slow  # Ray Train runs

N_TRAIN, EPOCHS = SOFT_TRAIN, SOFT_EPOCHS


@pytest.fixture(scope="module")
def soft(soft_run):
    """The session's soft run (tests/conftest.py): its summary and its scores.parquet."""
    return soft_run.summary, pd.read_parquet(soft_run.folder / "scores.parquet")


def _kept_per_epoch(scores: pd.DataFrame) -> dict[int, list[int]]:
    return {int(e): sorted(g.loc[g["kept"], "example_id"]) for e, g in scores.groupby("event")}


def test_examples_trained_are_the_recorded_selections_and_the_ideal(soft):
    summary, scores = soft
    assert sorted(scores["event"].unique()) == list(range(EPOCHS)) and len(scores) == EPOCHS * N_TRAIN
    kept = {e: len(ids) for e, ids in _kept_per_epoch(scores).items()}
    assert kept[0] == N_TRAIN and kept[EPOCHS - 1] == N_TRAIN  # no scores yet; annealing
    assert all(kept[e] < N_TRAIN for e in (1, 2, 3))
    assert summary[K.EXAMPLES_TRAINED] == sum(kept.values())
    events = summary[K.PRUNING_EVENTS]
    # The schedule's ideal, from each pruned epoch's below-mean count: N - floor(r * below).
    assert [e["kept"] for e in events] == [kept[e] for e in range(EPOCHS)]
    assert all(e["kept"] == N_TRAIN - math.floor(0.5 * e["below_mean"]) for e in events if e["selection"] == "soft")
    assert summary[K.IDEAL_FRACTION] * N_TRAIN * EPOCHS == pytest.approx(summary[K.EXAMPLES_TRAINED], abs=1e-6)


def test_the_table_is_the_latest_training_pass_score(soft):
    _, scores = soft
    by = {e: g.set_index("example_id").sort_index() for e, g in scores.groupby("event")}
    assert np.isinf(by[0]["score"]).all()  # nothing trained yet
    assert np.isfinite(by[1]["score"]).all()  # epoch 0 trained everything, on both workers
    skipped = ~by[1]["kept"]
    # Skipped in epoch 1: the same (stale) score at epoch 2; trained: a new one.
    assert (by[2]["score"][skipped] == by[1]["score"][skipped]).all()
    assert (by[2]["score"][~skipped] != by[1]["score"][~skipped]).mean() > 0.95
    # Only below-mean examples are ever skipped.
    for e in (1, 2, 3):
        table = by[e]
        assert (table.loc[~table["kept"], "score"] < table["score"].mean()).all()


def test_soft_scoring_costs_next_to_nothing(soft):
    summary, _ = soft
    assert summary[K.SCORING_TIME] < 0.03 * summary[K.TOTAL_TIME], (summary[K.SCORING_TIME], summary[K.TOTAL_TIME])
    assert all(e["scored"] == 0 and e["rescored"] == 0 for e in summary[K.PRUNING_EVENTS])  # no scoring pass


def test_killed_worker_resumes_with_the_same_kept_ids_every_epoch(ray_local, tmp_path, monkeypatch, soft):
    _, want = soft
    monkeypatch.setenv(FAULT_EPOCH_ENV, "3")
    monkeypatch.setenv(FAULT_MARKER_ENV, str(tmp_path / "killed-once"))
    summary = run_training(load_config(REPO / SOFT_RUN[0], SOFT_RUN[1:] + ["train.max_failures=2"]), tmp_path / "run")
    assert (tmp_path / "killed-once").exists(), "the fault was never injected"
    assert summary["restarts"] == 1
    assert [h[K.EPOCH] for h in summary[K.HISTORY]] == list(range(1, EPOCHS + 1))
    got = pd.read_parquet(tmp_path / "run" / "scores.parquet")
    assert _kept_per_epoch(got) == _kept_per_epoch(want)
