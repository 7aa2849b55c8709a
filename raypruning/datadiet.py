"""The pruning curriculum without Ray, for people who run their own training loop.

A `DataDiet` holds the per-example score table and the schedule (warm up tau
epochs on everything; then every T epochs, or once for ``static``, keep the
fraction f of examples with the highest scores). Each epoch it says which
example ids to train; the caller feeds it scores. Example ids are positions
0..N-1 in the training set (the ``id`` column of raypruning's data).

Where the scores at a pruning event come from is the caller's choice, and the
two choices are different methods:

- `DataDiet.score_pass` re-scores every example (pruned ones included) with
  the current model in eval mode before the event: the paper's method
  (Attendu and Corbeil 2023). It costs one forward pass over all the data per
  event. `DataDiet.needs_scores` says when it is due.
- `DataDiet.update` called after each training forward pass records the scores
  of the examples just trained (InfoBatch's idea: the scores come free). They
  come from a model in train mode, mid-epoch, and a pruned example keeps the
  score it had when it was last trained. Epoch 0's training pass meets each
  example before the model has learnt anything, which is why raypruning's own
  recipe never reuses it.

Either way the table holds the latest score recorded for each example, and an
event selects from it. With tau = 0 the first subset is drawn at random
(scores of an untrained model mean nothing).

Run it::

    diet = DataDiet(len(train), epochs=4, keep_fraction=0.5, warmup_epochs=1, seed=0)
    for epoch in range(4):
        if diet.needs_scores(epoch):
            diet.score_pass(forward, full_loader, model=model)
        loader = DataLoader(train, batch_size=32, sampler=diet.sampler(epoch), collate_fn=...)
        for batch in loader:
            ...  # forward, loss, backward, step

``examples/datadiet_plain_loop.py`` is that loop in full.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

from raypruning.data.schema import CLASSIFICATION, JOINT, REGRESSION
from raypruning.schedule import PruningSchedule
from raypruning.scoring import batch_scores
from raypruning.selection import select_random, select_top

MODES = ("full", "static", "dynamic")
SCORES = ("el2n", "loss")  # the scores a DataDiet computes from logits and labels
COMBINES = ("norm", "sum", "mean")
STATE_VERSION = 1
# Mixed into the seed of each event's selection and each epoch's shuffle, so the two never share a stream.
_SELECT_STREAM, _SHUFFLE_STREAM = 7919, 104729


@dataclass(frozen=True)
class DietSettings:
    """Everything that fixes a DataDiet's selections; saved with its state and checked on load."""

    num_examples: int  # N, training examples (ids 0..N-1)
    epochs: int  # E, the epoch budget
    keep_fraction: float  # f, share kept after each event
    warmup_epochs: int = 1  # tau, full-data epochs first
    period_epochs: int = 1  # T, epochs per subset (dynamic)
    mode: str = "dynamic"  # full, static (select once) or dynamic (every T epochs)
    score: str = "el2n"  # el2n or loss
    seed: int = 0  # seeds tie-breaking, exploration, a random first subset and the shuffles
    joint_combine: str = "norm"  # joint intent + slot EL2N: norm, sum or mean
    offset: float = 0.0  # skip this top share of the hardest (likely mislabelled) examples
    explore: float = 0.0  # share of the kept budget drawn at random from the rest

    def problems(self) -> list[str]:
        out = []
        if self.num_examples < 1:
            out.append(f"num_examples must be at least 1, got {self.num_examples}")
        if self.epochs < 1:
            out.append(f"epochs must be at least 1, got {self.epochs}")
        if not 0.0 < self.keep_fraction <= 1.0:
            out.append(f"keep_fraction must be in (0, 1], got {self.keep_fraction}")
        if self.warmup_epochs < 0:
            out.append(f"warmup_epochs must be at least 0, got {self.warmup_epochs}")
        if self.period_epochs < 1:
            out.append(f"period_epochs must be at least 1, got {self.period_epochs}")
        if self.mode not in MODES:
            out.append(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.score not in SCORES:
            out.append(f"score must be one of {', '.join(SCORES)}, got {self.score!r}")
        if self.joint_combine not in COMBINES:
            out.append(f"joint_combine must be one of {', '.join(COMBINES)}, got {self.joint_combine!r}")
        if not 0.0 <= self.offset < 1.0:
            out.append(f"offset must be in [0, 1), got {self.offset}")
        if not 0.0 <= self.explore <= 1.0:
            out.append(f"explore must be in [0, 1], got {self.explore}")
        return out


class DataDiet:
    """The score table and schedule of one training run.

    Args:
        num_examples: N; example ids are 0..N-1.
        epochs: E, the epoch budget.
        keep_fraction: f, the share of examples kept after each pruning event.
        warmup_epochs: tau, epochs trained on every example first.
        period_epochs: T, epochs trained on one subset before re-scoring (dynamic).
        mode: ``dynamic`` (re-select every T epochs), ``static`` (select once
            after warmup) or ``full`` (never prune).
        score: ``el2n`` (||softmax(z) - onehot(y)||; regression |pred - y|) or
            ``loss`` (the per-example training loss).
        seed: seeds tie-breaking, exploration, a random first subset (tau = 0)
            and `sampler`'s shuffles.
        joint_combine: how a joint task's intent and slot errors combine
            (``norm``, ``sum`` or ``mean``; see raypruning.scoring).
        offset: skip this top share of the hardest examples before keeping.
        explore: share of the kept budget drawn at random from the others.

    Raises:
        ValueError: a setting is out of range (every problem in one message).
    """

    def __init__(self, num_examples: int, epochs: int, keep_fraction: float, warmup_epochs: int = 1,
                 period_epochs: int = 1, mode: str = "dynamic", score: str = "el2n", seed: int = 0,
                 joint_combine: str = "norm", offset: float = 0.0, explore: float = 0.0):
        self.settings = DietSettings(int(num_examples), int(epochs), float(keep_fraction), int(warmup_epochs),
                                     int(period_epochs), mode, score, int(seed), joint_combine, float(offset),
                                     float(explore))
        problems = self.settings.problems()
        if problems:
            raise ValueError("DataDiet: " + "; ".join(problems))
        s = self.settings
        self.schedule = PruningSchedule(s.epochs, s.mode, s.warmup_epochs, s.period_epochs, s.keep_fraction)
        self.scores = np.full(s.num_examples, np.nan)  # latest score of each example; NaN: never scored
        self._selections: dict[int, np.ndarray] = {}  # event epoch -> kept ids (sorted)

    @property
    def num_examples(self) -> int:
        return self.settings.num_examples

    # ------------------------------------------------------------ the schedule

    def is_event(self, epoch: int) -> bool:
        """Whether the kept set is re-selected before this (0-based) epoch."""
        return self.schedule.is_event(epoch)

    def needs_scores(self, epoch: int) -> bool:
        """Whether a scoring pass is due before `kept_ids(epoch)`: an event not yet selected.

        False at a tau = 0 first event (its subset is random) and once the
        event's selection is made.
        """
        self._check_epoch(epoch)
        return self.is_event(epoch) and epoch > 0 and epoch not in self._selections

    def kept_ids(self, epoch: int) -> np.ndarray:
        """The example ids to train in this epoch, sorted ascending.

        At an event epoch the first call selects the top f from the score
        table as it stands; later calls return that same selection. Epochs
        may be asked in any order once their events are selected; an event
        is selected from the table at the time of the call.

        Raises:
            RuntimeError: an event after epoch 0 whose table holds no score.
        """
        self._check_epoch(epoch)
        events = [e for e in self.schedule.event_epochs() if e <= epoch]
        if not events:
            return np.arange(self.num_examples)
        event = events[-1]
        if event not in self._selections:
            self._selections[event] = self._select(event, event_index=len(events) - 1)
        return self._selections[event].copy()

    def sampler(self, epoch: int) -> "KeptSampler":
        """A torch Sampler over this epoch's kept ids, shuffled by a generator seeded from (seed, epoch)."""
        return KeptSampler(self.kept_ids(epoch), seed=_derive_seed(self.settings.seed, _SHUFFLE_STREAM, epoch))

    def examples_per_epoch(self) -> list[int]:
        """How many examples each epoch trains, from the schedule alone."""
        return self.schedule.examples_per_epoch(self.num_examples)

    def work_fraction(self) -> float:
        """Examples trained over the whole budget relative to full data: (tau + f (E - tau)) / E."""
        return self.schedule.ideal_fraction(self.num_examples)

    def _select(self, epoch: int, event_index: int) -> np.ndarray:
        s = self.settings
        rng = np.random.default_rng(_derive_seed(s.seed, _SELECT_STREAM, event_index))
        if epoch == 0:
            return select_random(s.num_examples, s.keep_fraction, rng)
        if np.isnan(self.scores).all():
            raise RuntimeError(f"DataDiet: pruning event at epoch {epoch} but no example has a score; "
                               "call score_pass() (or update() during training) first")
        return select_top(self.scores, s.keep_fraction, rng, s.offset, s.explore)

    def _check_epoch(self, epoch: int) -> None:
        if not 0 <= epoch < self.settings.epochs:
            raise ValueError(f"DataDiet: epoch {epoch} is outside the budget 0..{self.settings.epochs - 1}")

    # ------------------------------------------------------------ scores

    def update(self, ids, logits, labels) -> np.ndarray:
        """Record the score of each example of a batch from the model's outputs.

        Args:
            ids: example ids, shape [B] (tensor, array or list).
            logits: ``[B, C]`` class logits (``[B]`` or ``[B, 1]`` for
                regression), or for joint tasks ``(intent_logits [B, C],
                slot_logits [B, L, S])``.
            labels: ``[B]`` class ids (float targets for regression), or for
                joint tasks ``(intent_labels [B], slot_labels [B, L])`` with
                -100 on positions that carry no tag (later sub-tokens,
                special tokens, padding).

        Returns:
            The batch's scores (float64, shape [B]), now in the table.
        """
        ids = _as_ids(ids)
        with torch.no_grad():
            outputs, batch, kind = _outputs_and_batch(logits, labels)
            values = batch_scores(outputs, batch, kind, self.settings.score, self.settings.joint_combine)
        values = values.double().cpu().numpy()
        if len(values) != len(ids):
            raise ValueError(f"DataDiet.update: {len(ids)} ids but {len(values)} scores")
        if len(ids) and (ids.min() < 0 or ids.max() >= self.num_examples):
            raise ValueError(f"DataDiet.update: ids must be in 0..{self.num_examples - 1}")
        self.scores[ids] = values
        return values

    def score_pass(self, model_fn: Callable, loader: Iterable, *, model: torch.nn.Module | None = None) -> int:
        """Score every example the loader yields, without gradients: the paper's scoring pass.

        Args:
            model_fn: ``batch -> (ids, logits, labels)`` for one batch of the
                loader, in the forms `update` takes.
            loader: batches over the whole training set (pruned examples
                included, so an example can come back), e.g. a DataLoader
                without shuffling.
            model: when given, put in eval mode for the pass (the paper scores
                in eval mode, without dropout) and restored afterwards.

        Returns:
            How many examples were scored.
        """
        was_training = model.training if model is not None else None
        if model is not None:
            model.eval()
        scored = 0
        try:
            with torch.inference_mode():
                for batch in loader:
                    ids, logits, labels = model_fn(batch)
                    scored += len(self.update(ids, logits, labels))
        finally:
            if model is not None:
                model.train(was_training)
        return scored

    # ------------------------------------------------------------ state

    def state_dict(self) -> dict:
        """The settings, score table and selections made so far.

        Holds only tensors and plain Python values, so ``torch.save`` and
        ``torch.load`` (weights_only) round-trip it.
        """
        return {
            "version": STATE_VERSION,
            "settings": asdict(self.settings),
            "scores": torch.from_numpy(self.scores.copy()),
            "selections": {int(e): torch.from_numpy(ids.astype(np.int64)) for e, ids in self._selections.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a `state_dict`; the settings must equal this diet's.

        Raises:
            ValueError: another version, or settings that differ (named).
        """
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"DataDiet: state version {state.get('version')!r}, expected {STATE_VERSION}")
        mine = asdict(self.settings)
        differ = [f"{k}: saved {state['settings'].get(k)!r}, here {v!r}" for k, v in mine.items()
                  if state["settings"].get(k) != v]
        if differ:
            raise ValueError("DataDiet: the saved state has other settings (" + "; ".join(differ) + ")")
        self.scores = torch.as_tensor(state["scores"], dtype=torch.float64).numpy().copy()
        self._selections = {int(e): torch.as_tensor(ids).numpy().astype(np.int64).copy()
                            for e, ids in state["selections"].items()}


class KeptSampler(Sampler[int]):
    """Yields a fixed set of example ids in a seeded random order (the same order for the same seed)."""

    def __init__(self, ids, seed: int):
        self.ids = _as_ids(ids)
        self.seed = int(seed)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(len(self.ids), generator=generator).numpy()
        return iter(self.ids[order].tolist())

    def __len__(self) -> int:
        return len(self.ids)


def _derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers, stable across runs and platforms."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _as_ids(ids) -> np.ndarray:
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    return np.asarray(ids, dtype=np.int64).reshape(-1)


def _outputs_and_batch(logits, labels) -> tuple[dict, dict, str]:
    """The dicts raypruning.scoring reads, and the task kind the shapes imply."""
    if isinstance(logits, (tuple, list)):
        if not isinstance(labels, (tuple, list)) or len(logits) != 2 or len(labels) != 2:
            raise ValueError("joint tasks take (intent_logits, slot_logits) and (intent_labels, slot_labels)")
        (intent, slots), (intent_labels, slot_labels) = logits, labels
        return ({"logits": intent, "slot_logits": slots},
                {"label": torch.as_tensor(intent_labels, device=intent.device),
                 "slot_labels": torch.as_tensor(slot_labels, device=slots.device)}, JOINT)
    labels = torch.as_tensor(labels, device=logits.device)
    if labels.is_floating_point():
        return {"logits": logits.reshape(-1)}, {"label": labels.reshape(-1)}, REGRESSION
    return {"logits": logits}, {"label": labels}, CLASSIFICATION
