"""The shape every data source returns, whatever its file format.

A source returns a `TaskData`: the task's kind and label vocabularies, and
splits as `datasets.Dataset` objects with these columns:

- ``id`` (int64): stable integer id of the example within its split (its
  row number in the source), the key of the per-example score table;
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

    @property
    def num_labels(self) -> int:
        return 1 if self.kind == REGRESSION else len(self.labels)
