#!/usr/bin/env python
"""Time-accuracy trade-off of dynamic EL2N pruning against its baselines (issue 6).

For each dataset, in ONE invocation and interleaved (the method order rotates
with the seed), runs:

- full            full-data finetuning, the reference (pruning.mode=full)
- dynamic-el2n    re-scores every T epochs after tau warmup epochs (the paper's method)
- static-el2n     scores once after the warmup and keeps that subset (pruning.mode=static)
- dynamic-random  re-draws a random subset every T epochs (pruning.score=random)
- dynamic-el2n-explore  (only with --explore E > 0) dynamic EL2N whose kept budget
                  spends the share E on random other examples (epsilon-greedy,
                  Raju et al. 2021); the other EL2N methods keep explore = 0
- soft            InfoBatch (pruning.mode=soft, score loss): every epoch skips a
                  random share r of the examples whose last training loss is below
                  the mean and rescales the rest; no keep fraction, no tau, T; run
                  once per prune ratio r (--prune-ratio, default 0.5), its row has
                  keep_fraction null and prune_ratio r

at keep fractions 0.5 and 0.2 (--keep), and writes <out>/<dataset>.json: a
list of rows, one per (method, keep fraction), with the score (mean and spread
over seeds), the score delta and time saving against the reference, the
realised time fraction next to the ideal (tau + f(E - tau))/E, the scoring
share, wall times, the command and the machine. Time saving uses the paper's
accounting (total_time_s = training steps + scoring passes), computed per
seed against the same seed's reference run and then averaged.

Datasets (data in <repo>/../shared/data, or --data-root):
- atis, snips: JointBERT layout, joint intent + slot EL2N (norm), evaluated on
  the test split; primary metric exact match, with intent accuracy and slot F1.
- sst2: GLUE SST-2, evaluated on dev (872 sentences); metric accuracy.
On CPU, SNIPS and SST-2 train on the first 4000 examples of their training
files (--max-train; SNIPS's file is shuffled, its first 4000 lines hold all 7
intents): their full sets (13k, 67k) are out of reach of a CPU budget. ATIS
trains on all 4478. With --gpu every dataset is used whole.
- synthetic: the built-in synthetic joint task (used by --quick).

CPU defaults: model `minilm` (all-MiniLM-L6-v2) truncated to --layers 2
encoder layers, lr 3e-4 constant, batch 32, max length 64, 1 Ray Train worker,
E = 10 epochs for ATIS and SNIPS and 6 for SST-2: chosen so that the
full-data reference has converged by its last epoch, as in the paper (the
rows keep each run's score by epoch; lr 1e-4 with 6 epochs had left ATIS far
from converged, see RESULTS.md). --gpu switches to the paper's scale: all
layers, 40 epochs for joint NLU and 10 for GLUE (max length 256 for GLUE),
scaling.use_gpu=true; pass --model roberta-base (lr 2e-5) where that model is
available.

Examples:
    python benchmarks/tradeoff.py --quick                                   # CI smoke, < 3 min
    python benchmarks/tradeoff.py --datasets atis --seeds 0 --epochs 4 --max-train 2000   # a shorter look
    python benchmarks/tradeoff.py --datasets atis,snips,sst2 --period 2 --reuse-train-scores --explore 0.3
    python benchmarks/tradeoff.py --datasets atis,snips,sst2 --seeds 0,1,2 --gpu --model roberta-base

After the runs it redraws <out>/tradeoff.png and, when writing to
benchmarks/results, regenerates benchmarks/RESULTS.md (write_results.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (DEFAULT_DATA_ROOT, RESULTS, command_line, machine_info, mean_std,  # noqa: E402
                    run_one, slim, start_ray)

JOINT_DATASETS = ("atis", "snips")
ALL_DATASETS = ("atis", "snips", "sst2", "synthetic")
METHODS = ("full", "dynamic-el2n", "static-el2n", "dynamic-random")
EXPLORE_METHOD = "dynamic-el2n-explore"  # run on top of METHODS when --explore > 0
SOFT_METHOD = "soft"  # one run per prune ratio; its job's second value is r, not a keep fraction
JOINT_METRICS = ("intent_accuracy", "slot_f1", "exact_match")
CPU_MAX_TRAIN = {"snips": 4000, "sst2": 4000}  # training subsets on CPU (see above)
CPU_EPOCHS = {"atis": 10, "snips": 10, "sst2": 6}
REPEAT = ("full-repeat", 1.0)  # the second, bracketing reference run


def data_overrides(dataset: str, data_root: Path, max_train: int | None, quick: bool, gpu: bool) -> list[str]:
    if max_train is None and not gpu:
        max_train = CPU_MAX_TRAIN.get(dataset)
    if dataset in JOINT_DATASETS:
        ov = ["data.format=jointbert", f"data.path={data_root / dataset}", "data.eval_split=test"]
    elif dataset == "sst2":
        ov = ["data.format=glue", f"data.path={data_root / 'glue' / 'SST-2'}", "data.eval_split=validation"]
    elif dataset == "synthetic":
        n = 400 if quick else 2000
        ov = ["data.format=synthetic", "data.synthetic.task=joint", f"data.synthetic.num_train={n}",
              f"data.synthetic.num_eval={100 if quick else 300}"]
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
    lr = args.lr if args.lr is not None else (3e-4 if args.model in ("minilm", "tiny") else 2e-5)
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


def method_overrides(method: str, keep: float, tau: int, period: int, el2n: tuple[str, ...] = (),
                     explore: float = 0.0) -> list[str]:
    """The pruning keys of one method; `el2n` holds the EL2N selection options (reuse, offset)."""
    if method == "full":
        return ["pruning.mode=full"]
    if method == SOFT_METHOD:  # `keep` is the prune ratio r here
        return ["pruning.mode=soft", "pruning.score=loss", f"pruning.prune_ratio={keep}"]
    common = [f"pruning.keep_fraction={keep}", f"pruning.warmup_epochs={tau}", f"pruning.period_epochs={period}"]
    if method == "dynamic-el2n":
        return ["pruning.mode=dynamic", "pruning.score=el2n"] + common + list(el2n)
    if method == EXPLORE_METHOD:
        return ["pruning.mode=dynamic", "pruning.score=el2n", f"pruning.explore={explore}"] + common + list(el2n)
    if method == "static-el2n":
        return ["pruning.mode=static", "pruning.score=el2n"] + common + list(el2n)
    if method == "dynamic-random":
        return ["pruning.mode=dynamic", "pruning.score=random"] + common
    raise ValueError(method)


def plan(args) -> list[tuple[str, float]]:
    """(method, keep) pairs; the reference first in the canonical order."""
    out = [("full", 1.0)]
    methods = METHODS[1:] + ((EXPLORE_METHOD,) if args.explore > 0 else ())
    for keep in args.keep:
        for method in methods:
            out.append((method, keep))
    out += [(SOFT_METHOD, r) for r in args.prune_ratio]
    return out


def run_dataset(args, dataset: str, machine: dict) -> list[dict]:
    epochs = epochs_for(args, dataset)
    base = (data_overrides(dataset, args.data_root, args.max_train, args.quick, args.gpu)
            + model_overrides(args, dataset)
            + [f"train.epochs={epochs}", "train.batch_size=32",
               f"scaling.num_workers={args.workers}", f"scaling.cpus_per_worker={args.cpus_per_worker}",
               f"scaling.use_gpu={'true' if args.gpu else 'false'}"])
    jobs = plan(args)
    runs: dict[tuple[str, float], dict[int, dict]] = {job: {} for job in jobs}
    schedule = []
    for i, seed in enumerate(args.seeds):
        if args.bracket:
            # The reference runs first and last; the pruned runs in between rotate per seed.
            others = jobs[1:]
            shift = i % len(others)
            order = [jobs[0]] + others[shift:] + others[:shift] + [REPEAT]
        else:
            shift = i % len(jobs)  # rotate the order per seed: no method always runs first or last
            order = jobs[shift:] + jobs[:shift]
        for job in order:
            schedule.append((seed, job))
    repeats: dict[int, dict] = {}

    def store(seed, job, s):
        if job == REPEAT:
            repeats[seed] = slim(s)
        else:
            runs[job][seed] = slim(s)

    def overrides_of(seed, job):
        method, keep = ("full", 1.0) if job == REPEAT else job
        return base + [f"train.seed={seed}"] + method_overrides(method, keep, args.warmup, args.period,
                                                                el2n_options(args), args.explore)

    def log(seed, job, s):
        if job == REPEAT:
            job = ("full (repeat)", 1.0)
        print(f"[{dataset} seed {seed}] {job[0]:<14} keep {job[1]:.2f}: {s['metric']} {s['score']:.2f}  "
              f"total {s['total_time_s']:.1f}s (scoring {s['scoring_time_s']:.1f}s)  "
              f"wall {s['wall_time_s']:.1f}s  driver {s['driver_time_s']:.1f}s", flush=True)

    if args.parallel <= 1:
        for seed, job in schedule:
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
                pending[remote.remote(overrides_of(seed, job))] = (seed, job)
            done, _ = ray.wait(list(pending), num_returns=1)
            seed, job = pending.pop(done[0])
            s = ray.get(done[0])
            log(seed, job, s)
            store(seed, job, s)
    return make_rows(args, dataset, epochs, base, jobs, runs, machine, repeats)


def el2n_options(args) -> tuple[str, ...]:
    return (f"pruning.reuse_train_scores={'true' if args.reuse_train_scores else 'false'}",
            f"pruning.offset={args.offset}")


def _remote_run(overrides):
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import run_one as _run_one

    return _run_one(overrides)


def make_rows(args, dataset, epochs, base, jobs, runs, machine, repeats=None) -> list[dict]:
    repeats = repeats or {}
    first = runs[("full", 1.0)]
    # Reference time per seed: the mean of the bracketing full runs (first and last) when there are two.
    ref = {seed: dict(r, total_time_s=(r["total_time_s"] + repeats[seed]["total_time_s"]) / 2,
                      wall_time_s=(r["wall_time_s"] + repeats[seed]["wall_time_s"]) / 2)
           if seed in repeats else r for seed, r in first.items()}
    drift = {str(seed): repeats[seed]["total_time_s"] / first[seed]["total_time_s"] for seed in repeats}
    ref_score, _ = mean_std([r["score"] for r in ref.values()])
    rows = []
    for job in jobs:
        method, keep = job
        soft = method == SOFT_METHOD
        per = ref if job == ("full", 1.0) else runs[job]
        seeds = sorted(per)
        score, score_std = mean_std([per[s]["score"] for s in seeds])
        fractions = [per[s]["total_time_s"] / ref[s]["total_time_s"] for s in seeds]
        realised, realised_std = mean_std(fractions)
        wall_fr, _ = mean_std([per[s]["wall_time_s"] / ref[s]["wall_time_s"] for s in seeds])
        shares, _ = mean_std([per[s]["scoring_time_s"] / per[s]["total_time_s"] for s in seeds])
        deltas = [per[s]["score"] - ref[s]["score"] for s in seeds]
        _, delta_std = mean_std(deltas)
        row = {
            "dataset": dataset,
            "method": method,
            "keep_fraction": None if soft else keep,
            "prune_ratio": keep if soft else None,
            "warmup_epochs": 0 if method == "full" or soft else args.warmup,
            "period_epochs": 0 if method == "full" or soft else args.period,
            # EL2N selection options (the random baseline ignores them)
            "reuse_train_scores": args.reuse_train_scores if "el2n" in method else None,
            "explore": (args.explore if method == EXPLORE_METHOD else 0.0) if "el2n" in method else None,
            "offset": args.offset if "el2n" in method else None,
            "epochs": epochs,
            "seeds": seeds,
            "metric": per[seeds[0]]["metric"],
            "score": score,
            "score_std": score_std,
            "score_delta": score - ref_score,
            "score_delta_std": delta_std,
            "time_saving": 0.0 if method == "full" else 1.0 - realised,
            "time_saving_std": 0.0 if method == "full" else realised_std,
            "realised_fraction": 1.0 if method == "full" else realised,
            "ideal_fraction": mean_std([per[s]["ideal_fraction"] for s in seeds])[0],
            "examples_fraction": mean_std([per[s]["examples_trained"] / per[s]["full_data_examples"]
                                           for s in seeds])[0],
            "scoring_share": shares,
            "total_time_s": mean_std([per[s]["total_time_s"] for s in seeds])[0],
            "train_time_s": mean_std([per[s]["train_time_s"] for s in seeds])[0],
            "scoring_time_s": mean_std([per[s]["scoring_time_s"] for s in seeds])[0],
            "wall_time_s": mean_std([per[s]["wall_time_s"] for s in seeds])[0],
            "wall_fraction": 1.0 if method == "full" else wall_fr,
            "driver_time_s": mean_std([per[s]["driver_time_s"] for s in seeds])[0],
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
        }
        for name in JOINT_METRICS:
            vals = [per[s]["metrics"].get(name) for s in seeds if name in per[s]["metrics"]]
            if vals:
                row[name], row[name + "_std"] = mean_std(vals)
        rows.append(row)
    return rows


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="atis,snips,sst2", help="comma list of atis, snips, sst2, synthetic")
    ap.add_argument("--seeds", default="0", help="comma list of train seeds (default 0)")
    ap.add_argument("--epochs", type=int, default=None,
                    help=f"epoch budget E (CPU default {CPU_EPOCHS}; 40 joint / 10 GLUE with --gpu)")
    ap.add_argument("--layers", type=int, default=None,
                    help="keep the first N encoder layers (default 2 on CPU, all with --gpu)")
    ap.add_argument("--max-train", type=int, default=None,
                    help=f"first N training examples of every dataset (CPU default {CPU_MAX_TRAIN}, else all)")
    ap.add_argument("--keep", default="0.5,0.2", help="keep fractions f (default 0.5,0.2)")
    ap.add_argument("--prune-ratio", default="0.5",
                    help="soft pruning's r, comma list: one soft run per value (default 0.5; empty: no soft run)")
    ap.add_argument("--warmup", type=int, default=1, help="tau, warmup epochs (default 1)")
    ap.add_argument("--period", type=int, default=1, help="T, pruning period in epochs (default 1)")
    ap.add_argument("--model", default="minilm", help="model.name (default minilm)")
    ap.add_argument("--lr", type=float, default=None, help="default 3e-4 for minilm, 2e-5 otherwise")
    ap.add_argument("--reuse-train-scores", action="store_true",
                    help="EL2N methods: pruning.reuse_train_scores=true (scores of trained examples from the "
                         "training pass; only the others are re-scored)")
    ap.add_argument("--explore", type=float, default=0.0,
                    help=f"above 0: also run {EXPLORE_METHOD}, dynamic EL2N with this pruning.explore "
                         "(the epsilon-greedy share of the kept budget; default 0: not run)")
    ap.add_argument("--offset", type=float, default=0.0,
                    help="EL2N methods: pruning.offset, the top share of hardest examples skipped (default 0)")
    ap.add_argument("--workers", type=int, default=1, help="Ray Train workers per run (default 1)")
    ap.add_argument("--cpus-per-worker", type=float, default=1.0)
    ap.add_argument("--parallel", type=int, default=None,
                    help="runs at once (default 1; --quick: 4). Above 1 the time ratios are NOT "
                         "measurements (runs share the cores); use it only for smoke tests")
    ap.add_argument("--bracket", action=argparse.BooleanOptionalAction, default=None,
                    help="run the reference first AND last for each seed and divide by the mean of the two, "
                         "so that load drift on a shared machine cancels to first order (default on; off with "
                         "--quick)")
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    ap.add_argument("--quick", action="store_true",
                    help="CI smoke: synthetic data, tiny model, 1 seed, 3 epochs (< 3 minutes on 2 cores)")
    ap.add_argument("--gpu", action="store_true", help="paper scale on a GPU (see above)")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default benchmarks/results; benchmarks/results/quick with --quick)")
    ap.add_argument("--no-report", action="store_true", help="do not redraw the plot nor regenerate RESULTS.md")
    ap.add_argument("--verbose", action="store_true", help="show the Ray workers' logs")
    args = ap.parse_args(argv)
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    args.seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    args.keep = [float(k) for k in args.keep.split(",") if k.strip()]
    args.prune_ratio = [float(r) for r in args.prune_ratio.split(",") if r.strip()]
    if args.quick:
        args.datasets, args.seeds = ["synthetic"], args.seeds[:1]
        if args.parallel is None:
            args.parallel = 4
    if args.parallel is None:
        args.parallel = 1
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
    import os

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
    return 0


def print_rows(rows: list[dict]) -> None:
    ds = rows[0]["dataset"]
    print(f"\n{ds}: {rows[0]['metric']}, E={rows[0]['epochs']}, seeds {rows[0]['seeds']}")
    print(f"{'method':<15} {'keep':>5} {'score':>7} {'+-':>5} {'delta':>6} {'saving':>7} {'realised':>8} "
          f"{'ideal':>6} {'scoring':>7} {'wall_s':>7}")
    for r in rows:
        setting = f"r={r['prune_ratio']:g}" if r["method"] == SOFT_METHOD else f"{r['keep_fraction']:.2f}"
        print(f"{r['method']:<15} {setting:>5} {r['score']:>7.2f} {r['score_std']:>5.2f} "
              f"{r['score_delta']:>+6.2f} {r['time_saving']:>7.1%} {r['realised_fraction']:>8.3f} "
              f"{r['ideal_fraction']:>6.3f} {r['scoring_share']:>7.1%} {r['wall_time_s']:>7.1f}")


if __name__ == "__main__":
    sys.exit(main())
