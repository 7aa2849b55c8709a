"""Label vocabularies, BIO tags, and the one place raw rows become a `TaskData`.

Every reader turns its files into *raw splits*: per split a dict of equal
length columns holding strings (``text``, ``text_pair``, ``label`` as the
label's name or a float for regression, ``words`` and ``slots`` as lists of
BIO tag names for joint tasks). `build_task_data` then builds the
vocabularies from train, appends the labels that only evaluation splits hold
(reporting them in ``TaskData.unseen``), encodes the labels to indices and
makes the `datasets.Dataset` splits, so all readers agree on ids, features
and vocabulary order.

Vocabulary order: class / intent names sorted (numerically when every name
is an integer, so "10" follows "9"), unless the reader passes a fixed list;
slot tags start with "O", then sorted by slot name with B- before I-. Labels
seen only in validation/test are appended after those, sorted. In
``unseen`` intents and classes appear under their own name, slot tags with a
``slot:`` prefix (``{"test": {"atis_day_name": 2, "slot:B-booking_class": 1}}``);
a slot count is the number of words carrying the tag.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

import datasets
import pyarrow as pa

from raypruning.data.schema import JOINT, REGRESSION, SPLITS, TaskData

SLOT_PREFIX = "slot:"


def sort_labels(names: Iterable[str]) -> list[str]:
    """Sorted label names; numerically when all of them are integers."""
    names = sorted(set(names))
    try:
        return sorted(names, key=int)
    except ValueError:
        return names


def _tag_key(tag: str) -> tuple[str, str]:
    return (tag[2:], tag[:2]) if tag[:2] in ("B-", "I-") else (tag, "")


def bio_tags(num_words: int, spans: Iterable[tuple[int, int, str]]) -> list[str]:
    """BIO tags for word spans ``(first, end exclusive, slot name)`` that do not overlap."""
    tags = ["O"] * num_words
    for first, end, name in spans:
        tags[first] = f"B-{name}"
        for i in range(first + 1, end):
            tags[i] = f"I-{name}"
    return tags


def _append_unseen(vocab: list[str], raw: dict[str, dict[str, list]], items, prefix: str,
                   unseen: dict[str, dict[str, int]], key=None) -> None:
    """Append labels of the evaluation splits missing from vocab; count them in unseen."""
    known = set(vocab)
    new: set[str] = set()
    for split in SPLITS[1:]:
        if split not in raw:
            continue
        counts = Counter(x for x in items(raw[split]) if x not in known)
        if counts:
            unseen.setdefault(split, {}).update({prefix + k: v for k, v in sorted(counts.items())})
            new.update(counts)
    vocab.extend(sorted(new, key=key))


def build_task_data(kind: str, raw: dict[str, dict[str, list]], *, task_name: str, has_pair: bool = False,
                    labels: list[str] | None = None) -> TaskData:
    """Encode raw splits into a TaskData.

    Args:
        kind: CLASSIFICATION, REGRESSION or JOINT.
        raw: split name ("train", "validation", optionally "test") -> columns
            (see the module docstring); train and validation are required.
        task_name: the TaskData's task name.
        has_pair: whether a ``text_pair`` column is present.
        labels: a fixed class vocabulary (GLUE); default: sorted train labels.
    """
    if "train" not in raw or "validation" not in raw:
        raise ValueError("raw splits need train and validation")
    unseen: dict[str, dict[str, int]] = {}
    label_vocab: list[str] = []
    if kind != REGRESSION:
        label_vocab = list(labels) if labels is not None else sort_labels(raw["train"]["label"])
        missing = set(raw["train"]["label"]) - set(label_vocab)
        if missing:
            raise ValueError(f"train labels outside the fixed vocabulary: {sorted(missing)}")
        _append_unseen(label_vocab, raw, lambda cols: cols["label"], "", unseen)
    slot_vocab: list[str] = []
    if kind == JOINT:
        train_tags = {t for tags in raw["train"]["slots"] for t in tags} - {"O"}
        slot_vocab = ["O", *sorted(train_tags, key=_tag_key)]
        _append_unseen(slot_vocab, raw, lambda cols: (t for tags in cols["slots"] for t in tags), SLOT_PREFIX,
                       unseen, key=_tag_key)

    features = {"id": datasets.Value("int64"), "text": datasets.Value("string")}
    if has_pair:
        features["text_pair"] = datasets.Value("string")
    features["label"] = datasets.Value("float64" if kind == REGRESSION else "int64")
    if kind == JOINT:
        features["words"] = datasets.List(datasets.Value("string"))
        features["slots"] = datasets.List(datasets.Value("int64"))
    features = datasets.Features(features)

    label_index = {name: i for i, name in enumerate(label_vocab)}
    slot_index = {name: i for i, name in enumerate(slot_vocab)}
    splits = {}
    for split in SPLITS:
        if split not in raw:
            continue
        cols = raw[split]
        columns = {"id": list(range(len(cols["text"]))), "text": cols["text"]}
        if has_pair:
            columns["text_pair"] = cols["text_pair"]
        if kind == REGRESSION:
            columns["label"] = [float(x) for x in cols["label"]]
        else:
            columns["label"] = [label_index[x] for x in cols["label"]]
        if kind == JOINT:
            columns["words"] = cols["words"]
            columns["slots"] = [[slot_index[t] for t in tags] for tags in cols["slots"]]
        # Straight to Arrow with the schema: from_dict would encode every value in Python.
        splits[split] = datasets.Dataset(pa.Table.from_pydict(columns, schema=features.arrow_schema))
    return TaskData(kind=kind, splits=splits, labels=label_vocab, slot_labels=slot_vocab, has_pair=has_pair,
                    task_name=task_name, unseen=unseen)
