"""Does the reported last epoch sit in the dip after a re-selection? (benchmarks/results/NOTES.md)

In the issue 17 record (tau = 1, T = 2, E = 10) the last re-selection is after epoch 9, so the
reported epoch 10 is the first epoch on a freshly chosen subset; at keep 0.2 dynamic EL2N loses
points there that static EL2N and random pruning do not. This re-runs the record's dynamic EL2N
runs with tau = 2 (events after epochs 2, 4, 6 and 8: epochs 9 and 10 share one subset) and puts
their per-epoch validation scores beside the recorded tau = 1 runs of the same seeds.

Scores only: the runs are the record's in every other key (tradeoff.base_overrides and
method_overrides), so their times are not compared and need no quiet machine.

    python benchmarks/reselection_dip.py                       # ATIS, keep 0.2, seeds 0-2
    python benchmarks/reselection_dip.py --methods dynamic-el2n,dynamic-el2n-best
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from common import RESULTS, command_line, machine_info, run_one, slim, start_ray

import tradeoff

SEED_CHUNKS = RESULTS / "seeds"


def recorded_curve(dataset: str, seed: int, key: str) -> list[float]:
    """The per-epoch validation scores of one run of the record's seed chunk."""
    chunk = json.loads((SEED_CHUNKS / f"{dataset}-seed{seed}.json").read_text())
    return chunk["runs"][key]["score_by_epoch"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="atis", choices=tradeoff.JOINT_DATASETS + ("sst2",))
    ap.add_argument("--keep", type=float, default=0.2)
    ap.add_argument("--warmup", type=int, default=2, help="tau of the re-run (the record's is 1)")
    ap.add_argument("--methods", default="dynamic-el2n", help="comma list of dynamic-el2n, dynamic-el2n-best")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", type=Path, default=RESULTS / "reselection_dip.json")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    # The record's settings, from its own parser: the same data, model, budget and period.
    rec = tradeoff.parse_args(["--datasets", args.dataset, "--period", "2", "--seeds", args.seeds])
    base = tradeoff.base_overrides(rec, args.dataset)
    start_ray(num_cpus=None, verbose=False)
    rows = []
    for method in methods:
        for seed in seeds:
            key = f"{method}@{args.keep:g}"
            s = slim(run_one(base + [f"train.seed={seed}"] + tradeoff.method_overrides(
                method, args.keep, args.warmup, rec.period, tradeoff.el2n_options(rec), rec.explore)))
            reference = recorded_curve(args.dataset, seed, "full@1")[-1]
            rows.append({"method": method, "keep_fraction": args.keep, "seed": seed, "warmup_epochs": args.warmup,
                         "score_by_epoch": s["score_by_epoch"], "test_score": s["test_score"],
                         "recorded_score_by_epoch": recorded_curve(args.dataset, seed, key),
                         "reference_score": reference})
            print(f"[{method} seed {seed}] tau={args.warmup}: last epochs "
                  f"{[round(x, 1) for x in s['score_by_epoch'][-3:]]}, recorded tau=1 "
                  f"{[round(x, 1) for x in rows[-1]['recorded_score_by_epoch'][-3:]]}, reference {reference:.1f}",
                  flush=True)
    print("\nvalidation delta against the recorded full-data run (mean over seeds)")
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        for label, curve in ((f"tau={args.warmup}", "score_by_epoch"), ("tau=1 (recorded)", "recorded_score_by_epoch")):
            last = statistics.mean(r[curve][-1] - r["reference_score"] for r in mine)
            before = statistics.mean(r[curve][-2] - r["reference_score"] for r in mine)
            print(f"  {method:<18} {label:<17} epoch E-1 {before:+6.2f}  epoch E {last:+6.2f}")
    args.out.write_text(json.dumps({"command": command_line(), "dataset": args.dataset, "base": [
        o.replace(str(rec.data_root), "<data-root>") for o in base], "machine": machine_info(), "runs": rows},
        indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
