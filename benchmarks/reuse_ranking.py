#!/usr/bin/env python
"""Do training-pass scores rank examples like a scoring pass does? (pruning.reuse_train_scores)

One process, no Ray: dynamic EL2N pruning on the synthetic joint task with the
tiny model (the recipe's steps: AdamW, length-grouped batches, dropout on),
with reuse_train_scores on: the epoch before each event keeps each trained
example's EL2N from its training forward pass (train mode, model mid-epoch).
At every event it also scores every example in eval mode with the model of that
moment, and prints as JSON, per event:

- spearman: rank correlation of the training-pass and eval-mode scores of the
  examples the previous epoch trained (the ones reuse takes from training);
- kept_agreement: |kept(reuse) & kept(eval only)| / k, the share of the kept
  set that a full scoring pass would also have kept;
- turnover: the share of the kept set (reuse path) not kept at the previous event;
  turnover_eval: the same for the sets a full scoring pass would keep (the
  training follows the reuse path either way, so this isolates the scores).

    python benchmarks/reuse_ranking.py                    # about a minute on 2 cores
    python benchmarks/reuse_ranking.py --num-train 600 --epochs 6 --seed 1
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from raypruning.batching import plan_batches
from raypruning.config import load_config
from raypruning.data.encode import encode_task
from raypruning.data.sources import load_task_data
from raypruning.models import build_model, load_tokenizer
from raypruning.schedule import PruningSchedule
from raypruning.scoring import Examples, batch_scores, score_examples, training_loss
from raypruning.seeds import SeedStream, derive_seed, generator
from raypruning.selection import num_kept, select_top


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num-train", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--keep", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    cfg = load_config(None, [f"data.synthetic.num_train={args.num_train}", "data.synthetic.num_eval=20",
                             f"train.epochs={args.epochs}", "train.batch_size=16", "train.max_length=40",
                             f"train.seed={args.seed}", f"pruning.keep_fraction={args.keep}",
                             "pruning.warmup_epochs=1", "pruning.reuse_train_scores=true"])
    torch.set_num_threads(1)
    task = load_task_data(cfg.data)
    tokenizer = load_tokenizer(cfg.model, task.splits["train"][:]["text"])
    rows = encode_task(task, tokenizer, cfg.train.max_length)["train"].to_list()
    examples = Examples.of(rows, task.kind, tokenizer.pad_token_id)
    n = len(examples)
    model = build_model(cfg.model, task.kind, task.num_labels, len(task.slot_labels), len(tokenizer),
                        seed=cfg.train.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    schedule = PruningSchedule.from_config(cfg)
    p = cfg.pruning
    kept, previous_kept, previous_eval, train_scores, events = np.arange(n), None, None, None, []
    for epoch in range(args.epochs):
        if schedule.is_event(epoch):
            eval_scores = score_examples(model, examples, np.arange(n), score="el2n", combine=p.joint_combine,
                                         batch_size=cfg.train.eval_batch_size, device="cpu")
            reused = train_scores is not None
            mixed = np.where(np.isnan(train_scores), eval_scores, train_scores) if reused else eval_scores
            index = len(events)
            kept = select_top(mixed, p.keep_fraction, generator(cfg.train.seed, SeedStream.SELECTION, index))
            by_eval = select_top(eval_scores, p.keep_fraction, generator(cfg.train.seed, SeedStream.SELECTION, index))
            trained = ~np.isnan(train_scores) if reused else np.zeros(n, dtype=bool)
            events.append({
                "epoch": epoch,
                "reused": int(trained.sum()),
                "spearman": spearman(train_scores[trained], eval_scores[trained]) if trained.any() else None,
                "kept_agreement": len(np.intersect1d(kept, by_eval)) / num_kept(n, p.keep_fraction),
                "turnover": None if previous_kept is None else
                1 - len(np.intersect1d(kept, previous_kept)) / len(kept),
                "turnover_eval": None if previous_eval is None else
                1 - len(np.intersect1d(by_eval, previous_eval)) / len(by_eval),
            })
            previous_kept, previous_eval = kept, by_eval
        track = schedule.scores_from_training(epoch)
        torch.manual_seed(derive_seed(cfg.train.seed, SeedStream.DROPOUT, epoch, 0))
        model.train()
        seen_ids, seen_scores = [], []
        for batch_ids in plan_batches(kept, examples.lengths, cfg.train.batch_size, 1,
                                      generator(cfg.train.seed, SeedStream.BATCHES, epoch), cfg.train.batching):
            batch = examples.batch(batch_ids.shard(0, 1), "cpu", width=batch_ids.width)
            outputs = model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
            loss = training_loss(outputs, batch, examples.kind)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.max_grad_norm)
            optimizer.step()
            if track:
                seen_ids.append(batch["id"].numpy())
                with torch.no_grad():
                    seen_scores.append(batch_scores(outputs, batch, examples.kind, "el2n", p.joint_combine).numpy())
        train_scores = None
        if track:
            train_scores = np.full(n, np.nan)
            train_scores[np.concatenate(seen_ids)] = np.concatenate(seen_scores)
    print(json.dumps({"task": "synthetic joint, tiny model, dynamic EL2N with reuse_train_scores",
                      "num_train": n, "epochs": args.epochs, "keep_fraction": args.keep, "seed": args.seed,
                      "events": events}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
