#!/usr/bin/env python
"""Do training-pass scores rank examples like a scoring pass does? (pruning.reuse_train_scores)

One process, no Ray: dynamic EL2N pruning with reuse_train_scores on (the
recipe's steps: AdamW, length-grouped batches, dropout on): the epoch before
each event keeps each trained example's EL2N from its training forward pass
(train mode, model mid-epoch). At every event the script also scores every
example in eval mode with the model of that moment, and builds two selections
from the same tables: ``raw`` (training-pass scores ranked beside eval-mode
ones, as before pruning.reuse_calibration) and ``calibrated`` (the training-pass
scores mapped onto the eval scale through a calibration sample, the default).
Training follows one of them (``--follow``). Per event, as JSON:

- spearman: rank correlation of the training-pass and eval-mode scores of the
  examples the previous epoch trained (the ones reuse takes from training);
- scale: mean training-pass score / mean eval-mode score of those examples;
- agreement_raw, agreement_calibrated: |kept & kept(eval only)| / k, the share
  of each selection that a full scoring pass would also have kept;
- stay_raw, stay_calibrated, stay_eval: the share of each selection that the
  previous epoch trained (does the current subset keep itself?);
- turnover: the share of the followed selection not kept at the previous event.

    python benchmarks/reuse_ranking.py                               # synthetic, tiny model: a minute
    python benchmarks/reuse_ranking.py --dataset atis --follow raw --out benchmarks/results/reuse_ranking_atis_raw.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_DATA_ROOT, command_line, machine_info, median  # noqa: E402

from raypruning.batching import plan_batches  # noqa: E402
from raypruning.config import load_config  # noqa: E402
from raypruning.data.encode import encode_task  # noqa: E402
from raypruning.data.sources import load_task_data  # noqa: E402
from raypruning.models import build_model, load_tokenizer  # noqa: E402
from raypruning.pruning_event import calibration_sample, merge_reused  # noqa: E402
from raypruning.schedule import PruningSchedule  # noqa: E402
from raypruning.scoring import Examples, batch_scores, score_examples, training_loss  # noqa: E402
from raypruning.seeds import SeedStream, derive_seed, generator  # noqa: E402
from raypruning.selection import num_kept, select_top  # noqa: E402


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def overrides(args) -> list[str]:
    common = [f"train.epochs={args.epochs}", f"train.seed={args.seed}", f"pruning.keep_fraction={args.keep}",
              "pruning.warmup_epochs=1", "pruning.period_epochs=1", "pruning.reuse_train_scores=true",
              f"pruning.reuse_calibration={args.calibration}"]
    if args.dataset == "atis":  # the shipped ATIS study's settings
        root = args.data_root / "atis"
        if not (root / "train").is_dir():
            raise SystemExit(f"{root}: no ATIS data (JointBERT layout) there; pass --data-root")
        return ["data.format=jointbert", f"data.path={root}", "model.name=minilm", "model.num_layers=2",
                "train.lr=0.0003", "train.batch_size=32", "train.max_length=64", *common]
    return [f"data.synthetic.num_train={args.num_train}", "data.synthetic.num_eval=20", "train.batch_size=16",
            "train.max_length=40", *common]


def share(a: np.ndarray, b: np.ndarray) -> float:
    """|a & b| / |a|."""
    return len(np.intersect1d(a, b)) / len(a)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=("synthetic", "atis"), default="synthetic")
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    ap.add_argument("--num-train", type=int, default=400, help="synthetic only")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--keep", type=float, default=0.5)
    ap.add_argument("--calibration", type=float, default=0.1, help="pruning.reuse_calibration (default 0.1)")
    ap.add_argument("--follow", choices=("raw", "calibrated"), default="calibrated",
                    help="the selection training follows (default calibrated)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)

    cfg = load_config(None, overrides(args))
    torch.set_num_threads(args.threads)
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
    k = num_kept(n, p.keep_fraction)
    trained_ids, previous_kept, train_scores, events = np.arange(n), None, None, []
    kept = trained_ids
    for epoch in range(args.epochs):
        if schedule.is_event(epoch):
            index = len(events)
            eval_scores = score_examples(model, examples, np.arange(n), score="el2n", combine=p.joint_combine,
                                         batch_size=cfg.train.eval_batch_size, device="cpu")
            by = {"eval": eval_scores}
            if train_scores is not None:
                sample = calibration_sample(train_scores, p.reuse_calibration,
                                            generator(cfg.train.seed, SeedStream.CALIBRATION, index))
                by["raw"] = merge_reused(eval_scores, train_scores, np.empty(0, dtype=np.int64))
                by["calibrated"] = merge_reused(eval_scores, train_scores, sample)
            selections = {name: select_top(scores, p.keep_fraction,
                                           generator(cfg.train.seed, SeedStream.SELECTION, index))
                          for name, scores in by.items()}
            kept = selections.get(args.follow, selections["eval"])
            trained = ~np.isnan(train_scores) if train_scores is not None else np.zeros(n, dtype=bool)
            event = {"epoch": epoch, "reused": int(trained.sum())}
            if trained.any():
                event |= {"spearman": spearman(train_scores[trained], eval_scores[trained]),
                          "scale": float(train_scores[trained].mean() / eval_scores[trained].mean()),
                          **{f"agreement_{name}": len(np.intersect1d(selections[name], selections["eval"])) / k
                             for name in ("raw", "calibrated")},
                          **{f"stay_{name}": share(selections[name], trained_ids) for name in selections}}
            event["turnover"] = None if previous_kept is None else 1 - share(kept, previous_kept)
            events.append(event)
            print(json.dumps(event), file=sys.stderr)
            previous_kept = kept
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
        trained_ids = kept
        train_scores = None
        if track:
            train_scores = np.full(n, np.nan)
            train_scores[np.concatenate(seen_ids)] = np.concatenate(seen_scores)
    reused = [e for e in events if e["reused"]]
    summary = {key: median([e[key] for e in reused]) for key in
               ("spearman", "scale", "agreement_raw", "agreement_calibrated", "stay_raw", "stay_calibrated",
                "stay_eval")}
    result = {"command": command_line(), "machine": machine_info(), "dataset": args.dataset, "num_train": n,
              "epochs": args.epochs, "keep_fraction": args.keep, "reuse_calibration": args.calibration,
              "follow": args.follow, "seed": args.seed, "median_over_reused_events": summary, "events": events}
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
