"""What a run must carry across a restart, and its checkpoint format.

A checkpoint folder holds ``model.pt`` and ``optimizer.pt`` (torch state
dicts), ``state.json`` (schedule position, time and example counters, pruning
events, reported history) and ``arrays.npz`` (the score table's history:
smoothing state, forgetting counters, training-pass scores). ``scores.parquet``
holds every row scored so far, so a run's score history survives with its
checkpoint; the kept ids are its last event's kept rows, so they are stored
there only, not again in ``state.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from raypruning.keys import SCORE_COLUMNS

STATE_FILE = "state.json"
ARRAYS_FILE = "arrays.npz"
MODEL_FILE = "model.pt"
OPTIMIZER_FILE = "optimizer.pt"
SCORES_FILE = "scores.parquet"
SUMMARY_FILE = "summary.json"


def score_rows(event: int, epoch: int, scores: np.ndarray, kept_ids: np.ndarray) -> pd.DataFrame:
    """One scores.parquet row per example of a selection: its score and whether it was kept."""
    n = len(scores)
    kept = np.zeros(n, dtype=bool)
    kept[kept_ids] = True
    return pd.DataFrame(dict(zip(SCORE_COLUMNS, (event, epoch, np.arange(n), scores, kept))))


@dataclass
class RunState:
    next_epoch: int = 0  # the first epoch not yet trained
    kept_ids: list[int] | None = None  # current subset (None: all examples)
    train_time_s: float = 0.0
    scoring_time_s: float = 0.0
    wall_time_s: float = 0.0  # accumulated over restarts
    # training + scoring seconds of a warmup branched from the reference's checkpoint: counted in
    # total_time_s (what the run costs alone), not in cost_s (what this run spent)
    shared_time_s: float = 0.0
    examples_trained: int = 0
    step: int = 0
    events: list[dict] = field(default_factory=list)  # PruningEvent.record() of each event so far (PruningEvent.record_into)
    history: list[dict] = field(default_factory=list)  # per-epoch reported metrics
    restarts: int = 0
    # Arrays (not in state.json): smoothing state and forgetting counters.
    smooth_mean: np.ndarray | None = None
    smooth_var: np.ndarray | None = None
    last_correct: np.ndarray | None = None
    forgets: np.ndarray | None = None
    train_scores: np.ndarray | None = None  # scores from the last epoch's training pass (NaN: not trained)
    soft_scores: np.ndarray | None = None  # soft: every example's latest training-pass score (inf: never)
    loss_weights: np.ndarray | None = None  # soft: this epoch's loss weight of every example (0: skipped)
    # Score rows so far, one DataFrame per event.
    score_rows: list[pd.DataFrame] = field(default_factory=list)

    _ARRAYS = ("smooth_mean", "smooth_var", "last_correct", "forgets", "train_scores", "soft_scores",
               "loss_weights")

    # Kept in another file: arrays in ARRAYS_FILE, rows in SCORES_FILE, kept ids derived from the rows.
    _NOT_IN_JSON = _ARRAYS + ("score_rows", "kept_ids")

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        plain = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in self._NOT_IN_JSON}
        (folder / STATE_FILE).write_text(json.dumps(plain))
        arrays = {k: getattr(self, k) for k in self._ARRAYS if getattr(self, k) is not None}
        np.savez(folder / ARRAYS_FILE, **arrays)
        self.scores_frame().to_parquet(folder / SCORES_FILE, index=False)

    @classmethod
    def load(cls, folder: Path) -> "RunState":
        folder = Path(folder)
        state = cls(**json.loads((folder / STATE_FILE).read_text()))
        with np.load(folder / ARRAYS_FILE) as arrays:
            for key in arrays.files:
                setattr(state, key, arrays[key])
        scores = pd.read_parquet(folder / SCORES_FILE)
        state.score_rows = [scores] if len(scores) else []
        if len(scores):
            last = scores[scores["event"] == scores["event"].max()]
            state.kept_ids = sorted(int(i) for i in last.loc[last["kept"], "example_id"])
        return state

    def scores_frame(self) -> pd.DataFrame:
        if not self.score_rows:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
                SCORE_COLUMNS, ("int64", "int64", "int64", "float64", "bool"))})
        return pd.concat(self.score_rows, ignore_index=True)
