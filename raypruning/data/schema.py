"""The shape every data source returns, whatever its file format.

A source returns a `TaskData`: the task's kind and label vocabularies, and
splits as `datasets.Dataset` objects with these columns:

- ``id`` (int64): the example's row number within its split, 0..rows-1,
  the key of the per-example score table (the row number in the source,
  unless the training sample or the validation carve of
  `raypruning.data.sources` picked the rows: then they are renumbered in
  order);
- ``text`` (str) and, for pair tasks, ``text_pair`` (str);
- ``label``: int index into ``labels`` (classification, joint intent) or
  float (regression);
- joint tasks only: ``words`` (list[str]) and ``slots`` (list[int], indices
  into ``slot_labels``, one per word).

Labels seen only in evaluation splits are appended to the vocabularies (so
metrics count them as errors instead of crashing) and listed in ``unseen``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import datasets

CLASSIFICATION = "classification"
REGRESSION = "regression"
JOINT = "joint"
SPLITS = ("train", "validation", "test")


@dataclass
class TaskData:
    kind: str  # CLASSIFICATION, REGRESSION or JOINT
    splits: dict[str, datasets.Dataset]  # keys from SPLITS; train and validation always present
    labels: list[str] = field(default_factory=list)  # class / intent names (empty for regression)
    slot_labels: list[str] = field(default_factory=list)  # BIO tags, "O" first (joint only)
    has_pair: bool = False
    task_name: str = ""  # e.g. "atis", "SST-2", "synthetic-joint"; picks the primary metric
    unseen: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> {unseen label: count}
    # Set by sources.load_task_data from the DataConfig (readers leave the defaults):
    eval_split: str = "validation"  # split scored every epoch and used for selection
    test_split: str | None = None  # split evaluated once after the last epoch; None: no test evaluation
    sampled_from: int | None = None  # train rows data.max_train_examples drew from; None: not sampled

    @property
    def num_labels(self) -> int:
        return 1 if self.kind == REGRESSION else len(self.labels)
