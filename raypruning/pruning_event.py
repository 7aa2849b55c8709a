"""One pruning event: score (own shard) -> all-reduce -> smooth -> select.

Every worker runs the event and ends with the same `PruningEvent`: each scores
only its shard of the examples, the score table is all-reduced, and smoothing
and selection are pure functions of that table and a seeded generator, so the
kept ids agree with no further communication. Without a process group (one
worker, or a test) the all-reduce is the identity.

The kept fraction counts examples or, with ``pruning.budget: tokens``, tokens.
Selection is ``top`` (the highest smoothed scores, see `select_top`) unless it
is ``random``, for one of two reasons the event records: the score *is*
``random`` (random dynamic pruning, a baseline), or the event comes before any
training (tau = 0), where an untrained model's scores carry no signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from raypruning.config import Config
from raypruning.forgetting import forgetting_scores
from raypruning.run_state import RunState, score_rows
from raypruning.score_table import Worker, all_reduce_scores, shard_ids
from raypruning.scoring import Examples, Precision, score_examples
from raypruning.seeds import SeedStream, generator
from raypruning.selection import select_random, select_random_tokens, select_top, select_top_tokens, smooth


class Selection(str, Enum):
    TOP = "top"  # the highest (smoothed) scores, after offset and exploration
    RANDOM = "random"  # a uniformly random subset


class RandomBecause(str, Enum):
    """Why an event selected at random."""

    RANDOM_SCORE = "random_score"  # pruning.score is random
    UNTRAINED_MODEL = "untrained_model"  # pruning.warmup_epochs = 0: the model has not trained yet


@dataclass(frozen=True, eq=False)
class PruningEvent:
    epoch: int  # the 0-based epoch the event comes before
    index: int  # 0 for a run's first event
    scores: np.ndarray  # every example's score, float64, before smoothing
    kept_ids: np.ndarray  # the selected ids, ascending
    rescored: int  # examples a scoring pass scored (the rest came from training, history or a seed)
    selection: Selection
    random_because: RandomBecause | None  # set exactly when selection is random
    smoothing: dict | None  # smoothing state after the event ({"mean", "var"}), None without smoothing

    def record_into(self, state: RunState) -> None:
        """Give the run state this event's kept ids, summary entry, score rows and smoothing state."""
        state.kept_ids = self.kept_ids.tolist()
        state.events.append(self.record())
        state.score_rows.append(self.score_rows())
        if self.smoothing is not None:
            state.smooth_mean, state.smooth_var = self.smoothing["mean"], self.smoothing["var"]

    def record(self) -> dict:
        """The event's entry in summary.json's pruning_events."""
        return {
            "epoch": self.epoch,
            "kept": int(len(self.kept_ids)),
            "scored": int(len(self.scores)),
            "rescored": int(self.rescored),
            "selection": self.selection.value,
            "selection_reason": None if self.random_because is None else self.random_because.value,
        }

    def score_rows(self) -> pd.DataFrame:
        """One scores.parquet row per example."""
        return score_rows(self.index, self.epoch, self.scores, self.kept_ids)


def random_because(score: str, epoch: int) -> RandomBecause | None:
    """Why an event at this epoch selects at random, or None when it selects the top scores."""
    if score == "random":
        return RandomBecause.RANDOM_SCORE
    if epoch == 0:
        return RandomBecause.UNTRAINED_MODEL
    return None


def run_event(cfg: Config, model, examples: Examples, state: RunState, epoch: int,
              worker: Worker = Worker()) -> PruningEvent:
    """Score, share, smooth and select before ``epoch``.

    Args:
        cfg: the run's config (pruning section, seed, epochs, scoring batch size).
        model: the unwrapped model (each worker scores its own shard).
        examples: the encoded training set.
        state: read only: the events so far, smoothing and forgetting history, and
            the last epoch's training-pass scores when they stand in for a scoring pass.
        epoch: the 0-based epoch about to start.
        worker: this process's rank, group size and device.
    """
    p = cfg.pruning
    n = len(examples)
    index = len(state.events)
    rng = generator(cfg.train.seed, SeedStream.SELECTION, index)
    reason = random_because(p.score, epoch)
    tokens = p.budget == "tokens"
    if reason is not None:
        scores = rng.random(n)
        kept = (select_random_tokens(examples.lengths, p.keep_fraction, rng) if tokens
                else select_random(n, p.keep_fraction, rng))
        return PruningEvent(epoch, index, scores, kept, 0, Selection.RANDOM, reason, None)
    if p.score == "forgetting":
        scores = forgetting_scores(state.last_correct, state.forgets, n, never_learned=cfg.train.epochs + 1.0)
        rescored = 0
    else:
        scores, rescored = _forward_scores(cfg, model, examples, state.train_scores, worker)
    previous = None if state.smooth_mean is None else {"mean": state.smooth_mean, "var": state.smooth_var}
    selected_on, smoothing = smooth(scores, previous, p.smoothing, p.ema_alpha, p.ucb_c)
    if tokens:
        kept = select_top_tokens(selected_on, examples.lengths, p.keep_fraction, rng, p.offset, p.explore)
    else:
        kept = select_top(selected_on, p.keep_fraction, rng, p.offset, p.explore)
    return PruningEvent(epoch, index, scores, kept, rescored, Selection.TOP, None, smoothing)


def _forward_scores(cfg: Config, model, examples: Examples, reused: np.ndarray | None,
                    worker: Worker) -> tuple[np.ndarray, int]:
    """The score table from a scoring pass, sharded by length across workers, and how many it scored.

    Examples with a training-pass score in ``reused`` (not NaN) keep it and are not re-scored.
    """
    by_length = np.argsort(examples.lengths, kind="stable")
    if reused is not None:
        by_length = by_length[np.isnan(reused[by_length])]
    mine = shard_ids(by_length, worker.rank, worker.world_size)
    local = score_examples(model, examples, mine, score=cfg.pruning.score, combine=cfg.pruning.joint_combine,
                           batch_size=cfg.train.eval_batch_size, device=worker.device,
                           precision=Precision.of(cfg.train.precision, worker.device))
    scores = all_reduce_scores(mine, local, len(examples), worker.device)
    if reused is not None:
        scores = np.where(np.isnan(reused), scores, reused)
    return scores, len(by_length)
