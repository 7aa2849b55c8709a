"""Per-example importance scores and losses, computed from model outputs.

One place for every formula, so the training loss, the scores and the
correctness used by forgetting events all read the same tensors:

- EL2N (Paul et al. 2021): ||softmax(z) - onehot(y)||_2; regression: |pred - y|.
- Joint intent + slot EL2N with e_I the intent error norm and s_t the slot error
  norm of word t (first sub-token of each word only; -100 positions masked):
  ``norm`` sqrt(e_I^2 + sum_t s_t^2), ``sum`` e_I + sum_t s_t, ``mean`` (e_I + mean_t s_t) / 2.
- loss: the per-example training loss (joint: 0.5 CE_intent + 0.5 mean_t CE_slot).
- GraNd, cheap form: the gradient norm with respect to the last linear layer,
  ||p - y|| * sqrt(||h||^2 + 1) for head input h (weight and bias gradients).
- forgetting counts live in `raypruning.forgetting` (they need history), random
  scores in `raypruning.pruning_event` (they need a seed).

`score_examples` runs the scoring pass of a pruning event over a set of ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from raypruning.data.encode import collate
from raypruning.data.schema import JOINT, REGRESSION

IGNORE = -100
FORWARD_SCORES = ("el2n", "loss", "grand")  # scores computed from one forward pass
# A regression prediction counts as "correct" (for forgetting events) within this distance.
REGRESSION_TOLERANCE = 0.5


def training_loss(outputs: dict, batch: dict, kind: str, weights: torch.Tensor | None = None,
                  slot_tokens: float | None = None) -> torch.Tensor:
    """The mean loss a training step minimises (joint: 0.5 CE_intent + 0.5 CE_slot).

    ``weights`` (one per example, soft pruning's rescaling) multiply each example's
    loss, and on joint tasks each of its slot tokens' losses; the means keep their
    denominators (examples, labelled slot tokens), so weights of 1 change nothing.
    ``slot_tokens`` replaces the slot mean's denominator (the batch's labelled slot
    tokens) with a count that does not depend on which examples share the batch
    (``train.slot_loss=epoch``: the batch's examples times the epoch's mean).
    """
    if weights is not None:
        return _weighted_training_loss(outputs, batch, kind, weights, slot_tokens)
    logits = outputs["logits"]
    if kind == REGRESSION:
        return F.mse_loss(logits.float().view(-1), batch["label"].float())
    intent = F.cross_entropy(logits.float(), batch["label"])
    if kind != JOINT:
        return intent
    slot_logits = outputs["slot_logits"].float()
    if slot_tokens is None:
        slot = F.cross_entropy(slot_logits.flatten(0, 1), batch["slot_labels"].flatten(), ignore_index=IGNORE)
    else:
        slot = F.cross_entropy(slot_logits.flatten(0, 1), batch["slot_labels"].flatten(), ignore_index=IGNORE,
                               reduction="sum") / slot_tokens
    return 0.5 * intent + 0.5 * slot


def _weighted_training_loss(outputs: dict, batch: dict, kind: str, weights: torch.Tensor,
                            slot_tokens: float | None = None) -> torch.Tensor:
    logits = outputs["logits"]
    weights = weights.float()
    if kind == REGRESSION:
        return (weights * (logits.float().view(-1) - batch["label"].float()) ** 2).mean()
    intent = (weights * F.cross_entropy(logits.float(), batch["label"], reduction="none")).mean()
    if kind != JOINT:
        return intent
    labels = batch["slot_labels"]
    token = F.cross_entropy(outputs["slot_logits"].float().transpose(1, 2), labels, ignore_index=IGNORE,
                            reduction="none")
    labelled = (labels != IGNORE).sum() if slot_tokens is None else slot_tokens
    slot = (weights[:, None] * token).sum() / labelled  # ignored tokens have loss 0; NaN with none, as unweighted
    return 0.5 * intent + 0.5 * slot


def _error_norm(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """||softmax(z) - onehot(y)||_2 along the last axis; labels < 0 give 0."""
    probs = logits.float().softmax(-1)
    safe = labels.clamp(min=0)
    onehot = F.one_hot(safe, probs.shape[-1]).to(probs.dtype)
    norm = (probs - onehot).norm(dim=-1)
    return torch.where(labels >= 0, norm, torch.zeros_like(norm))


def el2n(outputs: dict, batch: dict, kind: str, combine: str = "norm") -> torch.Tensor:
    """EL2N per example, shape [B]."""
    logits = outputs["logits"]
    if kind == REGRESSION:
        return (logits.float().view(-1) - batch["label"].float()).abs()
    e_intent = _error_norm(logits, batch["label"])
    if kind != JOINT:
        return e_intent
    return combine_joint(e_intent, _error_norm(outputs["slot_logits"], batch["slot_labels"]),
                         batch["slot_labels"] != IGNORE, combine)


def combine_joint(e_intent: torch.Tensor, e_slots: torch.Tensor, mask: torch.Tensor, combine: str) -> torch.Tensor:
    """Combine the intent error [B] and masked slot errors [B, L] into one score [B]."""
    e_slots = e_slots * mask
    if combine == "norm":
        return torch.sqrt(e_intent**2 + (e_slots**2).sum(-1))
    if combine == "sum":
        return e_intent + e_slots.sum(-1)
    if combine == "mean":
        count = mask.sum(-1).clamp(min=1)
        return (e_intent + e_slots.sum(-1) / count) / 2
    raise ValueError(f"unknown joint combine {combine!r}")


def per_example_loss(outputs: dict, batch: dict, kind: str) -> torch.Tensor:
    """The training loss of each example, shape [B]."""
    logits = outputs["logits"]
    if kind == REGRESSION:
        return (logits.float().view(-1) - batch["label"].float()) ** 2
    intent = F.cross_entropy(logits.float(), batch["label"], reduction="none")
    if kind != JOINT:
        return intent
    labels = batch["slot_labels"]
    token = F.cross_entropy(outputs["slot_logits"].float().transpose(1, 2), labels,
                            ignore_index=IGNORE, reduction="none")
    mask = labels != IGNORE
    slot = (token * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    return 0.5 * intent + 0.5 * slot


def grand(outputs: dict, batch: dict, kind: str) -> torch.Tensor:
    """Gradient norm of the loss w.r.t. the output layer (weights and bias), shape [B]."""
    feats = outputs["features"].float()
    scale = torch.sqrt(feats.pow(2).sum(-1) + 1.0)
    if kind == REGRESSION:
        return 2 * (outputs["logits"].float().view(-1) - batch["label"].float()).abs() * scale
    e_intent = _error_norm(outputs["logits"], batch["label"]) * scale
    if kind != JOINT:
        return e_intent
    labels = batch["slot_labels"]
    mask = labels != IGNORE
    token_scale = torch.sqrt(outputs["token_features"].float().pow(2).sum(-1) + 1.0)
    e_slots = _error_norm(outputs["slot_logits"], labels) * token_scale * mask
    return torch.sqrt(e_intent**2 + (e_slots**2).sum(-1))


def correct(outputs: dict, batch: dict, kind: str) -> torch.Tensor:
    """Whether each example is predicted right (joint: intent and every slot), bool [B]."""
    logits = outputs["logits"]
    if kind == REGRESSION:
        return (logits.float().view(-1) - batch["label"].float()).abs() <= REGRESSION_TOLERANCE
    ok = logits.argmax(-1) == batch["label"]
    if kind == JOINT:
        labels = batch["slot_labels"]
        wrong = (outputs["slot_logits"].argmax(-1) != labels) & (labels != IGNORE)
        ok = ok & ~wrong.any(-1)
    return ok


def batch_scores(outputs: dict, batch: dict, kind: str, score: str, combine: str) -> torch.Tensor:
    """The named score for each example of a batch (el2n, loss or grand)."""
    if score == "el2n":
        return el2n(outputs, batch, kind, combine)
    if score == "loss":
        return per_example_loss(outputs, batch, kind)
    if score == "grand":
        return grand(outputs, batch, kind)
    raise ValueError(f"score {score!r} is not computed from a forward pass")


@dataclass(frozen=True)
class Examples:
    """One encoded split: its rows (position = example id), what they are and how they pad."""

    rows: list[dict]
    kind: str  # CLASSIFICATION, REGRESSION or JOINT
    pad_id: int
    lengths: np.ndarray  # tokens per row, from the encoded ``length`` column
    slot_tokens: np.ndarray | None = None  # joint tasks: labelled slot tokens per row (train.slot_loss=epoch)

    @classmethod
    def of(cls, rows: list[dict], kind: str, pad_id: int) -> "Examples":
        slots = (np.array([sum(1 for v in r["slot_labels"] if v != IGNORE) for r in rows], dtype=np.int64)
                 if kind == JOINT else None)
        return cls(rows, kind, pad_id, np.array([r["length"] for r in rows], dtype=np.int64), slots)

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, ids, device, width: int | None = None) -> dict[str, torch.Tensor]:
        """The rows of ``ids`` collated (padded to at least ``width``) and moved to ``device``."""
        return to_device(collate([self.rows[i] for i in ids], self.pad_id, width), device)


def to_device(batch: dict, device) -> dict:
    """Move a collated batch to ``device``; on CUDA through pinned memory, so the copy does not block."""
    device = torch.device(device)
    if device.type != "cuda":
        return {k: v.to(device) for k, v in batch.items()}
    return {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}


@dataclass(frozen=True)
class Precision:
    """How forward passes run: autocast to bf16 (or fp16) on CUDA, fp32 elsewhere.

    Training, scoring and evaluation use the same precision; scores and losses
    are computed from float32 copies of the logits either way.
    """

    enabled: bool = False
    dtype: torch.dtype = torch.bfloat16

    @classmethod
    def of(cls, precision: str, device) -> "Precision":
        """From ``train.precision`` (auto, no, bf16, fp16) and the device: only CUDA autocasts."""
        enabled = torch.device(device).type == "cuda" and precision in ("auto", "bf16", "fp16")
        return cls(enabled, torch.float16 if precision == "fp16" else torch.bfloat16)

    def autocast(self, device):
        return torch.autocast(torch.device(device).type, dtype=self.dtype, enabled=self.enabled)


@torch.inference_mode()
def score_examples(model, examples: Examples, ids: np.ndarray, *, score: str, combine: str = "norm",
                   batch_size: int, device, precision: Precision = Precision()) -> np.ndarray:
    """The named score of each id in ``ids`` (in that order), in eval mode without gradients.

    Args:
        model: the unwrapped model (not its DDP wrapper: every worker scores on its own).
        examples: the encoded training set.
        ids: the ids to score; sorted by length they waste little padding.
        score: el2n, loss or grand (see `batch_scores`).
        combine: how a joint task combines intent and slot errors.
        batch_size: rows per forward pass.
        device: where the model lives.
        precision: autocast for the forward passes (as in training).

    Returns:
        float64 scores, one per id.
    """
    was_training = model.training
    model.eval()
    parts = []
    for start in range(0, len(ids), batch_size):
        batch = examples.batch(ids[start: start + batch_size], device)
        with precision.autocast(device):
            outputs = model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
        parts.append(batch_scores(outputs, batch, examples.kind, score, combine).double())
    model.train(was_training)
    # One copy back at the end: no per-batch synchronisation with the device.
    return torch.cat(parts).cpu().numpy() if parts else np.empty(0, dtype=np.float64)
