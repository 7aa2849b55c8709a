"""Evaluation on the held-out split, sharded across workers.

Each worker predicts its share of the evaluation rows; the predictions are
all-gathered so every worker computes the same metrics (only rank 0's report
is kept by Ray Train, but all must agree for the reports to be a barrier).
Rows are sharded and batched in order of length, so batches waste little
padding; predictions are keyed by example id and read back in the rows' order.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist

from raypruning.data.encode import collate
from raypruning.data.schema import JOINT, REGRESSION, TaskData
from raypruning.metrics import compute_metrics, primary_metric
from raypruning.scoring import IGNORE, Precision, to_device


@torch.inference_mode()
def predict(core, rows: list[dict], kind: str, pad_id: int, batch_size: int, device,
            precision: Precision = Precision()) -> dict[int, tuple]:
    """Predictions for rows: id -> (prediction, word-level slot predictions or None)."""
    was_training = core.training
    core.eval()
    out: dict[int, tuple] = {}
    for start in range(0, len(rows), batch_size):
        chunk = rows[start: start + batch_size]
        batch = to_device(collate(chunk, pad_id), device)
        with precision.autocast(device):
            outputs = core(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
        logits = outputs["logits"].float()
        preds = logits.view(-1).cpu().numpy() if kind == REGRESSION else logits.argmax(-1).cpu().numpy()
        slot_preds = outputs["slot_logits"].argmax(-1).cpu().numpy() if kind == JOINT else None
        first_tokens = (batch["slot_labels"] != IGNORE).cpu().numpy() if kind == JOINT else None
        for j, row in enumerate(chunk):
            slots = slot_preds[j][first_tokens[j]].tolist() if kind == JOINT else None
            out[int(row["id"])] = (preds[j].item(), slots)
    core.train(was_training)
    return out


def predict_all(core, rows: list[dict], kind: str, pad_id: int, batch_size: int, device,
                rank: int = 0, world_size: int = 1, precision: Precision = Precision()) -> list[tuple]:
    """Predictions for every row, in the rows' order; each worker predicts a length-sorted shard."""
    by_length = sorted(range(len(rows)), key=lambda i: rows[i]["length"])
    mine = predict(core, [rows[i] for i in by_length[rank::world_size]], kind, pad_id, batch_size, device,
                   precision)
    if world_size > 1 and dist.is_initialized():
        gathered: list = [None] * world_size
        dist.all_gather_object(gathered, mine)
        for part in gathered:
            mine.update(part)
    return [mine[int(r["id"])] for r in rows]


def evaluate(core, rows: list[dict], task: TaskData, pad_id: int, batch_size: int, device,
             rank: int = 0, world_size: int = 1, precision: Precision = Precision()) -> dict:
    """Metrics on rows. Returns {"name": primary metric, "score": its value, "all": every metric}."""
    by_id = predict_all(core, rows, task.kind, pad_id, batch_size, device, rank, world_size, precision)
    references = np.array([r["label"] for r in rows])
    if task.kind == JOINT:
        # Word-level references: slot tags of words whose first sub-token survived truncation.
        predictions = {"intent": np.array([p for p, _ in by_id]), "slots": [np.array(s) for _, s in by_id]}
        references = {"intent": references,
                      "slots": [np.array([t for t in r["slot_labels"] if t != IGNORE]) for r in rows]}
    else:
        predictions = np.array([p for p, _ in by_id])
    metrics = compute_metrics(task.kind, predictions, references, slot_labels=task.slot_labels or None)
    name = primary_metric(task.kind, task.task_name)
    return {"name": name, "score": float(metrics[name]), "all": {k: float(v) for k, v in metrics.items()}}
