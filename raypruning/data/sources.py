"""One entry point from a DataConfig to a TaskData, and the summary `raypruning data` prints.

`load_task_data` picks the reader for ``data.format`` (each reader's module
docstring says which files it reads and how) and then keeps the first
``data.max_train_examples`` training rows. Readers are imported only when
used, so the synthetic path needs none of them. `describe` summarises a
TaskData as plain JSON data; `describe_text` renders that for the console.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections import Counter

import numpy as np

from raypruning.config import DATA_FORMATS, DataConfig
from raypruning.data.schema import JOINT, REGRESSION, TaskData
from raypruning.errors import InputError

# data.format -> module of raypruning.data whose load(DataConfig) reads it.
READERS = {"jointbert": "jointbert", "massive": "massive", "mtop": "mtop", "glue": "glue",
           "csv": "tabular", "jsonl": "tabular", "parquet": "tabular", "hf": "hub"}
MAX_LISTED = 25  # describe_text lists at most this many labels per vocabulary


def load_task_data(data_cfg: DataConfig) -> TaskData:
    """Read the data the config names; raises InputError on bad data or settings."""
    if data_cfg.format == "synthetic":
        from raypruning.data.synthetic import generate

        task = generate(data_cfg.synthetic)
    elif data_cfg.format in READERS:
        task = importlib.import_module(f"raypruning.data.{READERS[data_cfg.format]}").load(data_cfg)
    else:
        raise InputError(f"data.format: {data_cfg.format!r} is not one of {', '.join(DATA_FORMATS)}")
    limit = data_cfg.max_train_examples
    if limit is not None and len(task.splits["train"]) > limit:
        splits = dict(task.splits, train=task.splits["train"].select(range(limit)))
        task = dataclasses.replace(task, splits=splits)
    if data_cfg.eval_split not in task.splits:
        where = data_cfg.path or data_cfg.name or data_cfg.format
        raise InputError(f"key 'data.eval_split': {where} has no {data_cfg.eval_split!r} split "
                         f"(it has {', '.join(task.splits)})")
    return task


def describe(task: TaskData, data_format: str | None = None) -> dict:
    """Sizes, label counts, unseen labels and lengths of a task, as JSON-ready data.

    Returns ``{"format", "task", "kind", "pair", "splits": {split: rows},
    "labels": {label: train count} (vocabulary order, 0 for labels only
    evaluation splits hold; empty for regression), "slot_labels": {tag: train
    word count} (joint only), "target": {"min", "mean", "max"} of train
    labels (regression only), "unseen": TaskData.unseen, "lengths": {split:
    {"min", "mean", "median", "max"}} in whitespace words (both texts of a
    pair together)}``. ``data_format`` is the config's data.format.
    """
    train = task.splits["train"][:]  # all columns as lists (iterating a Column goes row by row: slow)
    out: dict = {"format": data_format, "task": task.task_name, "kind": task.kind, "pair": task.has_pair,
                 "splits": {name: len(ds) for name, ds in task.splits.items()}}
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
