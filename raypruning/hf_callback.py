"""Dynamic data pruning for Hugging Face ``Trainer`` users: a callback built on `DataDiet`.

The Trainer builds its training DataLoader once, before the first epoch, and
re-iterates it every epoch. So the callback hands the Trainer a dataset view,
`DataDietDataset`, whose length and rows are the current epoch's kept
examples; before each epoch (``on_epoch_begin``, which the Trainer calls
before it iterates the loader) the callback runs a scoring pass when a
pruning event is due and moves the view to that epoch's kept ids. The
Trainer's own random sampler then shuffles the kept examples; no Trainer
subclass and no private Trainer method is involved.

Scores come from a scoring pass over every training example in eval mode at
each event (the paper's method), not from the training forward pass, which
the Trainer does not hand to callbacks.

Usage::

    diet = DataDiet(len(train), epochs=4, keep_fraction=0.5, warmup_epochs=1)
    callback = DataDietCallback(diet, train, data_collator=collator)
    trainer = Trainer(model=model, args=TrainingArguments(..., num_train_epochs=4,
                      lr_scheduler_type="constant"), train_dataset=callback.train_dataset,
                      data_collator=collator, callbacks=[callback])
    trainer.train()

``train`` must carry an ``id`` column equal to the row number (raypruning's
data does). ``examples/datadiet_hf_trainer.py`` runs this end to end.

Limits, checked when training starts where they can be: one process (no
DDP); ``gradient_accumulation_steps`` 1; ``num_train_epochs`` equal to the
diet's epochs and no ``max_steps``; no persistent DataLoader workers (they
would keep a stale copy of the view); no resuming from a Trainer checkpoint
(the Trainer derives the epoch from the step count at full-data length). The
Trainer sizes its learning-rate schedule for full-data epochs, so a decaying
schedule does not reach its end; the paper uses a constant one. The float
``state.epoch`` the Trainer logs advances by the kept share of an epoch.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
from torch.utils.data import Dataset
from transformers import TrainerCallback

from raypruning.datadiet import DataDiet

ID_COLUMN = "id"


class DataDietDataset(Dataset):
    """A view of a training set holding only the kept examples of one epoch.

    Row i of the view is example ``ids[i]`` of the full set; `set_epoch`
    moves the view to another epoch's kept ids.
    """

    def __init__(self, dataset, diet: DataDiet):
        if len(dataset) != diet.num_examples:
            raise ValueError(f"the dataset has {len(dataset)} rows but the DataDiet {diet.num_examples} examples")
        self.dataset = dataset
        self.diet = diet
        self.epoch = 0
        self.ids = diet.kept_ids(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.ids = self.diet.kept_ids(epoch)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict:
        return _row(self.dataset, int(self.ids[index]))


class DataDietCallback(TrainerCallback):
    """Makes a ``transformers.Trainer`` train only the examples a `DataDiet` keeps each epoch.

    Args:
        diet: the schedule and score table (its epochs must equal the Trainer's).
        train_dataset: the full training set, rows of dicts with an ``id``
            column equal to the row number.
        data_collator: turns a list of rows (without ``id``) into a model
            batch for the scoring pass; usually the Trainer's collator.
        score_batch_size: batch size of the scoring pass.
        forward: ``(model, batch) -> (logits, labels)`` in the forms
            `DataDiet.update` takes; the default pops ``labels`` (or
            ``label``) from the batch and returns ``model(**batch).logits``.
            Joint intent + slot models return tuples here.

    After training, ``history`` holds one entry per epoch: ``epoch``,
    ``kept`` (examples the Trainer was given), ``event`` and ``scoring_time_s``.
    """

    def __init__(self, diet: DataDiet, train_dataset, data_collator: Callable, score_batch_size: int = 128,
                 forward: Callable | None = None):
        self.diet = diet
        self.full_dataset = train_dataset
        self.train_dataset = DataDietDataset(train_dataset, diet)
        self.data_collator = data_collator
        self.score_batch_size = score_batch_size
        self.forward = forward or _logits_and_labels
        self.history: list[dict] = []
        self._epoch = 0

    @property
    def examples_trained(self) -> int:
        return sum(h["kept"] for h in self.history)

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        problems = []
        if args.world_size > 1:
            problems.append(f"one process only (world size {args.world_size})")
        if args.gradient_accumulation_steps != 1:
            problems.append("gradient_accumulation_steps must be 1: the Trainer sizes accumulation groups "
                            "from the full-data epoch")
        if args.max_steps > 0 or args.num_train_epochs != self.diet.settings.epochs:
            problems.append(f"set num_train_epochs={self.diet.settings.epochs} (the DataDiet's epochs) "
                            f"and no max_steps")
        if args.dataloader_persistent_workers and args.dataloader_num_workers > 0:
            problems.append("persistent dataloader workers would keep a stale copy of the kept examples")
        if state.global_step > 0:
            problems.append("resuming a Trainer checkpoint is not supported (the Trainer counts epochs in "
                            "full-data steps); save diet.state_dict() with your own checkpoints instead")
        loader_dataset = getattr(train_dataloader, "dataset", None)
        if train_dataloader is not None and loader_dataset is not self.train_dataset:
            problems.append("pass train_dataset=callback.train_dataset to the Trainer")
        if problems:
            raise ValueError("DataDietCallback: " + "; ".join(problems))
        self._epoch = 0
        self.history = []

    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        epoch = self._epoch
        scoring_time = 0.0
        if self.diet.needs_scores(epoch):
            start = time.perf_counter()
            self.score_pass(model)
            scoring_time = time.perf_counter() - start
        self.train_dataset.set_epoch(epoch)
        self.history.append({"epoch": epoch, "kept": len(self.train_dataset), "event": self.diet.is_event(epoch),
                             "scoring_time_s": scoring_time})

    def on_epoch_end(self, args, state, control, **kwargs):
        self._epoch += 1

    def score_pass(self, model: torch.nn.Module) -> int:
        """Score every training example with the model in eval mode (the paper's scoring pass)."""
        device = next(model.parameters()).device
        n = self.diet.num_examples
        size = self.score_batch_size

        def batches():
            for start in range(0, n, size):
                ids = list(range(start, min(n, start + size)))
                rows = [{k: v for k, v in _row(self.full_dataset, i).items() if k != ID_COLUMN} for i in ids]
                batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v
                         for k, v in self.data_collator(rows).items()}
                yield torch.as_tensor(ids), batch

        def model_fn(item):
            ids, batch = item
            logits, labels = self.forward(model, batch)
            return ids, logits, labels

        return self.diet.score_pass(model_fn, batches(), model=model)


def _row(dataset, index: int) -> dict:
    row = dataset[index]
    if ID_COLUMN not in row:
        raise ValueError(f"DataDiet needs per-example ids: the training set has no {ID_COLUMN!r} column")
    if int(row[ID_COLUMN]) != index:
        raise ValueError(f"row {index} has {ID_COLUMN} {int(row[ID_COLUMN])}: the {ID_COLUMN!r} column "
                         "must equal the row number")
    return row


def _logits_and_labels(model, batch: dict):
    batch = dict(batch)
    labels = batch.pop("labels") if "labels" in batch else batch.pop("label")
    return model(**batch).logits, labels
