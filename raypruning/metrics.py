"""Evaluation metrics, and the names every other module uses for them.

The training loop, the study and the results code all read metric names from
the constants here, so nobody spells "accuracy" twice. Every metric is
returned in points (0-100); correlations and MCC are multiplied by 100 too.

Plain numpy only (no sklearn, scipy or seqeval), so each formula can be read
and checked against a hand computation:

- MCC is the multi-class Matthews correlation (Gorodkin's R_K), equal to the
  usual binary MCC for two classes;
- F1 is the F1 of class 1 for two classes and the macro F1 otherwise;
- Spearman gives tied values their average rank;
- slot F1 follows conlleval: span-level micro F1, where a chunk starts on B-
  (or S-), on an I- (or E-) after O or after a different type, and ends on
  O, B-, or a type change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from raypruning.data.schema import CLASSIFICATION, JOINT, REGRESSION

ACCURACY = "accuracy"
F1 = "f1"
MCC = "mcc"
PEARSON = "pearson"
SPEARMAN = "spearman"
INTENT_ACCURACY = "intent_accuracy"
SLOT_F1 = "slot_f1"
EXACT_MATCH = "exact_match"

# Tasks whose primary metric is not the default of their kind (GLUE conventions).
_MCC_TASKS = {"cola"}
_F1_TASKS = {"mrpc", "qqp"}


def _task_key(task_name: str) -> str:
    """'glue/CoLA', 'CoLA', 'cola' -> 'cola'; 'SST-2' -> 'sst2'."""
    last = task_name.replace(":", "/").rstrip("/").rsplit("/", 1)[-1]
    return "".join(ch for ch in last.lower() if ch.isalnum())


def primary_metric(kind: str, task_name: str) -> str:
    """The metric a task is judged (and searched) on.

    Args:
        kind: CLASSIFICATION, REGRESSION or JOINT (raypruning.data.schema).
        task_name: e.g. "CoLA", "SST-2", "atis"; case and separators ignored.

    Returns:
        MCC for CoLA, PEARSON for regression (STS-B), F1 for MRPC and QQP,
        EXACT_MATCH for joint intent+slot tasks, ACCURACY otherwise.
    """
    if kind == JOINT:
        return EXACT_MATCH
    if kind == REGRESSION:
        return PEARSON
    if kind != CLASSIFICATION:
        raise ValueError(f"unknown task kind {kind!r}; expected {CLASSIFICATION!r}, {REGRESSION!r} or {JOINT!r}")
    key = _task_key(task_name)
    if key in _MCC_TASKS:
        return MCC
    if key in _F1_TASKS:
        return F1
    return ACCURACY


def _pair(preds, labels, name: str) -> tuple[np.ndarray, np.ndarray]:
    preds, labels = np.asarray(preds), np.asarray(labels)
    if preds.shape != labels.shape or preds.ndim != 1:
        raise ValueError(f"{name}: predictions {preds.shape} and labels {labels.shape} must be 1-D of the same length")
    if preds.size == 0:
        raise ValueError(f"{name}: no examples to evaluate")
    return preds, labels


def _f1_from_counts(tp: float, fp: float, fn: float) -> float:
    """2TP / (2TP + FP + FN), and 0 when there is nothing to find or found."""
    denom = 2 * tp + fp + fn
    return 0.0 if denom == 0 else 2 * tp / denom


def _confusion(preds: np.ndarray, labels: np.ndarray, num_labels: int) -> np.ndarray:
    """Counts with true class on rows and predicted class on columns."""
    size = int(max(num_labels, preds.max() + 1, labels.max() + 1))
    cm = np.zeros((size, size), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    return cm


def _mcc(cm: np.ndarray) -> float:
    """Gorodkin's R_K: (c s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)), 0 if undefined."""
    cm = cm.astype(np.float64)
    t = cm.sum(axis=1)  # true occurrences of each class
    p = cm.sum(axis=0)  # predicted occurrences of each class
    c = np.trace(cm)
    s = cm.sum()
    denom = np.sqrt((s * s - p @ p) * (s * s - t @ t))
    return 0.0 if denom == 0 else float((c * s - p @ t) / denom)


def classification_metrics(preds, labels, num_labels: int) -> dict[str, float]:
    """Accuracy, F1 and MCC of integer class predictions, in points.

    Args:
        preds: predicted class indices, shape (n,).
        labels: true class indices, shape (n,).
        num_labels: size of the label vocabulary. With 2 labels F1 is the F1
            of class 1 (the GLUE convention); otherwise it is the macro F1
            over the classes that occur in labels or predictions.

    Returns:
        {ACCURACY, F1, MCC}.
    """
    preds, labels = _pair(preds, labels, "classification_metrics")
    preds, labels = preds.astype(np.int64), labels.astype(np.int64)
    if preds.min() < 0 or labels.min() < 0:
        raise ValueError("classification_metrics: class indices must be non-negative")
    cm = _confusion(preds, labels, num_labels)
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    if num_labels == 2 and cm.shape[0] == 2:
        f1 = _f1_from_counts(tp[1], fp[1], fn[1])
    else:
        present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
        f1 = float(np.mean([_f1_from_counts(tp[k], fp[k], fn[k]) for k in np.flatnonzero(present)]))
    return {
        ACCURACY: 100.0 * float(np.mean(preds == labels)),
        F1: 100.0 * f1,
        MCC: 100.0 * _mcc(cm),
    }


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # Start index of each run of equal values in sorted order.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    run_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(run_rank, ends - starts)
    return ranks


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; 0.0 when either side is constant (nan if any value is not finite)."""
    dx, dy = x - x.mean(), y - y.mean()
    denom = np.sqrt((dx @ dx) * (dy @ dy))
    if not np.isfinite(denom):
        return float("nan")
    return 0.0 if denom == 0 else float((dx @ dy) / denom)


def regression_metrics(preds, labels) -> dict[str, float]:
    """Pearson and Spearman correlations, times 100.

    Constant predictions or labels give 0.0 rather than nan; predictions
    that are not finite (a diverged run) give nan.

    Returns:
        {PEARSON, SPEARMAN}.
    """
    preds, labels = _pair(preds, labels, "regression_metrics")
    preds, labels = preds.astype(np.float64), labels.astype(np.float64)
    pearson = _pearson(preds, labels)
    if np.isfinite(pearson):
        spearman = _pearson(_average_ranks(preds), _average_ranks(labels))
    else:
        spearman = float("nan")
    return {PEARSON: 100.0 * pearson, SPEARMAN: 100.0 * spearman}


def _split_tag(tag: str) -> tuple[str, str]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', ''); a bare 'X' -> ('X', '')."""
    if tag == "O":
        return "O", ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def _chunk_ends(prev: str, tag: str) -> bool:
    """conlleval's endOfChunk: does the chunk holding `prev` end before `tag`?"""
    p_prefix, p_type = _split_tag(prev)
    t_prefix, t_type = _split_tag(tag)
    if p_prefix == "O":
        return False
    if t_prefix == "O" or p_type != t_type:
        return True
    return t_prefix in ("B", "S") or p_prefix in ("E", "S")


def _chunk_starts(prev: str, tag: str) -> bool:
    """conlleval's startOfChunk: does a chunk start at `tag`?"""
    p_prefix, p_type = _split_tag(prev)
    t_prefix, t_type = _split_tag(tag)
    if t_prefix == "O":
        return False
    if p_prefix == "O" or p_type != t_type:
        return True
    return t_prefix in ("B", "S") or p_prefix in ("E", "S")


def _chunks(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    """(start, end inclusive, type) of every chunk in one tag sequence, conlleval rules."""
    found = set()
    start = None
    prev = "O"
    for i, tag in enumerate([*tags, "O"]):  # a trailing O closes the last chunk
        if start is not None and _chunk_ends(prev, tag):
            found.add((start, i - 1, _split_tag(prev)[1]))
            start = None
        if _chunk_starts(prev, tag):
            start = i
        prev = tag
    return found


def slot_f1(true_seqs: Sequence[Sequence[str]], pred_seqs: Sequence[Sequence[str]]) -> float:
    """conlleval's span-level micro F1 over all chunks of all sentences, in points.

    A predicted chunk counts as correct when a true chunk has the same start,
    end and type. Like conlleval, the score is 0.0 when there are no chunks at
    all (neither true nor predicted).

    Args:
        true_seqs: per sentence, the true tags ("B-X", "I-X", "O"; IOB1 and
            IOBES tags are read the way conlleval reads them).
        pred_seqs: per sentence, the predicted tags, same lengths.
    """
    if len(true_seqs) != len(pred_seqs):
        raise ValueError(f"slot_f1: {len(true_seqs)} true sentences but {len(pred_seqs)} predicted")
    n_true = n_pred = n_correct = 0
    for i, (true, pred) in enumerate(zip(true_seqs, pred_seqs)):
        if len(true) != len(pred):
            raise ValueError(f"slot_f1: sentence {i} has {len(true)} true tags but {len(pred)} predicted")
        true_chunks, pred_chunks = _chunks(true), _chunks(pred)
        n_true += len(true_chunks)
        n_pred += len(pred_chunks)
        n_correct += len(true_chunks & pred_chunks)
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_true if n_true else 0.0
    if precision + recall == 0:
        return 0.0
    return 100.0 * 2 * precision * recall / (precision + recall)


def joint_metrics(intent_preds, intent_labels, slot_true: Sequence[Sequence[str]], slot_pred: Sequence[Sequence[str]]) -> dict[str, float]:
    """Intent accuracy, slot F1 and exact match (intent right and every slot tag right), in points.

    Returns:
        {INTENT_ACCURACY, SLOT_F1, EXACT_MATCH}.
    """
    intent_preds, intent_labels = _pair(intent_preds, intent_labels, "joint_metrics")
    if len(slot_true) != len(intent_labels) or len(slot_pred) != len(intent_labels):
        raise ValueError(
            f"joint_metrics: {len(intent_labels)} intents but {len(slot_true)} true and {len(slot_pred)} predicted slot sequences"
        )
    intent_ok = intent_preds == intent_labels
    slots_ok = np.array([list(t) == list(p) for t, p in zip(slot_true, slot_pred)], dtype=bool)
    return {
        INTENT_ACCURACY: 100.0 * float(np.mean(intent_ok)),
        SLOT_F1: slot_f1(slot_true, slot_pred),
        EXACT_MATCH: 100.0 * float(np.mean(intent_ok & slots_ok)),
    }


def compute_metrics(kind: str, predictions, references, slot_labels: Sequence[str] | None = None, num_labels: int | None = None) -> dict[str, float]:
    """All metrics of a task kind, the single entry point for the training loop.

    Args:
        kind: CLASSIFICATION, REGRESSION or JOINT.
        predictions: classification: class indices (n,) or logits (n, C), argmaxed;
            regression: values (n,) or (n, 1); joint: {"intent": (n,) ints,
            "slots": list of per-example word-level int arrays}.
        references: the same shapes with the true values (joint slot arrays
            must have the lengths of the predicted ones; positions where the
            reference is negative, e.g. an ignore index of -100, are dropped
            from both).
        slot_labels: joint only: tag string of each slot index.
        num_labels: classification only: vocabulary size; defaults to the
            number of columns of logits, else the largest index seen + 1.

    Returns:
        classification {ACCURACY, F1, MCC}; regression {PEARSON, SPEARMAN};
        joint {INTENT_ACCURACY, SLOT_F1, EXACT_MATCH}.
    """
    if kind == CLASSIFICATION:
        preds = np.asarray(predictions)
        if preds.ndim == 2:
            num_labels = num_labels or preds.shape[1]
            preds = preds.argmax(axis=1)
        labels = np.asarray(references)
        if num_labels is None:
            num_labels = int(max(preds.max(initial=0), labels.max(initial=0))) + 1
        return classification_metrics(preds, labels, num_labels)
    if kind == REGRESSION:
        return regression_metrics(np.asarray(predictions, dtype=np.float64).reshape(-1), np.asarray(references, dtype=np.float64).reshape(-1))
    if kind == JOINT:
        if slot_labels is None:
            raise ValueError("compute_metrics: joint tasks need slot_labels to turn slot indices into tags")
        tags = list(slot_labels)
        slot_true, slot_pred = [], []
        for i, (pred, ref) in enumerate(zip(predictions["slots"], references["slots"], strict=True)):
            pred, ref = np.asarray(pred, dtype=np.int64), np.asarray(ref, dtype=np.int64)
            if pred.shape != ref.shape:
                raise ValueError(f"compute_metrics: example {i} has {ref.shape[0]} true slot tags but {pred.shape[0]} predicted")
            keep = ref >= 0
            slot_true.append([tags[j] for j in ref[keep]])
            slot_pred.append([tags[j] for j in pred[keep]])
        return joint_metrics(np.asarray(predictions["intent"]), np.asarray(references["intent"]), slot_true, slot_pred)
    raise ValueError(f"unknown task kind {kind!r}; expected {CLASSIFICATION!r}, {REGRESSION!r} or {JOINT!r}")
