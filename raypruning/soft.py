"""Soft pruning (InfoBatch, Qin et al. ICLR 2024): pure functions and the per-epoch record, no Ray, no torch.

Every example's score is its latest training-pass score (loss or EL2N), stale
for examples skipped since; an example never trained yet scores +inf and is
kept. Before every pruned epoch, a random share r of the examples scoring below
the mean of the table is skipped, and the loss of the kept below-mean examples
is multiplied by n_below / n_kept_below (1 / (1 - r) up to rounding of the
count), so that the expected gradient of an epoch equals the full-data one.
Epoch 0 trains everything (no scores yet) and the last ceil(anneal_fraction * E)
epochs train everything with weight 1 (annealing).

`SoftSelection` is what one epoch decided; like a pruning event it records
itself into the run state (kept ids, loss weights, a summary entry and one
scores.parquet row per example, with ``event`` = the epoch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from raypruning.run_state import score_rows


def anneal_epochs(epochs: int, anneal_fraction: float) -> int:
    """How many final epochs train on all the data: ceil(anneal_fraction * E), at most E."""
    # The tolerance keeps 0.125 * 8 = 1.0000000000000002-style products from rounding up.
    return min(epochs, max(0, math.ceil(anneal_fraction * epochs - 1e-9)))


def pruned_epochs(epochs: int, anneal_fraction: float) -> range:
    """The epochs that skip examples: from 1 (epoch 0 has no scores yet) up to the annealing."""
    return range(1, epochs - anneal_epochs(epochs, anneal_fraction))


def new_table(num_examples: int) -> np.ndarray:
    """The score table before any training: +inf everywhere (never seen: always kept)."""
    return np.full(num_examples, np.inf)


def update_table(table: np.ndarray | None, trained: np.ndarray) -> np.ndarray:
    """The table after an epoch: ``trained`` (NaN for examples not trained) overwrites, the rest stays stale."""
    old = new_table(len(trained)) if table is None else np.asarray(table, dtype=np.float64)
    return np.where(np.isnan(trained), old, trained)


def select_soft(scores: np.ndarray, prune_ratio: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Which examples one pruned epoch trains, and their loss weights.

    The mean is taken over the finite scores (unseen examples, +inf, sit above it).
    Of the n_below examples strictly below the mean, floor(prune_ratio * n_below)
    drawn uniformly are skipped; the others get weight n_below / n_kept_below, all
    the rest weight 1.

    Args:
        scores: the table, one score per example id (+inf: never trained).
        prune_ratio: r in [0, 1), the share of below-mean examples skipped.
        rng: the seeded generator of this epoch's selection.

    Returns:
        (kept ids ascending, weights of length N (0 for skipped ids), n_below).
    """
    n = len(scores)
    finite = np.isfinite(scores)
    weights = np.ones(n)
    if not finite.any():
        return np.arange(n), weights, 0
    below = np.flatnonzero(finite & (scores < scores[finite].mean()))
    skip = int(math.floor(prune_ratio * len(below)))
    if skip == 0:
        return np.arange(n), weights, len(below)
    skipped = rng.choice(below, size=skip, replace=False)
    weights[below] = len(below) / (len(below) - skip)
    weights[skipped] = 0.0
    return np.flatnonzero(weights > 0), weights, len(below)


def epoch_sizes(num_examples: int, epochs: int, anneal_fraction: float, prune_ratio: float,
                below_mean: dict[int, int]) -> list[int]:
    """Examples trained in each epoch, given the below-mean count of each pruned epoch."""
    pruned = set(pruned_epochs(epochs, anneal_fraction))
    return [num_examples - int(math.floor(prune_ratio * below_mean[e])) if e in pruned else num_examples
            for e in range(epochs)]


@dataclass(frozen=True, eq=False)
class SoftSelection:
    """One epoch's soft selection (every epoch of a soft run has one, pruned or not)."""

    epoch: int
    scores: np.ndarray  # the table selected on (+inf: never trained yet)
    kept_ids: np.ndarray  # ascending
    weights: np.ndarray  # loss weight of every id (0: skipped)
    below_mean: int  # examples below the mean (0 in epochs that do not prune)
    reason: str  # "soft" (pruned), "first_epoch" or "anneal" (all data, weight 1)

    @classmethod
    def choose(cls, epoch: int, table: np.ndarray | None, num_examples: int, epochs: int,
               prune_ratio: float, anneal_fraction: float, rng: np.random.Generator) -> "SoftSelection":
        """The selection before ``epoch``: soft pruning on a pruned epoch, all data otherwise."""
        scores = new_table(num_examples) if table is None else np.asarray(table, dtype=np.float64)
        if epoch in pruned_epochs(epochs, anneal_fraction):
            kept, weights, below = select_soft(scores, prune_ratio, rng)
            return cls(epoch, scores, kept, weights, below, "soft")
        reason = "first_epoch" if epoch == 0 else "anneal"
        return cls(epoch, scores, np.arange(num_examples), np.ones(num_examples), 0, reason)

    def record_into(self, state) -> None:
        """Give the run state (`raypruning.run_state.RunState`) the kept ids, weights, entry and rows."""
        state.kept_ids = self.kept_ids.tolist()
        state.loss_weights = self.weights
        state.events.append(self.record())
        state.score_rows.append(self.score_rows())

    def record(self) -> dict:
        """The entry in summary.json's pruning_events (same keys as a pruning event, plus below_mean)."""
        return {"epoch": self.epoch, "kept": int(len(self.kept_ids)), "scored": 0, "rescored": 0,
                "selection": "soft" if self.reason == "soft" else "all",
                "selection_reason": None if self.reason == "soft" else self.reason,
                "below_mean": int(self.below_mean)}

    def score_rows(self) -> pd.DataFrame:
        """One scores.parquet row per example; ``event`` is the epoch."""
        return score_rows(self.epoch, self.epoch, self.scores, self.kept_ids)
