"""Forgetting counts against hand-made correctness tables."""

import numpy as np

from raypruning.forgetting import forgetting_scores, update_counts

NAN = np.nan


def test_flips_count_only_right_to_wrong_between_trained_epochs():
    epochs = [np.array([1.0, 0.0, 1.0, NAN]),
              np.array([0.0, 1.0, NAN, 1.0]),  # id 0 forgets; id 2 not trained
              np.array([1.0, 0.0, 0.0, 0.0])]  # id 1 forgets; id 2 forgets (right when last trained); id 3 too
    last, forgets = None, None
    for now in epochs:
        last, forgets = update_counts(last, forgets, now)
    assert forgets.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert last.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_unlearned_examples_rank_above_any_count():
    last = np.array([1.0, 0.0, NAN, 1.0])
    forgets = np.array([3.0, 0.0, 0.0, 1.0])
    assert forgetting_scores(last, forgets, 4, never_learned=5.0).tolist() == [3.0, 5.0, 5.0, 1.0]
    assert forgetting_scores(None, None, 2, never_learned=5.0).tolist() == [5.0, 5.0]
