"""Each metric against a hand computation on a few examples (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raypruning import metrics as M
from raypruning.data.schema import CLASSIFICATION, JOINT, REGRESSION


@pytest.mark.parametrize(
    ("kind", "task", "expected"),
    [
        (CLASSIFICATION, "CoLA", M.MCC),
        (CLASSIFICATION, "glue/cola", M.MCC),
        (CLASSIFICATION, "MRPC", M.F1),
        (CLASSIFICATION, "qqp", M.F1),
        (CLASSIFICATION, "SST-2", M.ACCURACY),
        (CLASSIFICATION, "RTE", M.ACCURACY),
        (REGRESSION, "STS-B", M.PEARSON),
        (JOINT, "atis", M.EXACT_MATCH),
    ],
)
def test_primary_metric(kind, task, expected):
    assert M.primary_metric(kind, task) == expected


def test_primary_metric_unknown_kind():
    with pytest.raises(ValueError, match="unknown task kind"):
        M.primary_metric("ranking", "x")


def test_binary_classification_by_hand():
    # pairs (pred, label): (1,1) TP, (1,0) FP, (0,0) TN, (0,1) FN, (1,1) TP, (0,0) TN
    # TP=2 FP=1 FN=1 TN=2
    # accuracy 4/6; F1 of class 1 = 2*2 / (2*2 + 1 + 1) = 4/6
    # MCC = (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (4 - 1) / sqrt(3^4) = 1/3
    out = M.classification_metrics(np.array([1, 1, 0, 0, 1, 0]), np.array([1, 0, 0, 1, 1, 0]), num_labels=2)
    assert out[M.ACCURACY] == pytest.approx(100 * 4 / 6)
    assert out[M.F1] == pytest.approx(100 * 4 / 6)
    assert out[M.MCC] == pytest.approx(100 / 3)


def test_multiclass_mcc_and_macro_f1_by_hand():
    # labels 0 0 1 1 2 2, preds 0 1 1 1 2 0
    # confusion (rows true, cols pred): [[1,1,0],[0,2,0],[1,0,1]]
    # c = trace = 4, s = 6, t = row sums = [2,2,2], p = col sums = [2,3,1]
    # R_K = (c*s - p.t) / sqrt((s^2 - p.p)(s^2 - t.t)) = (24 - 12) / sqrt((36 - 14)(36 - 12)) = 12 / sqrt(528)
    # per-class F1 = 2TP/(2TP+FP+FN): class 0: 2/4, class 1: 4/5, class 2: 2/3 -> macro mean
    out = M.classification_metrics(np.array([0, 1, 1, 1, 2, 0]), np.array([0, 0, 1, 1, 2, 2]), num_labels=3)
    assert out[M.MCC] == pytest.approx(100 * 12 / math.sqrt(528))
    assert out[M.F1] == pytest.approx(100 * (0.5 + 0.8 + 2 / 3) / 3)
    assert out[M.ACCURACY] == pytest.approx(100 * 4 / 6)


def test_mcc_is_zero_for_constant_predictions_and_100_when_perfect():
    labels = np.array([0, 1, 2, 1])
    assert M.classification_metrics(np.zeros(4, dtype=int), labels, 3)[M.MCC] == 0.0
    perfect = M.classification_metrics(labels, labels, 3)
    assert perfect == {M.ACCURACY: 100.0, M.F1: 100.0, M.MCC: 100.0}


def test_classification_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        M.classification_metrics(np.array([0, 1]), np.array([0]), 2)


def test_regression_by_hand_with_ties():
    # preds 1 2 2 10, labels 1 2 3 4
    # Pearson: preds mean 3.75, deviations -2.75 -1.75 -1.75 6.25 (squares sum 52.75);
    #   labels deviations -1.5 -0.5 0.5 1.5 (squares sum 5); cross sum 13.5 -> 13.5 / sqrt(52.75 * 5)
    # Spearman: tied preds share ranks 2 and 3 -> ranks 1 2.5 2.5 4 against 1 2 3 4:
    #   deviations -1.5 0 0 1.5 (4.5) vs -1.5 -0.5 0.5 1.5 (5); cross 4.5 -> 4.5 / sqrt(4.5 * 5)
    out = M.regression_metrics(np.array([1.0, 2.0, 2.0, 10.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert out[M.PEARSON] == pytest.approx(100 * 13.5 / math.sqrt(52.75 * 5))
    assert out[M.SPEARMAN] == pytest.approx(100 * 4.5 / math.sqrt(4.5 * 5))


def test_regression_constant_input_gives_zero_not_nan():
    out = M.regression_metrics(np.array([2.0, 2.0, 2.0]), np.array([1.0, 2.0, 3.0]))
    assert out == {M.PEARSON: 0.0, M.SPEARMAN: 0.0}


def test_slot_f1_classic_conlleval_case():
    # true chunks PER(0-1), LOC(3); predicted PER(0-1), ORG(3): 1 of 2 right each way -> P = R = 1/2
    assert M.slot_f1([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-ORG"]]) == pytest.approx(50.0)


def test_slot_f1_i_tag_starts_a_chunk():
    # IOB1: an I- after O (or at the start) starts a chunk, so I-PER I-PER is the chunk PER(0-1)
    assert M.slot_f1([["I-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]]) == pytest.approx(100.0)
    assert M.slot_f1([["O", "I-LOC"]], [["O", "B-LOC"]]) == pytest.approx(100.0)
    # an I- after a different type also starts a chunk: B-PER I-LOC is PER(0) + LOC(1)
    assert M.slot_f1([["B-PER", "B-LOC"]], [["B-PER", "I-LOC"]]) == pytest.approx(100.0)
    # B- after B- of the same type: two chunks, not one
    # true PER(0-1); pred PER(0), PER(1): 0 right -> 0
    assert M.slot_f1([["B-PER", "I-PER"]], [["B-PER", "B-PER"]]) == 0.0


def test_slot_f1_boundary_error_over_sentences():
    # sentence 1: true PER(0-1), LOC(3-4); pred PER(0) (boundary error), LOC(3-4)
    # sentence 2: true ORG(1); pred ORG(1)
    # true 3, predicted 3, correct 2 -> P = R = 2/3 -> F1 2/3
    true = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["O", "B-ORG"]]
    pred = [["B-PER", "O", "O", "B-LOC", "I-LOC"], ["O", "B-ORG"]]
    assert M.slot_f1(true, pred) == pytest.approx(100 * 2 / 3)


def test_slot_f1_precision_and_recall_differ():
    # sentence 1: true LOC(0-2); pred LOC(0-1) (boundary error) and ORG(3) (spurious)
    # sentence 2: true X(0), pred X(0)
    # true 2, predicted 3, correct 1 -> P 1/3, R 1/2, F1 = 2PR/(P+R) = (1/3)/(5/6) = 0.4
    true = [["B-LOC", "I-LOC", "I-LOC", "O"], ["B-X"]]
    pred = [["B-LOC", "I-LOC", "O", "B-ORG"], ["B-X"]]
    assert M.slot_f1(true, pred) == pytest.approx(40.0)


def test_slot_f1_no_chunks_is_zero_like_conlleval():
    assert M.slot_f1([["O", "O"]], [["O", "O"]]) == 0.0


def test_joint_metrics_exact_match():
    # example 0: intent right, slots right -> exact
    # example 1: intent right, slots wrong -> not exact
    # example 2: intent wrong, slots right -> not exact
    # intent accuracy 2/3, exact match 1/3
    # slot chunks: true X(s0) Y(s2) = 2; pred X(s0) X(s1) Y(s2) = 3; correct 2 -> P 2/3, R 1, F1 0.8
    slot_true = [["B-X", "O"], ["O", "O"], ["B-Y"]]
    slot_pred = [["B-X", "O"], ["B-X", "O"], ["B-Y"]]
    out = M.joint_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]), slot_true, slot_pred)
    assert out[M.INTENT_ACCURACY] == pytest.approx(100 * 2 / 3)
    assert out[M.EXACT_MATCH] == pytest.approx(100 / 3)
    assert out[M.SLOT_F1] == pytest.approx(80.0)


def test_compute_metrics_joint_maps_slot_indices_and_drops_ignored_positions():
    tags = ["O", "B-X", "I-X", "B-Y"]
    predictions = {"intent": np.array([0, 1, 1]), "slots": [np.array([1, 0]), np.array([1, 0]), np.array([3, 2])]}
    # the -100 position of example 2 is dropped from both sides
    references = {"intent": np.array([0, 1, 0]), "slots": [np.array([1, 0]), np.array([0, 0]), np.array([3, -100])]}
    out = M.compute_metrics(JOINT, predictions, references, slot_labels=tags)
    assert out[M.INTENT_ACCURACY] == pytest.approx(100 * 2 / 3)
    assert out[M.EXACT_MATCH] == pytest.approx(100 / 3)
    assert out[M.SLOT_F1] == pytest.approx(80.0)


def test_compute_metrics_classification_and_regression():
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    out = M.compute_metrics(CLASSIFICATION, logits, np.array([1, 0, 0]))
    assert set(out) == {M.ACCURACY, M.F1, M.MCC}
    assert out[M.ACCURACY] == pytest.approx(100 * 2 / 3)
    out = M.compute_metrics(REGRESSION, np.array([[1.0], [2.0], [3.0]]), np.array([2.0, 4.0, 6.0]))
    assert out[M.PEARSON] == pytest.approx(100.0)
    assert out[M.SPEARMAN] == pytest.approx(100.0)


def test_compute_metrics_joint_needs_slot_labels():
    with pytest.raises(ValueError, match="slot_labels"):
        M.compute_metrics(JOINT, {"intent": [0], "slots": [[0]]}, {"intent": [0], "slots": [[0]]})
