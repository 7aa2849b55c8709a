"""Score formulas against hand computations."""

import math

import pytest
import torch

from raypruning.data.schema import CLASSIFICATION, JOINT, REGRESSION
from raypruning.scoring import (IGNORE, Examples, batch_scores, correct, el2n, grand, per_example_loss,
                                training_loss)


def _probs_to_logits(p):
    return torch.log(torch.tensor(p, dtype=torch.float32))


def test_el2n_classification_matches_hand_computation():
    # p = (0.7, 0.2, 0.1), y = 0 -> ||(-0.3, 0.2, 0.1)|| = sqrt(0.14)
    logits = _probs_to_logits([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])
    batch = {"label": torch.tensor([0, 1])}
    got = el2n({"logits": logits}, batch, CLASSIFICATION)
    assert got[0].item() == pytest.approx(math.sqrt(0.09 + 0.04 + 0.01), abs=1e-6)
    assert got[1].item() == pytest.approx(math.sqrt(0.25**2 + 0.75**2 + 0.5**2), abs=1e-6)


def test_el2n_regression_is_absolute_error():
    batch = {"label": torch.tensor([1.0, 4.0])}
    got = el2n({"logits": torch.tensor([[1.5], [2.0]])}, batch, REGRESSION)
    assert got.tolist() == pytest.approx([0.5, 2.0])


@pytest.fixture
def joint_batch():
    # One example: intent p = (0.6, 0.4), y = 1 -> e_I = ||(0.6, -0.6)|| = 0.6 sqrt(2).
    # Four token positions: [CLS] (masked), word 1 first token (tag 0, p=(0.9,0.1) -> s=0.1 sqrt 2),
    # a continuation sub-token (masked, deliberately wrong and extreme), word 2 (tag 1, p=(0.5,0.5) -> s=0.5 sqrt 2).
    intent = _probs_to_logits([[0.6, 0.4]])
    slots = _probs_to_logits([[[0.5, 0.5], [0.9, 0.1], [0.01, 0.99], [0.5, 0.5]]])
    batch = {"label": torch.tensor([1]), "slot_labels": torch.tensor([[IGNORE, 0, IGNORE, 1]])}
    return {"logits": intent, "slot_logits": slots}, batch


def test_joint_el2n_norm_sum_mean(joint_batch):
    outputs, batch = joint_batch
    e_i, s1, s2 = 0.6 * math.sqrt(2), 0.1 * math.sqrt(2), 0.5 * math.sqrt(2)
    assert el2n(outputs, batch, JOINT, "norm").item() == pytest.approx(math.sqrt(e_i**2 + s1**2 + s2**2), abs=1e-5)
    assert el2n(outputs, batch, JOINT, "sum").item() == pytest.approx(e_i + s1 + s2, abs=1e-5)
    assert el2n(outputs, batch, JOINT, "mean").item() == pytest.approx((e_i + (s1 + s2) / 2) / 2, abs=1e-5)


def test_joint_loss_is_half_intent_half_slot(joint_batch):
    outputs, batch = joint_batch
    ce_i = -math.log(0.4)
    ce_s = (-math.log(0.9) - math.log(0.5)) / 2
    assert per_example_loss(outputs, batch, JOINT).item() == pytest.approx(0.5 * ce_i + 0.5 * ce_s, abs=1e-5)
    assert training_loss(outputs, batch, JOINT).item() == pytest.approx(0.5 * ce_i + 0.5 * ce_s, abs=1e-5)


def test_slot_loss_over_a_fixed_token_count(joint_batch):
    """train.slot_loss=epoch: the slot cross-entropy summed over the batch's labelled tokens and
    divided by the given count (the batch's examples times the epoch's mean), weighted or not."""
    outputs, batch = joint_batch
    ce_i, summed = -math.log(0.4), -math.log(0.9) - math.log(0.5)
    for weights in (None, torch.tensor([1.0])):
        got = training_loss(outputs, batch, JOINT, weights, slot_tokens=5.0).item()
        assert got == pytest.approx(0.5 * ce_i + 0.5 * summed / 5.0, abs=1e-5)
        # The batch's own labelled count (2) gives back the mean.
        assert training_loss(outputs, batch, JOINT, weights, slot_tokens=2.0).item() == pytest.approx(
            training_loss(outputs, batch, JOINT).item(), abs=1e-6)


def test_examples_count_each_rows_labelled_slot_tokens():
    rows = [{"length": 4, "slot_labels": [IGNORE, 0, IGNORE, 1]}, {"length": 3, "slot_labels": [IGNORE, 2, IGNORE]}]
    assert Examples.of(rows, JOINT, 0).slot_tokens.tolist() == [2, 1]
    assert Examples.of([{"length": 2}], CLASSIFICATION, 0).slot_tokens is None


def test_grand_is_error_norm_times_feature_norm():
    logits = _probs_to_logits([[0.7, 0.3]])
    feats = torch.tensor([[3.0, 4.0]])  # ||h||^2 + 1 = 26
    got = grand({"logits": logits, "features": feats}, {"label": torch.tensor([0])}, CLASSIFICATION)
    assert got.item() == pytest.approx(0.3 * math.sqrt(2) * math.sqrt(26), abs=1e-5)


def test_correct_joint_needs_every_slot(joint_batch):
    outputs, batch = joint_batch
    assert not correct(outputs, batch, JOINT).item()  # intent predicted 0, label 1
    batch = {"label": torch.tensor([0]), "slot_labels": torch.tensor([[IGNORE, 0, IGNORE, 0]])}
    assert correct(outputs, batch, JOINT).item()  # ties argmax to 0; masked wrong token ignored


def test_batch_scores_rejects_history_scores():
    with pytest.raises(ValueError):
        batch_scores({"logits": torch.zeros(1, 2)}, {"label": torch.tensor([0])}, CLASSIFICATION, "forgetting", "norm")


def test_precision_autocasts_only_on_cuda():
    from raypruning.scoring import Precision

    assert not Precision.of("auto", "cpu").enabled
    assert Precision.of("auto", "cuda").enabled and Precision.of("auto", "cuda").dtype == torch.bfloat16
    assert Precision.of("fp16", "cuda").dtype == torch.float16
    assert not Precision.of("no", "cuda").enabled
    with Precision.of("auto", "cpu").autocast("cpu"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bf16_scores_match_fp32_scores_on_cuda():
    from raypruning.scoring import Precision, to_device

    torch.manual_seed(0)
    layer = torch.nn.Linear(16, 4).cuda()
    batch = to_device({"x": torch.randn(32, 16), "label": torch.randint(0, 4, (32,))}, "cuda")
    assert batch["x"].is_cuda
    with Precision.of("auto", "cuda").autocast("cuda"):
        low = el2n({"logits": layer(batch["x"])}, batch, CLASSIFICATION)
    full = el2n({"logits": layer(batch["x"])}, batch, CLASSIFICATION)
    assert low.dtype == torch.float32  # scores come from float32 copies of the logits
    torch.testing.assert_close(low, full, atol=2e-2, rtol=2e-2)
