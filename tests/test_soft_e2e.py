"""Soft pruning (InfoBatch) end to end on Ray Train with 2 gloo workers, on the quickstart's sentence task."""

import math

import numpy as np
import pandas as pd
import pytest

from conftest import SOFT_EPOCHS, SOFT_TRAIN, kept_ids_by_event
from raypruning import keys as K

pytestmark = pytest.mark.slow  # Ray Train runs

N_TRAIN, EPOCHS = SOFT_TRAIN, SOFT_EPOCHS


@pytest.fixture(scope="module")
def soft(soft_run):
    """The session's soft run (tests/conftest.py): its summary and its scores.parquet."""
    return soft_run.summary, pd.read_parquet(soft_run.folder / "scores.parquet")


def test_examples_trained_are_the_recorded_selections_and_the_ideal(soft):
    summary, scores = soft
    assert sorted(scores["event"].unique()) == list(range(EPOCHS)) and len(scores) == EPOCHS * N_TRAIN
    kept = {e: len(ids) for e, ids in kept_ids_by_event(scores).items()}
    assert kept[0] == N_TRAIN and kept[EPOCHS - 1] == N_TRAIN  # no scores yet; annealing
    assert all(kept[e] < N_TRAIN for e in range(1, EPOCHS - 1))
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
    for e in range(1, EPOCHS - 1):
        table = by[e]
        assert (table.loc[~table["kept"], "score"] < table["score"].mean()).all()


def test_soft_scoring_costs_next_to_nothing(soft):
    summary, _ = soft
    assert summary[K.SCORING_TIME] < 0.03 * summary[K.TOTAL_TIME], (summary[K.SCORING_TIME], summary[K.TOTAL_TIME])
    assert all(e["scored"] == 0 and e["rescored"] == 0 for e in summary[K.PRUNING_EVENTS])  # no scoring pass

