#!/usr/bin/env python
"""Time-accuracy trade-off of dynamic EL2N pruning against its baselines (issues 6 and 17).

For each dataset, in ONE invocation and interleaved (the method order rotates
with the seed), runs:

- full               full-data finetuning, the reference (pruning.mode=full); its
                     test score after every epoch against its cumulative cost is
                     also the "full data, fewer epochs" curve (equal_cost.py)
- dynamic-el2n       the paper's method: re-scores every T epochs after tau warmup
                     epochs, keeps the top f of the examples by EL2N
- dynamic-el2n-best  the best variant we have: dynamic EL2N with exploration
                     (--explore, default 0.3, epsilon-greedy), a token budget
                     (pruning.budget=tokens) and the training pass's scores reused
                     for the kept examples (pruning.reuse_train_scores=true, mapped
                     onto the eval scale: pruning.reuse_calibration, default 0.1)
- static-el2n        scores once after the warmup and keeps that subset
- dynamic-random     re-draws a random subset every T epochs (pruning.score=random)
- soft               InfoBatch (pruning.mode=soft, score loss): every epoch skips a
                     random share r of the examples whose last training loss is below
                     the mean and rescales the rest; no keep fraction, tau or T; one
                     run per prune ratio r (--prune-ratio, default 0.5), its row has
                     keep_fraction null and prune_ratio r

at keep fractions 0.5, 0.3 and 0.2 (--keep) and seeds 0, 1, 2 (--seeds).

Selection on validation, report on test: every run scores the validation split
each epoch (data.eval_split=validation) and the test split once after its last
epoch (data.test_split=test); the full-data reference scores test after every
epoch as well. Rows report the test score; validation scores sit beside them.

A record of several seeds can span invocations: each seed's runs (its
reference and every method) are written to <out>/seeds/<dataset>-seed<k>.json
once they have all finished, and --resume reuses those whose settings match,
running only the seeds that have none (seed_chunks.py). An interrupted seed runs
again whole, so the runs a time ratio compares always come from one invocation.

Writes <out>/<dataset>.json: a list of rows, one per (method, keep fraction),
with the test score (mean and spread over seeds), score_delta (test, against
the same seed's reference, averaged), val_score_delta, time_saving,
equal_cost_epochs_delta (the method's test score minus the fewer-epochs
curve's at the same cost, per seed, averaged), the realised time fraction next
to the ideal (tau + f(E - tau))/E, the scoring share, wall times, the command
and the machine. Time uses the paper's accounting (total_time_s = training
steps + scoring passes), per seed against the same seed's reference.

Datasets (data in <repo>/../shared/data, or --data-root):
- atis, snips: JointBERT layout (train/dev/test), joint intent + slot EL2N
  (norm); selection on dev, reported on test; primary metric exact match
  (intent accuracy and slot F1 recorded from validation).
- sst2: GLUE SST-2; a seeded, label-stratified 5% of train is carved out as
  validation (data.validation_fraction=0.05), and the official dev set (872
  sentences) becomes the test split; metric accuracy.
On CPU, SNIPS and SST-2 train on label-stratified samples of 6000 and 8000
examples (data.max_train_examples, drawn with data.sample_seed, the same for
every seed and method); their full sets (13k, 67k) are out of reach of a CPU
budget. ATIS trains on all 4478. With --gpu every dataset is used whole.
- synthetic: the built-in synthetic joint task (used by --quick).

CPU defaults: model `minilm` (all-MiniLM-L6-v2) truncated to --layers 2
encoder layers, a constant lr chosen on validation among the rates whose
reference has plateaued by E (results/NOTES.md: 3e-4 for ATIS, over 1e-3;
3e-4 for SNIPS, where 1e-4 was still climbing; 1e-4 for SST-2),
batch 32, max length 64, 1 Ray Train worker
with all the machine's cores (on 2 cores a full-data ATIS epoch takes 0.73
of its 1-core time, see results/NOTES.md),
E = 10 epochs for ATIS and SNIPS and 6 for SST-2: chosen so that the
full-data reference has converged by its last epoch, as in the paper (the
rows keep each run's score by epoch). --gpu switches to the paper's scale:
all layers, 40 epochs for joint NLU and 10 for GLUE (max length 256 for
GLUE), scaling.use_gpu=true; pass --model roberta-base (lr 2e-5) where that
model is available.

Examples:
    python benchmarks/tradeoff.py --quick                                   # CI smoke: keep 0.5 and 0.2, 1 seed
    python benchmarks/tradeoff.py --datasets atis --seeds 0 --keep 0.5 --epochs 4   # a shorter look
    python benchmarks/tradeoff.py --datasets atis,snips,sst2 --period 2     # the issue 17 record (hours of CPU)
    python benchmarks/tradeoff.py --datasets atis --seeds 0 --resume        # one seed a session, then
    python benchmarks/tradeoff.py --datasets atis --seeds 0,1,2 --resume    # ... the rest, and all rows
    python benchmarks/tradeoff.py --datasets atis,snips,sst2 --gpu --model roberta-base

After the runs it redraws <out>/tradeoff.png and, when writing to
benchmarks/results, regenerates benchmarks/RESULTS.md and README's trade-off
summary (write_results.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (DEFAULT_DATA_ROOT, RESULTS, command_line, machine_info, mean_std,  # noqa: E402
                    run_one, slim, start_ray)
from equal_cost import EpochCurve, equal_cost, mean_curve  # noqa: E402
from seed_chunks import SeedChunk, chunk_settings, job_key, load_chunk, now, save_chunk  # noqa: E402

JOINT_DATASETS = ("atis", "snips")
ALL_DATASETS = ("atis", "snips", "sst2", "synthetic")
BEST_METHOD = "dynamic-el2n-best"
METHODS = ("full", "dynamic-el2n", BEST_METHOD, "static-el2n", "dynamic-random")
SOFT_METHOD = "soft"  # one run per prune ratio; its job's second value is r, not a keep fraction
JOINT_METRICS = ("intent_accuracy", "slot_f1", "exact_match")
CPU_MAX_TRAIN = {"snips": 6000, "sst2": 8000}  # stratified training samples on CPU (see above)
SST2_VALIDATION_FRACTION = 0.05  # of SST-2's train, carved out for selection; its dev set is the test split
CPU_EPOCHS = {"atis": 10, "snips": 10, "sst2": 6}
MINILM_LR = {"atis": 3e-4, "snips": 3e-4, "sst2": 1e-4}  # chosen on validation (results/NOTES.md)
DEFAULT_KEEP, QUICK_KEEP = "0.5,0.3,0.2", "0.5,0.2"
DEFAULT_SEEDS, QUICK_SEEDS = "0,1,2", "0"
REPEAT = ("full-repeat", 1.0)  # the second, bracketing reference run
ROTATION_SPREAD = len(DEFAULT_SEEDS.split(","))  # the default seeds start the run order 1/this of the way apart
SPLITS = ["data.eval_split=validation", "data.test_split=test"]  # select on validation, report on test


def data_overrides(dataset: str, data_root: Path, max_train: int | None, quick: bool, gpu: bool) -> list[str]:
    """The data keys of a dataset: validation for selection, test reported, CPU sample sizes."""
    if max_train is None and not gpu:
        max_train = CPU_MAX_TRAIN.get(dataset)
    if dataset in JOINT_DATASETS:
        ov = ["data.format=jointbert", f"data.path={data_root / dataset}"] + SPLITS
    elif dataset == "sst2":
        ov = ["data.format=glue", f"data.path={data_root / 'glue' / 'SST-2'}",
              f"data.validation_fraction={SST2_VALIDATION_FRACTION}"] + SPLITS
    elif dataset == "synthetic":
        n = 400 if quick else 2000
        ov = ["data.format=synthetic", "data.synthetic.task=joint", f"data.synthetic.num_train={n}",
              f"data.synthetic.num_eval={100 if quick else 300}"] + SPLITS
    else:
        raise SystemExit(f"unknown dataset {dataset!r} (known: {', '.join(ALL_DATASETS)})")
    if max_train is not None and dataset != "synthetic":
        ov.append(f"data.max_train_examples={max_train}")
    return ov


def model_overrides(args, dataset: str) -> list[str]:
    if args.quick:
        return ["model.name=tiny", "train.lr=0.002", "train.max_length=48"]
    ov = [f"model.name={args.model}"]
    if args.layers is not None:
        ov.append(f"model.num_layers={args.layers}")
    small = args.model in ("minilm", "tiny")
    lr = args.lr if args.lr is not None else (MINILM_LR.get(dataset, 3e-4) if small else 2e-5)
    ov.append(f"train.lr={lr}")
    max_len = 256 if (args.gpu and dataset == "sst2") else 64
    ov.append(f"train.max_length={max_len}")
    return ov


def epochs_for(args, dataset: str) -> int:
    if args.epochs is not None:
        return args.epochs
    if args.quick:
        return 3
    if args.gpu:
        return 10 if dataset == "sst2" else 40
    return CPU_EPOCHS.get(dataset, 4)


def best_options(explore: float) -> tuple[str, ...]:
    """The best EL2N variant's keys: exploration, a token budget, calibrated reuse of training-pass scores."""
    return (f"pruning.explore={explore}", "pruning.budget=tokens", "pruning.reuse_train_scores=true")


def method_overrides(method: str, keep: float, tau: int, period: int, el2n: tuple[str, ...] = (),
                     explore: float = 0.3) -> list[str]:
    """The pruning keys of one method; `el2n` holds the paper methods' EL2N options (reuse, offset)."""
    if method == "full":
        return ["pruning.mode=full"]
    if method == SOFT_METHOD:  # `keep` is the prune ratio r here
        return ["pruning.mode=soft", "pruning.score=loss", f"pruning.prune_ratio={keep}"]
    common = [f"pruning.keep_fraction={keep}", f"pruning.warmup_epochs={tau}", f"pruning.period_epochs={period}"]
    if method == "dynamic-el2n":
        return ["pruning.mode=dynamic", "pruning.score=el2n"] + common + list(el2n)
    if method == BEST_METHOD:  # later keys win: the variant's own options override the paper's
        return ["pruning.mode=dynamic", "pruning.score=el2n"] + common + list(el2n) + list(best_options(explore))
    if method == "static-el2n":
        return ["pruning.mode=static", "pruning.score=el2n"] + common + list(el2n)
    if method == "dynamic-random":
        return ["pruning.mode=dynamic", "pruning.score=random"] + common
    raise ValueError(method)


def plan(args) -> list[tuple[str, float]]:
    """(method, keep) pairs; the reference first in the canonical order."""
    out = [("full", 1.0)]
    for keep in args.keep:
        for method in METHODS[1:]:
            out.append((method, keep))
    out += [(SOFT_METHOD, r) for r in args.prune_ratio]
    return out


def base_overrides(args, dataset: str) -> list[str]:
    """The settings every run of `dataset` shares: data, model, budget and scaling (no seed, no method)."""
    return (data_overrides(dataset, args.data_root, args.max_train, args.quick, args.gpu)
            + model_overrides(args, dataset)
            + [f"train.epochs={epochs_for(args, dataset)}", "train.batch_size=32",
               f"scaling.num_workers={args.workers}", f"scaling.cpus_per_worker={args.cpus_per_worker}",
               f"scaling.use_gpu={'true' if args.gpu else 'false'}"])


def run_order(jobs: list, seed: int, bracket: bool) -> list:
    """One seed's run order. With `bracket` the reference runs first and REPEAT last, and the pruned
    runs between them rotate; without it all jobs rotate. Seeds 0, 1, 2 start the rotation a third of
    the way apart (ROTATION_SPREAD), so that over the three seeds every method runs early, midway and
    late: a steady drift of the machine's speed then cancels in the seed mean instead of favouring the
    methods listed first (a rotation by one place per seed kept the keep-0.5 runs early in every seed)."""
    rotated = jobs[1:] if bracket else jobs
    shift = seed * len(rotated) // ROTATION_SPREAD % len(rotated)
    order = rotated[shift:] + rotated[:shift]
    return [jobs[0]] + order + [REPEAT] if bracket else order


def run_dataset(args, dataset: str, machine: dict) -> list[dict]:
    epochs = epochs_for(args, dataset)
    base = base_overrides(args, dataset)
    jobs = plan(args)
    runs: dict[tuple[str, float], dict[int, dict]] = {job: {} for job in jobs}
    repeats: dict[int, dict] = {}

    def overrides_of(seed, job):
        method, keep = ("full", 1.0) if job == REPEAT else job
        return base + [f"train.seed={seed}"] + method_overrides(method, keep, args.warmup, args.period,
                                                                el2n_options(args), args.explore)

    # The data folder is this machine's: chunks and rows record it as a placeholder.
    shown_base = [o.replace(str(args.data_root), "<data-root>") for o in base]
    settings = chunk_settings(shown_base, {job_key(*job): overrides_of(0, job)[len(base) + 1:] for job in jobs},
                              args.bracket)
    chunks: dict[int, SeedChunk] = {}
    for seed in args.seeds:
        chunk = load_chunk(args.out, dataset, seed, settings) if args.resume else None
        if chunk is not None:
            chunks[seed] = chunk
            for job in jobs:
                runs[job][seed] = chunk.runs[job_key(*job)]
            if chunk.repeat is not None:
                repeats[seed] = chunk.repeat
            print(f"[{dataset} seed {seed}] finished at {chunk.finished_at}: its runs are reused", flush=True)
    schedule = []
    for seed in args.seeds:
        if seed in chunks:
            continue
        for job in run_order(jobs, seed, args.bracket):
            schedule.append((seed, job))
    left = {seed: sum(1 for s, _ in schedule if s == seed) for seed in args.seeds}
    started: dict[int, str] = {}

    def store(seed, job, s):
        if job == REPEAT:
            repeats[seed] = slim(s)
        else:
            runs[job][seed] = slim(s)
        left[seed] -= 1
        if left[seed] == 0:  # the seed's last run: its chunk is whole
            chunks[seed] = SeedChunk(dataset, seed, settings, {job_key(*j): runs[j][seed] for j in jobs},
                                     repeats.get(seed), command_line(), machine, started[seed], now())
            print(f"[{dataset} seed {seed}] all runs finished: wrote {save_chunk(args.out, chunks[seed])}", flush=True)

    def log(seed, job, s):
        if job == REPEAT:
            job = ("full (repeat)", 1.0)
        test = s.get("test_score")
        print(f"[{dataset} seed {seed}] {job[0]:<17} keep {job[1]:.2f}: {s['metric']} val {s['score']:.2f} "
              f"test {'-' if test is None else format(test, '.2f')}  "
              f"total {s['total_time_s']:.1f}s (scoring {s['scoring_time_s']:.1f}s)  "
              f"wall {s['wall_time_s']:.1f}s  driver {s['driver_time_s']:.1f}s", flush=True)

    if args.parallel <= 1:
        for seed, job in schedule:
            started.setdefault(seed, now())
            s = run_one(overrides_of(seed, job))
            log(seed, job, s)
            store(seed, job, s)
    else:
        import ray

        remote = ray.remote(num_cpus=0)(_remote_run)
        pending = {}
        queue = list(schedule)
        while queue or pending:
            while queue and len(pending) < args.parallel:
                seed, job = queue.pop(0)
                started.setdefault(seed, now())
                pending[remote.remote(overrides_of(seed, job))] = (seed, job)
            done, _ = ray.wait(list(pending), num_returns=1)
            seed, job = pending.pop(done[0])
            s = ray.get(done[0])
            log(seed, job, s)
            store(seed, job, s)
    return make_rows(args, dataset, epochs, base, jobs, runs, machine, repeats, chunks)


def el2n_options(args) -> tuple[str, ...]:
    return (f"pruning.reuse_train_scores={'true' if args.reuse_train_scores else 'false'}",
            f"pruning.offset={args.offset}")


def _remote_run(overrides):
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import run_one as _run_one

    return _run_one(overrides)


def reported_score(run: dict) -> float:
    """The reported score of a run: its test split's, evaluated once after the last epoch."""
    if run.get("test_score") is None:
        raise SystemExit("a run has no test score: the dataset needs a test split (data.test_split)")
    return run["test_score"]


def references(runs, repeats) -> tuple[dict, dict]:
    """Per seed, the reference run whose time is the mean of the two bracketing full runs (when there are
    two), and the drift between them (second / first total_time_s; 1.0 = a steady machine)."""
    first = runs[("full", 1.0)]
    ref = {seed: dict(r, total_time_s=(r["total_time_s"] + repeats[seed]["total_time_s"]) / 2,
                      wall_time_s=(r["wall_time_s"] + repeats[seed]["wall_time_s"]) / 2)
           if seed in repeats else r for seed, r in first.items()}
    drift = {str(seed): repeats[seed]["total_time_s"] / first[seed]["total_time_s"] for seed in repeats}
    return ref, drift


def reference_curves(ref: dict, first: dict, score_key: str) -> dict[str, EpochCurve]:
    """seed -> the fewer-epochs curve of that seed's reference, its times scaled to end at the bracketed
    reference time (so that the curve's last point is the reference the savings divide by)."""
    out = {}
    for seed, run in first.items():
        scale = ref[seed]["total_time_s"] / run["total_time_s"] if run["total_time_s"] else 1.0
        curve = EpochCurve.from_run(run, score_key, scale)
        if curve is not None:
            out[str(seed)] = curve
    return out


def equal_cost_fields(per: dict, seeds: list, curves: dict, val_curves: dict) -> dict:
    """equal_cost_epochs_delta (test) and its validation twin, against the same seed's reference curve."""
    test = equal_cost({str(s): (per[s]["total_time_s"], reported_score(per[s])) for s in seeds}, curves)
    val = equal_cost({str(s): (per[s]["total_time_s"], per[s]["score"]) for s in seeds}, val_curves)
    return {
        "equal_cost_epochs_delta": test.delta if test else None,
        "equal_cost_epochs_delta_std": test.delta_std if test else None,
        "equal_cost_epochs": test.epochs if test else None,  # epochs of full data the same cost buys
        "equal_cost_epochs_delta_per_seed": test.per_seed if test else None,
        "val_equal_cost_epochs_delta": val.delta if val else None,
    }


def score_fields(per: dict, ref: dict, seeds: list) -> dict:
    """Test scores (reported) and validation scores (selection), each with its delta to the same seed's
    reference averaged over seeds."""
    test, test_std = mean_std([reported_score(per[s]) for s in seeds])
    val, val_std = mean_std([per[s]["score"] for s in seeds])
    delta, delta_std = mean_std([reported_score(per[s]) - reported_score(ref[s]) for s in seeds])
    val_delta, val_delta_std = mean_std([per[s]["score"] - ref[s]["score"] for s in seeds])
    return {"score_split": "test", "score": test, "score_std": test_std, "test_score": test,
            "test_score_std": test_std, "score_delta": delta, "score_delta_std": delta_std,
            "val_score": val, "val_score_std": val_std, "val_score_delta": val_delta,
            "val_score_delta_std": val_delta_std}


def time_fields(method: str, per: dict, ref: dict, seeds: list) -> dict:
    """Time saving against the same seed's reference (training steps + scoring), and the raw times."""
    realised, realised_std = mean_std([per[s]["total_time_s"] / ref[s]["total_time_s"] for s in seeds])
    wall_fr, _ = mean_std([per[s]["wall_time_s"] / ref[s]["wall_time_s"] for s in seeds])
    full = method == "full"

    def mean_of(key):
        return mean_std([per[s][key] for s in seeds])[0]

    return {
        "time_saving": 0.0 if full else 1.0 - realised,
        "time_saving_std": 0.0 if full else realised_std,
        "realised_fraction": 1.0 if full else realised,
        "ideal_fraction": mean_of("ideal_fraction"),
        "examples_fraction": mean_std([per[s]["examples_trained"] / per[s]["full_data_examples"]
                                       for s in seeds])[0],
        "scoring_share": mean_std([per[s]["scoring_time_s"] / per[s]["total_time_s"] for s in seeds])[0],
        "total_time_s": mean_of("total_time_s"),
        "train_time_s": mean_of("train_time_s"),
        "scoring_time_s": mean_of("scoring_time_s"),
        "wall_time_s": mean_of("wall_time_s"),
        "wall_fraction": 1.0 if full else wall_fr,
        "driver_time_s": mean_of("driver_time_s"),
    }


def method_settings(args, method: str, keep: float) -> dict:
    """What a row's method was run with (the random baseline ignores the EL2N options)."""
    soft, el2n, best = method == SOFT_METHOD, "el2n" in method, method == BEST_METHOD
    return {
        "keep_fraction": None if soft else keep,
        "prune_ratio": keep if soft else None,
        "warmup_epochs": 0 if method == "full" or soft else args.warmup,
        "period_epochs": 0 if method == "full" or soft else args.period,
        "reuse_train_scores": (True if best else args.reuse_train_scores) if el2n else None,
        "explore": (args.explore if best else 0.0) if el2n else None,
        "budget": ("tokens" if best else "examples") if el2n else None,
        "offset": args.offset if el2n else None,
    }


def make_rows(args, dataset, epochs, base, jobs, runs, machine, repeats=None, chunks=None) -> list[dict]:
    ref, drift = references(runs, repeats or {})
    first = runs[("full", 1.0)]
    curves = reference_curves(ref, first, "test_score_by_epoch")
    val_curves = reference_curves(ref, first, "score_by_epoch")
    ref_seeds = sorted(ref)
    rows = []
    for job in jobs:
        method, keep = job
        per = ref if job == ("full", 1.0) else runs[job]
        seeds = sorted(per)
        row = {"dataset": dataset, "method": method, **method_settings(args, method, keep), "epochs": epochs,
               "seeds": seeds, "metric": per[seeds[0]]["metric"], **score_fields(per, ref, seeds),
               **time_fields(method, per, ref, seeds)}
        if method == "full":  # the reference sits on its own curve's last point
            row.update(equal_cost_epochs_delta=0.0, equal_cost_epochs_delta_std=0.0, equal_cost_epochs=float(epochs),
                       val_equal_cost_epochs_delta=0.0,
                       epochs_curve=mean_curve([curves[str(s)] for s in ref_seeds if str(s) in curves],
                                               [ref[s]["total_time_s"] for s in ref_seeds if str(s) in curves],
                                               [reported_score(ref[s]) for s in ref_seeds if str(s) in curves]))
        else:
            row.update(equal_cost_fields(per, seeds, curves, val_curves))
        row.update({
            "metrics_split": "validation",  # intent_accuracy, slot_f1, exact_match below: validation
            "num_train_examples": per[seeds[0]].get("num_train_examples"),
            "model": "tiny" if args.quick else args.model,
            "layers": None if args.quick else args.layers,
            "quick": args.quick,
            "gpu": args.gpu,
            "parallel": args.parallel,
            # The data folder is this machine's: record it as a placeholder.
            "overrides": [o.replace(str(args.data_root), "<data-root>") for o in base],
            "command": command_line(),
            "machine": machine,
            "per_seed": {str(s): runs[job][s] for s in seeds},
            # Second full-data run / first one (total_time_s): how much the machine drifted during the
            # invocation (1.0 = steady). Only with --bracket.
            "reference_drift": drift or None,
            # When and by which command each seed ran (its chunk: every run of a seed in one invocation).
            "seed_runs": {str(s): {"command": c.command, "started_at": c.started_at, "finished_at": c.finished_at,
                                   "load_avg_1m_at_start": c.machine.get("load_avg_1m_at_start")}
                          for s, c in sorted((chunks or {}).items())},
        })
        for name in JOINT_METRICS:
            vals = [per[s]["metrics"].get(name) for s in seeds if name in per[s]["metrics"]]
            if vals:
                row[name], row[name + "_std"] = mean_std(vals)
        rows.append(row)
    return rows


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="atis,snips,sst2", help="comma list of atis, snips, sst2, synthetic")
    ap.add_argument("--seeds", default=None,
                    help=f"comma list of train seeds (default {DEFAULT_SEEDS}; --quick: {QUICK_SEEDS})")
    ap.add_argument("--epochs", type=int, default=None,
                    help=f"epoch budget E (CPU default {CPU_EPOCHS}; 40 joint / 10 GLUE with --gpu)")
    ap.add_argument("--layers", type=int, default=None,
                    help="keep the first N encoder layers (default 2 on CPU, all with --gpu)")
    ap.add_argument("--max-train", type=int, default=None,
                    help=f"a label-stratified sample of N training examples of every dataset "
                         f"(CPU default {CPU_MAX_TRAIN}, else all)")
    ap.add_argument("--keep", default=None,
                    help=f"keep fractions f (default {DEFAULT_KEEP}; --quick: {QUICK_KEEP})")
    ap.add_argument("--prune-ratio", default="0.5",
                    help="soft pruning's r, comma list: one soft run per value (default 0.5; empty: no soft run)")
    ap.add_argument("--warmup", type=int, default=1, help="tau, warmup epochs (default 1)")
    ap.add_argument("--period", type=int, default=1, help="T, pruning period in epochs (default 1)")
    ap.add_argument("--model", default="minilm", help="model.name (default minilm)")
    ap.add_argument("--lr", type=float, default=None,
                    help=f"default for minilm {MINILM_LR} (others 3e-4), 2e-5 otherwise")
    ap.add_argument("--reuse-train-scores", action="store_true",
                    help="dynamic-el2n and static-el2n: pruning.reuse_train_scores=true (default off, as the "
                         f"paper; {BEST_METHOD} always reuses them)")
    ap.add_argument("--explore", type=float, default=0.3,
                    help=f"{BEST_METHOD}: pruning.explore, the epsilon-greedy share of the kept budget "
                         "(default 0.3)")
    ap.add_argument("--offset", type=float, default=0.0,
                    help="EL2N methods: pruning.offset, the top share of hardest examples skipped (default 0)")
    ap.add_argument("--workers", type=int, default=1, help="Ray Train workers per run (default 1)")
    ap.add_argument("--cpus-per-worker", type=float, default=None,
                    help="CPUs (torch threads) per Ray Train worker (default: the machine's cores shared out "
                         "among the workers of one run, 1 when --parallel runs several at once)")
    ap.add_argument("--parallel", type=int, default=None,
                    help="runs at once (default 1; --quick: 4). Above 1 the time ratios are NOT "
                         "measurements (runs share the cores); use it only for smoke tests")
    ap.add_argument("--bracket", action=argparse.BooleanOptionalAction, default=None,
                    help="run the reference first AND last for each seed and divide by the mean of the two, "
                         "so that load drift on a shared machine cancels to first order (default on; off with "
                         "--quick)")
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    ap.add_argument("--quick", action="store_true",
                    help="CI smoke: synthetic data, tiny model, 3 epochs, 1 seed and keep 0.5, 0.2 unless "
                         "--seeds / --keep say otherwise (a few minutes on 2 cores)")
    ap.add_argument("--gpu", action="store_true", help="paper scale on a GPU (see above)")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default benchmarks/results; benchmarks/results/quick with --quick)")
    ap.add_argument("--resume", action="store_true",
                    help="reuse the seeds that an earlier invocation with the same settings finished "
                         "(<out>/seeds/<dataset>-seed<k>.json) and run only the others; a seed is kept only "
                         "once all its runs finished, so an interrupted seed runs again whole")
    ap.add_argument("--no-report", action="store_true", help="do not redraw the plot nor regenerate RESULTS.md")
    ap.add_argument("--verbose", action="store_true", help="show the Ray workers' logs")
    args = ap.parse_args(argv)
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    # Quick mode stays small (a smoke test): two keep fractions and one seed unless asked for more.
    seeds = args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else DEFAULT_SEEDS)
    keep = args.keep if args.keep is not None else (QUICK_KEEP if args.quick else DEFAULT_KEEP)
    args.seeds = [int(s) for s in str(seeds).split(",") if s.strip()]
    args.keep = [float(k) for k in keep.split(",") if k.strip()]
    args.prune_ratio = [float(r) for r in args.prune_ratio.split(",") if r.strip()]
    if args.quick:
        args.datasets = ["synthetic"]
        if args.parallel is None:
            args.parallel = 4
    if args.parallel is None:
        args.parallel = 1
    if args.cpus_per_worker is None:  # one run at a time uses the whole machine (2 threads: 0.73 of 1's time)
        args.cpus_per_worker = 1.0 if args.parallel > 1 else float(max(1, (os.cpu_count() or 1) // args.workers))
    if args.bracket is None:
        args.bracket = not args.quick
    if args.gpu and args.layers is not None and args.layers < 1:
        args.layers = None
    if not args.gpu and not args.quick and args.layers is None:
        args.layers = 2
    for d in args.datasets:
        if d not in ALL_DATASETS:
            ap.error(f"unknown dataset {d!r} (known: {', '.join(ALL_DATASETS)})")
    if args.out is None:
        args.out = RESULTS / "quick" if args.quick else RESULTS
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    machine = machine_info()

    # Each run's worker reserves cpus_per_worker logical CPUs: with several runs at once, declare enough.
    need = int(args.parallel * args.workers * args.cpus_per_worker + 0.999)
    start_ray(num_cpus=max(os.cpu_count() or 1, need) if args.parallel > 1 else None, verbose=args.verbose)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for dataset in args.datasets:
        t = time.perf_counter()
        rows = run_dataset(args, dataset, machine)
        for row in rows:
            row["dataset_elapsed_s"] = time.perf_counter() - t
        path = args.out / f"{dataset}.json"
        path.write_text(json.dumps(rows, indent=2))
        print_rows(rows)
        print(f"wrote {path}", flush=True)
    print(f"elapsed {time.perf_counter() - t0:.0f}s")
    if not args.no_report:
        import write_results

        write_results.plot(args.out, args.out / "tradeoff.png")
        if args.out.resolve() == RESULTS.resolve():
            write_results.write_markdown(RESULTS, RESULTS.parent / "RESULTS.md")
            write_results.update_readme(RESULTS)
    return 0


def print_rows(rows: list[dict]) -> None:
    ds = rows[0]["dataset"]
    print(f"\n{ds}: test {rows[0]['metric']}, E={rows[0]['epochs']}, seeds {rows[0]['seeds']}")
    print(f"{'method':<18} {'keep':>5} {'test':>7} {'+-':>5} {'delta':>6} {'val d':>6} {'eq-cost':>7} "
          f"{'saving':>7} {'realised':>8} {'ideal':>6} {'scoring':>7} {'wall_s':>7}")
    for r in rows:
        setting = f"r={r['prune_ratio']:g}" if r["method"] == SOFT_METHOD else f"{r['keep_fraction']:.2f}"
        eq = r.get("equal_cost_epochs_delta")
        print(f"{r['method']:<18} {setting:>5} {r['score']:>7.2f} {r['score_std']:>5.2f} "
              f"{r['score_delta']:>+6.2f} {r['val_score_delta']:>+6.2f} {'-' if eq is None else format(eq, '+.2f'):>7} "
              f"{r['time_saving']:>7.1%} {r['realised_fraction']:>8.3f} "
              f"{r['ideal_fraction']:>6.3f} {r['scoring_share']:>7.1%} {r['wall_time_s']:>7.1f}")


if __name__ == "__main__":
    sys.exit(main())
