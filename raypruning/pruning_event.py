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
        scores, rescored = _forward_scores(cfg, model, examples, state.train_scores, worker, index)
    previous = None if state.smooth_mean is None else {"mean": state.smooth_mean, "var": state.smooth_var}
    selected_on, smoothing = smooth(scores, previous, p.smoothing, p.ema_alpha, p.ucb_c)
    if tokens:
        kept = select_top_tokens(selected_on, examples.lengths, p.keep_fraction, rng, p.offset, p.explore)
    else:
        kept = select_top(selected_on, p.keep_fraction, rng, p.offset, p.explore)
    return PruningEvent(epoch, index, scores, kept, rescored, Selection.TOP, None, smoothing)


def _forward_scores(cfg: Config, model, examples: Examples, reused: np.ndarray | None,
                    worker: Worker, index: int = 0) -> tuple[np.ndarray, int]:
    """The score table from a scoring pass, sharded by length across workers, and how many it scored.

    Examples with a training-pass score in ``reused`` (not NaN) keep it and are not re-scored,
    except a seeded calibration sample of them (`calibration_sample`), scored in eval mode too so
    that `merge_reused` can put the training-pass scores on the eval scale.
    """
    to_score = np.ones(len(examples), dtype=bool)
    sample = np.empty(0, dtype=np.int64)
    if reused is not None:
        sample = calibration_sample(reused, cfg.pruning.reuse_calibration,
                                    generator(cfg.train.seed, SeedStream.CALIBRATION, index))
        to_score = np.isnan(reused)
        to_score[sample] = True
    by_length = np.argsort(examples.lengths, kind="stable")
    by_length = by_length[to_score[by_length]]
    mine = shard_ids(by_length, worker.rank, worker.world_size)
    local = score_examples(model, examples, mine, score=cfg.pruning.score, combine=cfg.pruning.joint_combine,
                           batch_size=cfg.train.eval_batch_size, device=worker.device,
                           precision=Precision.of(cfg.train.precision, worker.device))
    scores = all_reduce_scores(mine, local, len(examples), worker.device)
    if reused is not None:
        scores = merge_reused(scores, reused, sample)
    return scores, len(by_length)


MIN_CALIBRATION = 64  # reused examples scored in eval mode at least (all of them when fewer)


def calibration_sample(reused: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Ids of the reused examples (not NaN) to score in eval mode too: ``share`` of them, at least
    `MIN_CALIBRATION`; none when share is 0 (raw training-pass scores are ranked as they are)."""
    ids = np.flatnonzero(~np.isnan(reused))
    if share <= 0 or len(ids) == 0:
        return np.empty(0, dtype=np.int64)
    size = min(len(ids), max(MIN_CALIBRATION, int(np.ceil(share * len(ids)))))
    return np.sort(rng.choice(ids, size=size, replace=False))


def merge_reused(eval_scores: np.ndarray, reused: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """One score table from eval-mode scores (NaN reused entries) and training-pass scores.

    Training-pass scores come from a model in train mode (dropout on) mid-epoch, so their scale
    differs from eval mode's; ranked raw beside eval-mode scores, one population would crowd out
    the other. With a calibration ``sample`` (ids holding both scores) each training-pass score
    is mapped onto the eval scale by matching quantiles of the sample's two score lists, which
    keeps the training-pass order within its population; beyond the sample's range the mapping
    continues with slope 1, so the order is kept there too. The sample keeps its eval scores.
    """
    trained = ~np.isnan(reused)
    mapped = reused.copy()
    if len(sample):
        xs, ys = np.sort(reused[sample]), np.sort(eval_scores[sample])
        x = reused[trained]
        mapped[trained] = np.where(x < xs[0], ys[0] + (x - xs[0]),
                                   np.where(x > xs[-1], ys[-1] + (x - xs[-1]), np.interp(x, xs, ys)))
        mapped[sample] = eval_scores[sample]
    return np.where(trained, mapped, eval_scores)
