"""One entry point from a DataConfig to a TaskData, and the summary `raypruning data` prints.

`load_task_data` picks the reader for ``data.format`` (each reader's module
docstring says which files it reads and how), then shapes the splits:

1. ``data.validation_fraction`` > 0 carves a label-stratified validation
   split out of the *full* train split (so its size does not depend on
   ``data.max_train_examples``). It replaces the reader's validation split,
   which becomes ``test`` when the data has no test split (GLUE: the
   official dev set, since GLUE test labels are hidden) and is dropped
   otherwise.
2. ``data.max_train_examples`` keeps a label-stratified random sample of the
   remaining train rows, in their original order (a file ordered by label
   keeps every class, in proportion).
3. The splits in use are checked and resolved: ``data.eval_split`` must
   exist; ``data.test_split`` "auto" means ``test`` when the data has one
   and it is not the eval split, an explicit name must exist and differ
   from the eval split, null means none. The resolved names are set on the
   TaskData.

Both picks draw from one generator seeded with ``data.sample_seed`` (not
train.seed: trials of a study with different training seeds see the same
data); `raypruning.data.sampling` holds the stratified draws. Picked rows get
ids 0..n-1 in order, the score table's index. Readers are imported only when
used, so the synthetic path needs none of them. `describe` summarises a
TaskData as plain JSON data; `describe_text` renders that for the console.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections import Counter

import datasets
import numpy as np
import pyarrow as pa

from raypruning.config import DATA_FORMATS, DataConfig
from raypruning.data.sampling import stratified_sample, stratified_split, strata
from raypruning.data.schema import JOINT, REGRESSION, SPLITS, TaskData
from raypruning.errors import InputError

# data.format -> module of raypruning.data whose load(DataConfig) reads it.
READERS = {"jointbert": "jointbert", "massive": "massive", "mtop": "mtop", "glue": "glue",
           "csv": "tabular", "jsonl": "tabular", "parquet": "tabular", "hf": "hub"}
MAX_LISTED = 25  # describe_text lists at most this many labels per vocabulary


def load_task_data(data_cfg: DataConfig) -> TaskData:
    """Read the data the config names, carve, sample and resolve its splits (module docstring).

    Raises InputError on bad data or settings.
    """
    task = _read(data_cfg)
    where = data_cfg.path or data_cfg.name or data_cfg.format
    rng = np.random.default_rng(data_cfg.sample_seed)
    if data_cfg.validation_fraction > 0:
        task = carve_validation(task, data_cfg.validation_fraction, rng, where)
    limit = data_cfg.max_train_examples
    if limit is not None and len(task.splits["train"]) > limit:
        task = sample_train(task, limit, rng)
    if data_cfg.eval_split not in task.splits:
        raise InputError(f"key 'data.eval_split': {where} has no {data_cfg.eval_split!r} split "
                         f"(it has {', '.join(task.splits)})")
    test_split = resolve_test_split(data_cfg.test_split, data_cfg.eval_split, task.splits, where)
    return dataclasses.replace(task, eval_split=data_cfg.eval_split, test_split=test_split)


def _read(data_cfg: DataConfig) -> TaskData:
    if data_cfg.format == "synthetic":
        from raypruning.data.synthetic import generate

        return generate(data_cfg.synthetic)
    if data_cfg.format in READERS:
        return importlib.import_module(f"raypruning.data.{READERS[data_cfg.format]}").load(data_cfg)
    raise InputError(f"data.format: {data_cfg.format!r} is not one of {', '.join(DATA_FORMATS)}")


def _strata(task: TaskData) -> np.ndarray:
    labels = task.splits["train"].with_format("arrow")[:].column("label").to_numpy()
    return strata(labels, regression=task.kind == REGRESSION)


def take_rows(ds: datasets.Dataset, rows: np.ndarray) -> datasets.Dataset:
    """The rows of ds at the given positions, in that order, with ids renumbered 0..n-1."""
    table = ds.with_format("arrow")[rows.tolist()]
    ids = pa.array(np.arange(len(rows), dtype=np.int64))
    return datasets.Dataset(table.set_column(table.schema.get_field_index("id"), "id", ids))


def sample_train(task: TaskData, n: int, rng: np.random.Generator) -> TaskData:
    """Keep a label-stratified sample of n train rows, in their original order."""
    rows = stratified_sample(_strata(task), n, rng)
    train = task.splits["train"]
    return dataclasses.replace(task, splits=dict(task.splits, train=take_rows(train, rows)),
                               sampled_from=len(train))


def carve_validation(task: TaskData, fraction: float, rng: np.random.Generator, where: str) -> TaskData:
    """Move a label-stratified share of train into a new validation split.

    The reader's validation split becomes ``test`` when there is no test
    split, and is dropped otherwise (with its ``unseen`` entry; labels it
    added to the vocabulary stay there, counted 0 in train).
    """
    train = task.splits["train"]
    labels = _strata(task)
    n_out = round(fraction * len(train))
    room = len(train) - len(np.unique(labels))  # every label (or target bin) keeps a training row
    if not 1 <= n_out <= room:
        raise InputError(f"key 'data.validation_fraction': {fraction} of the {len(train)} train rows of {where} "
                         f"is {n_out} rows; it must be between 1 and {room} so that every label keeps a "
                         f"training row")
    kept, out = stratified_split(labels, n_out, rng)
    splits = dict(task.splits, train=take_rows(train, kept), validation=take_rows(train, out))
    unseen = dict(task.unseen)
    official, official_unseen = task.splits["validation"], unseen.pop("validation", None)
    if "test" not in splits:
        splits["test"] = official
        if official_unseen:
            unseen["test"] = official_unseen
    return dataclasses.replace(task, splits={name: splits[name] for name in SPLITS if name in splits},
                               unseen={name: unseen[name] for name in SPLITS if name in unseen})


def resolve_test_split(wanted: str | None, eval_split: str, splits, where: str) -> str | None:
    """The split evaluated once after training (see the module docstring), or None."""
    if wanted is None:
        return None
    if wanted == "auto":
        return "test" if "test" in splits and eval_split != "test" else None
    if wanted not in splits:
        raise InputError(f"key 'data.test_split': {where} has no {wanted!r} split (it has {', '.join(splits)})")
    if wanted == eval_split:
        raise InputError(f"key 'data.test_split': {wanted!r} is also data.eval_split; selection must not use "
                         f"the test split")
    return wanted


def describe(task: TaskData, data_format: str | None = None) -> dict:
    """Sizes, label counts, unseen labels and lengths of a task, as JSON-ready data.

    Returns ``{"format", "task", "kind", "pair", "splits": {split: rows},
    "sampled_from": train rows before data.max_train_examples drew its sample
    (the train size when it did not), "eval_split": the split scored for
    selection, "test_split": the split evaluated once after training or
    None, "labels": {label: train count} (vocabulary order, 0 for labels only
    evaluation splits hold; empty for regression), "slot_labels": {tag: train
    word count} (joint only), "target": {"min", "mean", "max"} of train
    labels (regression only), "unseen": TaskData.unseen, "lengths": {split:
    {"min", "mean", "median", "max"}} in whitespace words (both texts of a
    pair together)}``. ``data_format`` is the config's data.format.
    """
    train = task.splits["train"][:]  # all columns as lists (iterating a Column goes row by row: slow)
    out: dict = {"format": data_format, "task": task.task_name, "kind": task.kind, "pair": task.has_pair,
                 "splits": {name: len(ds) for name, ds in task.splits.items()},
                 "sampled_from": task.sampled_from if task.sampled_from is not None else len(train["label"]),
                 "eval_split": task.eval_split, "test_split": task.test_split}
    labels = list(train["label"])
    if task.kind == REGRESSION:
        out["labels"] = {}
        out["target"] = {"min": min(labels), "mean": round(float(np.mean(labels)), 4), "max": max(labels)}
    else:
        counts = Counter(labels)
        out["labels"] = {name: counts.get(i, 0) for i, name in enumerate(task.labels)}
    if task.kind == JOINT:
        counts = Counter(t for tags in train["slots"] for t in tags)
        out["slot_labels"] = {name: counts.get(i, 0) for i, name in enumerate(task.slot_labels)}
    out["unseen"] = task.unseen
    out["lengths"] = {name: _length_stats(ds[:], task) for name, ds in task.splits.items()}
    return out


def _length_stats(ds: dict[str, list], task: TaskData) -> dict:
    if task.kind == JOINT:
        n = np.array([len(w) for w in ds["words"]])
    else:
        n = np.array([len(t.split()) for t in ds["text"]])
        if task.has_pair:
            n = n + np.array([len(t.split()) for t in ds["text_pair"]])
    if len(n) == 0:
        return {"min": 0, "mean": 0.0, "median": 0.0, "max": 0}
    return {"min": int(n.min()), "mean": round(float(n.mean()), 2), "median": float(np.median(n)),
            "max": int(n.max())}


def describe_text(d: dict) -> str:
    """A readable multi-line rendering of `describe`'s output."""
    lines = [f"task     {d['task']} ({d['kind']}{', pair' if d.get('pair') else ''}"
             f"{', format ' + d['format'] if d.get('format') else ''})",
             "splits   " + "  ".join(f"{name} {n}" for name, n in d["splits"].items()),
             f"use      eval on {d['eval_split']}, test on {d['test_split'] or 'none'}"
             + (f", train sampled from {d['sampled_from']} rows" if d["sampled_from"] != d["splits"]["train"]
                else ""),
             "", f"{'length (words)':<16}{'min':>6}{'mean':>9}{'median':>9}{'max':>6}"]
    for name, s in d["lengths"].items():
        lines.append(f"  {name:<14}{s['min']:>6}{s['mean']:>9.2f}{s['median']:>9.1f}{s['max']:>6}")
    if "target" in d:
        t = d["target"]
        lines += ["", f"target   min {t['min']:g}  mean {t['mean']:g}  max {t['max']:g}"]
    for title, key in (("labels", "labels"), ("slot labels", "slot_labels")):
        counts = d.get(key) or {}
        if not counts:
            continue
        lines += ["", f"{title} ({len(counts)})  train count"]
        width = min(max(len(name) for name in counts), 40)
        shown = sorted(counts.items(), key=lambda kv: -kv[1])[:MAX_LISTED]
        lines += [f"  {name:<{width}}  {n:>7}" for name, n in shown]
        if len(counts) > MAX_LISTED:
            lines.append(f"  ... {len(counts) - MAX_LISTED} more (--json lists all)")
    if d.get("unseen"):
        lines += ["", "unseen in train (appended to the vocabularies)"]
        for split, counts in d["unseen"].items():
            lines.append(f"  {split}: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    return "\n".join(lines)
