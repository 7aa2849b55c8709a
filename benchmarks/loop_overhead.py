#!/usr/bin/env python
"""What the training loop costs, measured in one invocation.

Sections (``--sections``, default all but ``slot_loss``), each a question about the loop:

- ``padding``: the share of the token slots of the training batches that is
  padding, with random and with length-grouped batches (the planner's batches
  of every id, median over 3 epochs' plans). No training.
- ``overhead``: the Ray Train loop (1 worker, ``raypruning.run.run_training``)
  against a bare PyTorch loop written plainly below, on the same data, model
  initialisation, batches, dropout seeds and optimizer, alternating Ray / bare
  (``--repeats`` pairs, the order flipped every other pair). Each loop's
  examples/s is the training set over the median cycle of epochs 2..E (train,
  evaluate on the evaluation split, and for Ray its report and checkpoint), so
  the Ray side pays everything a run pays between two epochs except its start.
- ``batching``: full-data finetuning with random, then length-grouped batches
  at the shipped study's settings, both with the paper's batch-mean slot loss
  (``train.slot_loss=batch``, as recorded before ``epoch`` became the default);
  the ratio of training times and the score difference.
- ``seeds``: the batching section's pair again at each of ``--seeds`` (train.seed);
  with the batching section's own pair (seed 0) and, with ``--update``, the seeds
  already recorded (and with ``--merge-seeds``, those of other output files), the
  score difference's mean and spread over seeds, which one pair cannot give
  (validation curves move by a few points between epochs). Its times are kept
  but the time target stays the batching section's.
- ``slot_loss`` (only when named): the length-grouped full-data run again at each of
  ``--seeds``, with ``train.slot_loss=epoch`` (the default: each slot token weighs the
  same in every batch), against the seeds section's random-batch and length-grouped
  runs of the same seed; the padding section measures how unequal the batch mean's
  slot-token weights are. This is the default loop's score against random batches.
- ``budget``: dynamic EL2N with ``pruning.budget=tokens`` at keep 0.5 and 0.2
  (tau = 1, T = 1); each run's training time over the length-grouped
  full-data run's (the ``batching`` section's, so run both) against its ideal
  fraction, counted in tokens.

Targets (the issue's): length-grouped training time <= 0.65 of random with the
score within 0.5 point; Ray >= 0.95 of the bare loop's examples/s (median of 3);
token budgets' realised training-time fraction within 3% of the ideal.
The score target is judged on the mean over seeds: the seeds section's for the batch
mean, the slot_loss section's for the default.

    python benchmarks/loop_overhead.py                        # ATIS: about 2 hours on 2 cores
    python benchmarks/loop_overhead.py --sections padding,overhead
    python benchmarks/loop_overhead.py --quick --json         # synthetic task, tiny model: under 2 minutes
    python benchmarks/loop_overhead.py --sections seeds --seeds 1,2 --update   # add seeds to the record
    python benchmarks/loop_overhead.py --sections seeds --seeds 5,6,7,8 --update --merge-seeds A.json,B.json
        # take seeds run by other invocations (each its own --out, e.g. two at once on one Ray cluster)
    python benchmarks/loop_overhead.py --sections slot_loss --seeds 0,1,2,3,4 --update   # slot_loss=epoch

Writes benchmarks/results/loop_overhead.json (``--quick``: loop_overhead_quick.json,
or ``--out``); ``--json`` also prints it. ``--update`` keeps the sections of the
existing output file that this invocation does not run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_DATA_ROOT, RESULTS, command_line, machine_info, median, run_one, start_ray  # noqa: E402

SECTIONS = ("padding", "overhead", "batching", "seeds", "slot_loss", "budget")
DEFAULT_SECTIONS = ("padding", "overhead", "batching", "seeds", "budget")  # slot_loss: only when asked
BUDGET_KEEPS = (0.5, 0.2)
TARGET_BATCHING_TIME, TARGET_SCORE_POINTS = 0.65, 0.5
TARGET_RAY_SHARE = 0.95
TARGET_BUDGET_REL = 0.03


@dataclass(frozen=True)
class Setting:
    """The data and model of every run of one invocation (dotted overrides on the default config)."""

    name: str
    overrides: tuple[str, ...]  # data and model: what every section shares
    epochs: int  # the batching and budget runs' E
    overhead_epochs: int  # E of each overhead run (cycles are epochs 2..E)
    overhead_examples: int | None  # a stratified training sample for the overhead runs (None: all)


def setting(args) -> Setting:
    if args.quick:
        return Setting("synthetic", ("data.format=synthetic", "data.synthetic.task=joint",
                                     "data.synthetic.num_train=600", "data.synthetic.num_eval=100",
                                     "model.name=tiny", "train.lr=0.002", "train.max_length=48",
                                     "train.batch_size=32"), epochs=3, overhead_epochs=2, overhead_examples=None)
    root = args.data_root / "atis"
    if not (root / "train").is_dir():
        raise SystemExit(f"{root}: no ATIS data (JointBERT layout) there; pass --data-root")
    # The shipped ATIS study's settings (studies/atis.yaml); on a GPU the whole 6-layer MiniLM.
    layers = ("scaling.use_gpu=true",) if args.gpu else ("model.num_layers=2",)
    return Setting("atis", ("data.format=jointbert", f"data.path={root}", "data.eval_split=validation",
                            "data.test_split=test", "model.name=minilm", *layers, "train.lr=0.0003",
                            "train.max_length=64", "train.batch_size=32"),
                   epochs=args.epochs, overhead_epochs=3 if not args.gpu else 4,
                   overhead_examples=None if args.gpu else args.overhead_examples)


# ---- padding


def padding_section(cfg) -> dict:
    from raypruning.batching import padding_share, plan_batches
    from raypruning.data.schema import JOINT
    from raypruning.seeds import SeedStream, generator

    data = _encoded(cfg)
    lengths = data.lengths
    ids = np.arange(len(lengths))
    slots = data.slot_tokens if data.task.kind == JOINT else None
    out = {"num_examples": len(ids), "mean_length": float(lengths.mean()), "max_length": int(lengths.max())}
    for batching in ("random", "length"):
        plans = [plan_batches(ids, lengths, cfg.train.batch_size, 1, generator(cfg.train.seed, SeedStream.BATCHES,
                                                                                epoch), batching)
                 for epoch in range(3)]
        out[f"padding_share_{batching}"] = median([padding_share(plan, lengths) for plan in plans])
        if slots is not None:
            out[f"slot_weight_spread_{batching}"] = median([slot_weight_spread(plan, slots) for plan in plans])
    return out


def slot_weight_spread(plan, slots: np.ndarray) -> float:
    """How unequally the batch mean (train.slot_loss=batch) weighs slot tokens: each labelled token
    weighs 1 / the labelled tokens of its batch; the 90th percentile of those weights over the
    10th, over every labelled token of the epoch. train.slot_loss=epoch weighs them all the same."""
    counts = [int(slots[b.ids].sum()) for b in plan]
    weights = np.concatenate([np.full(n, 1.0 / n) for n in counts if n])
    return float(np.percentile(weights, 90) / np.percentile(weights, 10))


# ---- the bare loop


@dataclass(frozen=True)
class Encoded:
    """One task, tokenized: what both loops train and evaluate on."""

    task: object
    pad_id: int
    vocab_size: int
    train_rows: list
    eval_rows: list
    lengths: np.ndarray
    slot_tokens: np.ndarray  # labelled slot tokens per training row (0 for tasks without slots)


def _encoded(cfg) -> Encoded:
    import datasets

    from raypruning.data.encode import encode_task
    from raypruning.data.sources import load_task_data
    from raypruning.models import load_tokenizer

    datasets.disable_progress_bars()
    task = load_task_data(cfg.data)
    train = task.splits["train"][:]
    tokenizer = load_tokenizer(cfg.model, train["text"] + (train["text_pair"] if task.has_pair else []))
    encoded = encode_task(task, tokenizer, cfg.train.max_length)
    rows = encoded["train"].to_list()
    return Encoded(task, tokenizer.pad_token_id, len(tokenizer), rows, encoded[cfg.data.eval_split].to_list(),
                   np.array([r["length"] for r in rows], dtype=np.int64),
                   np.array([sum(1 for v in r.get("slot_labels", ()) if v != -100) for r in rows], dtype=np.int64))


def _pad(rows: list, key: str, width: int, value: int):
    import torch

    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row[key])] = torch.tensor(row[key])
    return out.pin_memory() if torch.cuda.is_available() else out


def bare_loop(cfg, data: Encoded) -> dict:
    """Plain PyTorch finetuning: the recipe's batches, seeds, model and optimizer, nothing else
    (on a GPU: bf16 autocast, TF32, fused AdamW, as the recipe runs there).
    Returns every epoch's cycle seconds (train + evaluate) and the last evaluation score."""
    import torch
    import torch.nn.functional as F

    from raypruning.batching import plan_batches
    from raypruning.data.schema import JOINT, REGRESSION
    from raypruning.evaluation import evaluate
    from raypruning.models import build_model
    from raypruning.scoring import Precision
    from raypruning.seeds import SeedStream, derive_seed, generator

    device = torch.device("cuda" if cfg.scaling.use_gpu else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(max(1, int(cfg.scaling.cpus_per_worker)))  # as a Ray worker with that many CPUs
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
    precision = Precision.of(cfg.train.precision, device)
    t, task = cfg.train, data.task
    model = build_model(cfg.model, task.kind, task.num_labels, len(task.slot_labels),
                        vocab_size=data.vocab_size, seed=t.seed).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay,
                                  fused=device.type == "cuda" or None)

    def tensor(values, dtype=torch.long):
        return torch.as_tensor(values, dtype=dtype).to(device, non_blocking=True)
    # train.slot_loss=epoch: a batch's slot loss over its examples times the mean labelled slot tokens
    # per training example (every example trains every epoch here), as the Ray loop divides it.
    slots_per_example = None
    if task.kind == JOINT and t.slot_loss == "epoch":
        slots_per_example = max(float(data.slot_tokens.mean()), 1.0)
    cycles, score = [], None
    for epoch in range(t.epochs):
        start = time.perf_counter()
        torch.manual_seed(derive_seed(t.seed, SeedStream.DROPOUT, epoch, 0))
        model.train()
        plan = plan_batches(np.arange(len(data.train_rows)), data.lengths, t.batch_size, 1,
                            generator(t.seed, SeedStream.BATCHES, epoch), t.batching)
        for global_batch in plan:
            rows = [data.train_rows[i] for i in global_batch.ids]
            input_ids = tensor(_pad(rows, "input_ids", global_batch.width, data.pad_id))
            mask = tensor(_pad(rows, "attention_mask", global_batch.width, 0))
            types = (tensor(_pad(rows, "token_type_ids", global_batch.width, 0))
                     if "token_type_ids" in rows[0] else None)
            labels = [r["label"] for r in rows]
            with precision.autocast(device):
                out = model(input_ids, mask, types)
            if task.kind == REGRESSION:
                loss = F.mse_loss(out["logits"].float().view(-1), tensor(labels, torch.float32))
            else:
                loss = F.cross_entropy(out["logits"].float(), tensor(labels))
                if task.kind == JOINT:
                    slots = tensor(_pad(rows, "slot_labels", global_batch.width, -100))
                    if slots_per_example is None:
                        slot_loss = F.cross_entropy(out["slot_logits"].float().flatten(0, 1), slots.flatten(),
                                                    ignore_index=-100)
                    else:
                        slot_loss = F.cross_entropy(out["slot_logits"].float().flatten(0, 1), slots.flatten(),
                                                    ignore_index=-100, reduction="sum") / (slots_per_example * len(rows))
                    loss = 0.5 * loss + 0.5 * slot_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.max_grad_norm)
            optimizer.step()
        score = evaluate(model, data.eval_rows, task, data.pad_id, t.eval_batch_size, device,
                         precision=precision)["score"]
        cycles.append(time.perf_counter() - start)
    return {"cycles_s": cycles, "score": score}


def ray_cycles(summary: dict) -> list[float]:
    """Seconds between consecutive epoch reports of a Ray run (each: the previous report and
    checkpoint, one training epoch, one evaluation)."""
    walls = [h["wall_time_s"] for h in summary["history"]]
    return [b - a for a, b in zip(walls, walls[1:])]


def overhead_section(args, s: Setting) -> dict:
    from raypruning.config import load_config

    overrides = [*s.overrides, "pruning.mode=full", f"train.epochs={s.overhead_epochs}", "data.test_split=null",
                 "scaling.num_workers=1", "scaling.cpus_per_worker=1", "train.batching=length"]
    if s.overhead_examples:
        overrides.append(f"data.max_train_examples={s.overhead_examples}")
    cfg = load_config(None, overrides)
    data = _encoded(cfg)
    n = len(data.train_rows)
    pairs = []
    for i in range(args.repeats):
        order = ("ray", "bare") if i % 2 == 0 else ("bare", "ray")
        got = {}
        for side in order:
            if side == "ray":
                summary = run_one(overrides)
                got["ray"] = {"cycles_s": ray_cycles(summary), "score": summary["score"]}
            else:
                got["bare"] = bare_loop(cfg, data)
        got["bare"]["cycles_s"] = got["bare"]["cycles_s"][1:]  # epochs 2..E, as the Ray side's
        row = {side: {"examples_per_s": n / median(got[side]["cycles_s"]), **got[side]} for side in ("ray", "bare")}
        row["ray_share"] = row["ray"]["examples_per_s"] / row["bare"]["examples_per_s"]
        row["order"] = list(order)
        pairs.append(row)
        print(f"overhead {i + 1}/{args.repeats}: ray {row['ray']['examples_per_s']:.1f} ex/s, bare "
              f"{row['bare']['examples_per_s']:.1f} ex/s, share {row['ray_share']:.3f}", file=sys.stderr)
    share = median([p["ray_share"] for p in pairs])
    return {"num_examples": n, "epochs": s.overhead_epochs, "pairs": pairs, "ray_share_median": share,
            "target": TARGET_RAY_SHARE, "met": share >= TARGET_RAY_SHARE}


# ---- full-data batching and token budgets


def _run(s: Setting, extra: list[str], label: str) -> dict:
    start = time.perf_counter()
    summary = run_one([*s.overrides, f"train.epochs={s.epochs}", *extra])
    print(f"{label}: train {summary['train_time_s']:.1f} s, score {summary['score']:.2f} "
          f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return {"train_time_s": summary["train_time_s"], "scoring_time_s": summary["scoring_time_s"],
            "wall_time_s": summary["wall_time_s"], "score": summary["score"],
            "test_score": summary.get("test_score"), "examples_trained": summary["examples_trained"],
            "ideal_fraction": summary["ideal_fraction"],
            "score_by_epoch": [h["score"] for h in summary["history"]]}


# The batching, seeds and budget sections train with the paper's batch-mean slot loss, as recorded
# before train.slot_loss=epoch became the default; the slot_loss section runs the default.
BATCH_MEAN = "train.slot_loss=batch"


def batching_section(s: Setting) -> dict:
    runs = {b: _run(s, ["pruning.mode=full", f"train.batching={b}", BATCH_MEAN], f"full, {b} batches")
            for b in ("random", "length")}
    ratio = runs["length"]["train_time_s"] / runs["random"]["train_time_s"]
    delta = runs["length"]["score"] - runs["random"]["score"]
    return {"runs": runs, "time_ratio_length_vs_random": ratio, "score_delta_points": delta,
            "target_time_ratio": TARGET_BATCHING_TIME, "target_score_points": TARGET_SCORE_POINTS,
            "met": ratio <= TARGET_BATCHING_TIME and abs(delta) <= TARGET_SCORE_POINTS}


def seeds_section(s: Setting, seeds: list[int], batching: dict | None, recorded: dict | None) -> dict:
    """The batching pair at more seeds; with the batching section's (the default seed) and the
    seeds already recorded, the score difference's mean and standard deviation over every seed."""
    from raypruning.config import load_config

    pairs = {int(seed): runs for seed, runs in (recorded or {}).get("runs", {}).items()}
    if batching is not None:
        pairs[load_config(None, list(s.overrides)).train.seed] = batching["runs"]
    for seed in seeds:
        if seed in pairs:
            continue
        pairs[seed] = {b: _run(s, ["pruning.mode=full", f"train.batching={b}", BATCH_MEAN, f"train.seed={seed}"],
                               f"seed {seed}: full, {b} batches") for b in ("random", "length")}
    deltas = {seed: runs["length"]["score"] - runs["random"]["score"] for seed, runs in pairs.items()}
    test_deltas = {seed: runs["length"]["test_score"] - runs["random"]["test_score"]
                   for seed, runs in pairs.items() if runs["length"].get("test_score") is not None}
    mean = float(np.mean(list(deltas.values())))
    return {"seeds": sorted(pairs), "runs": {str(k): v for k, v in sorted(pairs.items())},
            "score_delta_points": {str(k): v for k, v in sorted(deltas.items())},
            "score_delta_mean": mean, "score_delta_std": float(np.std(list(deltas.values()), ddof=1))
            if len(deltas) > 1 else None,
            "test_score_delta_mean": float(np.mean(list(test_deltas.values()))) if test_deltas else None,
            "target_score_points": TARGET_SCORE_POINTS, "met": abs(mean) <= TARGET_SCORE_POINTS}


def slot_loss_section(s: Setting, seeds: list[int], pairs: dict | None, recorded: dict | None) -> dict:
    """Length-grouped full-data runs with train.slot_loss=epoch at each seed, against the seeds
    section's runs of the same seed: its random-batch run (the paper's batch mean, which random
    batches already weigh about evenly) and its length-grouped run with the batch mean."""
    pairs = {int(seed): runs for seed, runs in (pairs or {}).get("runs", {}).items()}
    runs = {int(seed): run for seed, run in (recorded or {}).get("runs", {}).items()}
    missing = sorted(set(seeds) - set(pairs))
    if missing:
        raise SystemExit(f"--sections slot_loss: seeds {missing} have no random / length pair in the seeds "
                         f"section; run them there first")
    for seed in seeds:
        if seed not in runs:
            runs[seed] = _run(s, ["pruning.mode=full", "train.batching=length", "train.slot_loss=epoch",
                                  f"train.seed={seed}"], f"seed {seed}: full, length batches, slot_loss=epoch")

    def deltas(arm: str, key: str) -> dict:
        return {seed: run[key] - pairs[seed][arm][key] for seed, run in sorted(runs.items())
                if run.get(key) is not None and pairs[seed][arm].get(key) is not None}

    def summary(d: dict) -> dict:
        values = list(d.values())
        return {"per_seed": {str(k): v for k, v in d.items()}, "mean": float(np.mean(values)) if values else None,
                "std": float(np.std(values, ddof=1)) if len(values) > 1 else None}

    against_random = summary(deltas("random", "score"))
    return {"seeds": sorted(runs), "runs": {str(k): v for k, v in sorted(runs.items())},
            "score_delta_vs_random": against_random, "test_score_delta_vs_random": summary(deltas("random", "test_score")),
            "score_delta_vs_batch_mean": summary(deltas("length", "score")),
            "test_score_delta_vs_batch_mean": summary(deltas("length", "test_score")),
            "target_score_points": TARGET_SCORE_POINTS,
            "met": against_random["mean"] is not None and abs(against_random["mean"]) <= TARGET_SCORE_POINTS}


def merged_seeds(recorded: dict | None, files: list[Path], dataset: str, section: str = "seeds") -> dict | None:
    """A per-seed section's recorded runs together with those of other output files (``--merge-seeds``).
    A seed recorded twice must hold the same runs: two invocations disagreeing is an error, not a choice."""
    runs = dict((recorded or {}).get("runs", {}))
    for path in files:
        if not path.is_file():
            raise SystemExit(f"--merge-seeds: {path} is not a file")
        other = json.loads(path.read_text())
        if other.get("dataset") != dataset:
            raise SystemExit(f"--merge-seeds: {path} holds {other.get('dataset')!r}, not {dataset!r}")
        for seed, pair in (other.get(section) or {}).get("runs", {}).items():
            if seed in runs and runs[seed] != pair:
                raise SystemExit(f"--merge-seeds: seed {seed} of {path} differs from the one already recorded")
            runs[seed] = pair
    return {"runs": runs} if runs else recorded


def budget_section(s: Setting, reference: dict) -> dict:
    rows = []
    for keep in BUDGET_KEEPS:
        run = _run(s, ["pruning.mode=dynamic", "pruning.score=el2n", "pruning.budget=tokens",
                       f"pruning.keep_fraction={keep}", "pruning.warmup_epochs=1", "pruning.period_epochs=1",
                       "train.batching=length", BATCH_MEAN], f"dynamic EL2N, token budget {keep}")
        realised = run["train_time_s"] / reference["train_time_s"]
        rows.append({"keep_fraction": keep, "realised_train_fraction": realised,
                     "ideal_fraction": run["ideal_fraction"],
                     "relative_gap": realised / run["ideal_fraction"] - 1, "run": run})
    return {"reference": "batching.runs.length", "rows": rows, "target_relative_gap": TARGET_BUDGET_REL,
            "met": all(abs(r["relative_gap"]) <= TARGET_BUDGET_REL for r in rows)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default=",".join(DEFAULT_SECTIONS),
                    help=f"comma list of {', '.join(SECTIONS)} (default {', '.join(DEFAULT_SECTIONS)})")
    ap.add_argument("--quick", action="store_true", help="synthetic task, tiny model (a smoke run)")
    ap.add_argument("--repeats", type=int, default=3, help="Ray / bare pairs of the overhead section (default 3)")
    ap.add_argument("--epochs", type=int, default=10, help="E of the batching and budget runs (default 10)")
    ap.add_argument("--overhead-examples", type=int, default=2000,
                    help="stratified training sample of the overhead runs (default 2000)")
    ap.add_argument("--gpu", action="store_true", help="on one GPU, with the whole 6-layer MiniLM")
    ap.add_argument("--seeds", default="1,2", help="train.seed values of the seeds section (default 1,2)")
    ap.add_argument("--update", action="store_true",
                    help="keep the sections of the existing output file that this invocation does not run")
    ap.add_argument("--merge-seeds", default="",
                    help="comma list of other output files of this dataset: the runs of their seeds and slot_loss "
                         "sections count as recorded (seeds run by other invocations), so only seeds in none of "
                         "them run")
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    ap.add_argument("--json", action="store_true", help="also print the result as JSON")
    ap.add_argument("--out", type=Path, default=None, help="output JSON (default benchmarks/results/...)")
    args = ap.parse_args(argv)
    sections = [x.strip() for x in args.sections.split(",") if x.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"--sections: unknown {unknown} (known: {', '.join(SECTIONS)})")
    if "budget" in sections and "batching" not in sections:
        raise SystemExit("--sections: budget compares against the batching section's length-grouped run; add it")
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"--seeds: {args.seeds!r} is not a comma list of integers") from None
    out = args.out or RESULTS / ("loop_overhead_quick.json" if args.quick else "loop_overhead.json")
    previous = {}
    if args.update and out.is_file():
        previous = json.loads(out.read_text())
    if "seeds" in sections and "batching" not in sections and "batching" not in previous:
        raise SystemExit("--sections: seeds extends the batching section's pair; add it (or --update a result with it)")
    if args.quick:
        args.repeats = min(args.repeats, 1)
        seeds = seeds[:1]
    if args.gpu:
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--gpu: torch sees no CUDA device on this machine")
    s = setting(args)
    from raypruning.config import load_config

    if previous and previous.get("dataset") != s.name:
        raise SystemExit(f"--update: {out} holds {previous.get('dataset')!r}, not {s.name!r}")
    result = {**previous, "machine": previous.get("machine") or machine_info(), "dataset": s.name, "quick": args.quick,
              "gpu": args.gpu,
              # The data folder is this machine's: record it as a placeholder.
              "overrides": [o.replace(str(args.data_root), "<data-root>") for o in s.overrides]}
    result["command"] = previous.get("command") or command_line()
    start = time.perf_counter()
    if "padding" in sections:
        result["padding"] = padding_section(load_config(None, list(s.overrides)))
    if {"overhead", "batching", "seeds", "slot_loss", "budget"} & set(sections):
        start_ray(num_cpus=None)
    if "overhead" in sections:
        result["overhead"] = overhead_section(args, s)
    if "batching" in sections:
        result["batching"] = batching_section(s)
    merge = [Path(f) for f in args.merge_seeds.split(",") if f.strip()]
    if "seeds" in sections:
        result["seeds"] = seeds_section(s, seeds, result.get("batching"), merged_seeds(result.get("seeds"), merge,
                                                                                        s.name))
    if "slot_loss" in sections:
        result["slot_loss"] = slot_loss_section(s, seeds, result.get("seeds"),
                                                merged_seeds(result.get("slot_loss"), merge, s.name, "slot_loss"))
    if "budget" in sections:
        result["budget"] = budget_section(s, result["batching"]["runs"]["length"])
    elapsed = time.perf_counter() - start
    if previous:  # the sections an update added, with the command that made them
        result.setdefault("updates", []).append({"command": command_line(), "machine": machine_info(),
                                                 "sections": sections, "elapsed_s": elapsed})
    else:
        result["elapsed_s"] = elapsed
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    print_summary(result, out)
    return 0


def print_summary(result: dict, out: Path) -> None:
    lines = [f"loop overhead on {result['dataset']} -> {out}"]
    if "padding" in result:
        p = result["padding"]
        lines.append(f"  padding share: random {p['padding_share_random']:.3f}, length {p['padding_share_length']:.3f}")
        if "slot_weight_spread_length" in p:
            lines.append(f"  slot-token weight spread of the batch mean (p90 / p10): random "
                         f"{p['slot_weight_spread_random']:.2f}, length {p['slot_weight_spread_length']:.2f}")
    if "overhead" in result:
        o = result["overhead"]
        lines.append(f"  Ray / bare examples/s: {o['ray_share_median']:.3f} (median of {len(o['pairs'])}; "
                     f"target >= {TARGET_RAY_SHARE}: {'MET' if o['met'] else 'NOT MET'})")
    if "batching" in result:
        b = result["batching"]
        lines.append(f"  length / random training time: {b['time_ratio_length_vs_random']:.3f}, score "
                     f"{b['score_delta_points']:+.2f} points (targets <= {TARGET_BATCHING_TIME}, within "
                     f"{TARGET_SCORE_POINTS}: {'MET' if b['met'] else 'NOT MET'})")
    if "seeds" in result:
        d = result["seeds"]
        spread = f" +- {d['score_delta_std']:.2f}" if d["score_delta_std"] is not None else ""
        lines.append(f"  length - random score over seeds {d['seeds']}: {d['score_delta_mean']:+.2f}{spread} points "
                     f"(within {TARGET_SCORE_POINTS}: {'MET' if d['met'] else 'NOT MET'})")
    if "slot_loss" in result:
        d = result["slot_loss"]

        def shown(x):
            spread = f" +- {x['std']:.2f}" if x["std"] is not None else ""
            return f"{x['mean']:+.2f}{spread}"
        lines.append(f"  length with slot_loss=epoch over seeds {d['seeds']}: {shown(d['score_delta_vs_random'])} "
                     f"points against random (test {shown(d['test_score_delta_vs_random'])}), "
                     f"{shown(d['score_delta_vs_batch_mean'])} against the batch mean "
                     f"(within {TARGET_SCORE_POINTS} of random: {'MET' if d['met'] else 'NOT MET'})")
    if "budget" in result:
        for r in result["budget"]["rows"]:
            lines.append(f"  token budget {r['keep_fraction']}: realised {r['realised_train_fraction']:.3f} vs "
                         f"ideal {r['ideal_fraction']:.3f} ({r['relative_gap']:+.1%})")
        lines.append(f"  token budgets within {TARGET_BUDGET_REL:.0%}: "
                     f"{'MET' if result['budget']['met'] else 'NOT MET'}")
    print("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
