"""Forgetting counts (Toneva et al. 2019): how often each example flips from right to wrong.

Pure numpy bookkeeping over whole-table arrays: the recipe all-reduces each
epoch's per-example correctness into a table (NaN: not trained this epoch) and
hands it here. The arrays travel in `RunState` so a resumed run keeps counting.
"""

from __future__ import annotations

import numpy as np


def update_counts(last_correct: np.ndarray | None, forgets: np.ndarray | None,
                  now: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count correct-to-wrong flips between an example's consecutive trained epochs.

    Args:
        last_correct: each example's correctness when last trained (NaN: never), or None at first.
        forgets: flips so far, or None at first.
        now: this epoch's correctness table (1.0 right, 0.0 wrong, NaN not trained).

    Returns:
        The new (last_correct, forgets).
    """
    n = len(now)
    if last_correct is None:
        last_correct = np.full(n, np.nan)
    if forgets is None:
        forgets = np.zeros(n)
    trained = ~np.isnan(now)
    flipped = trained & (last_correct >= 0.5) & (now < 0.5)
    return np.where(trained, now, last_correct), forgets + flipped


def forgetting_scores(last_correct: np.ndarray | None, forgets: np.ndarray | None, n: int,
                      never_learned: float) -> np.ndarray:
    """Scores to select on: the forgetting count, plus ``never_learned`` for an example not
    (yet) predicted right, so that it ranks above any count (pass more than the epoch count)."""
    counts = np.zeros(n) if forgets is None else np.asarray(forgets, dtype=np.float64)
    learned = np.zeros(n, dtype=bool) if last_correct is None else np.asarray(last_correct) >= 0.5
    return counts + np.where(learned, 0.0, never_learned)
