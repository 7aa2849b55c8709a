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
    python benchmarks/reselection_dip.py --summary              # the summary of the recorded file again
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from common import RESULTS, command_line, machine_info, run_one, slim, start_ray

import tradeoff
from seed_chunks import chunk_path, job_key

REFERENCE = job_key("full", 1.0)


def recorded_runs(dataset: str, seed: int) -> dict[str, dict]:
    """The runs of the record's seed chunk, by `method@keep`."""
    return json.loads(chunk_path(RESULTS, dataset, seed).read_text())["runs"]


def print_summary(result: dict) -> None:
    """Per method, the mean validation delta at epochs E-1 and E and the test delta, against each seed's
    recorded full-data run, for the re-run and for the recorded runs of the same seeds."""
    rows, tau = result["runs"], result["recorded_warmup_epochs"]
    print("delta against the recorded full-data run (mean over seeds)")
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        recorded = [recorded_runs(result["dataset"], r["seed"]) for r in mine]
        ref = [runs[REFERENCE] for runs in recorded]
        rec = [runs[job_key(method, r["keep_fraction"])] for r, runs in zip(mine, recorded)]
        for label, runs in ((f"tau={mine[0]['warmup_epochs']}", mine), (f"tau={tau} (recorded)", rec)):
            def mean_delta(value):
                return statistics.mean(value(run) - value(full) for run, full in zip(runs, ref))

            before, last = (mean_delta(lambda r, i=i: r["score_by_epoch"][i]) for i in (-2, -1))
            print(f"  {method:<18} {label:<17} validation epoch E-1 {before:+6.2f}  epoch E {last:+6.2f}"
                  f"  test {mean_delta(lambda r: r['test_score']):+6.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="atis", choices=tradeoff.JOINT_DATASETS + ("sst2",))
    ap.add_argument("--keep", type=float, default=0.2)
    ap.add_argument("--warmup", type=int, default=2, help="tau of the re-run (the record's is tradeoff's default)")
    ap.add_argument("--methods", default="dynamic-el2n", help="comma list of dynamic-el2n, dynamic-el2n-best")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", type=Path, default=RESULTS / "reselection_dip.json")
    ap.add_argument("--summary", action="store_true", help="print the summary of an existing --out file; no runs")
    args = ap.parse_args(argv)
    if args.summary:
        print_summary(json.loads(args.out.read_text()))
        return 0
    seeds = [int(s) for s in args.seeds.split(",")]
    # The record's settings, from its own parser: the same data, model, budget and period.
    rec = tradeoff.parse_args(["--datasets", args.dataset, "--period", "2", "--seeds", args.seeds])
    base = tradeoff.base_overrides(rec, args.dataset)
    start_ray(num_cpus=None, verbose=False)
    rows = []
    for method in args.methods.split(","):
        for seed in seeds:
            s = slim(run_one(base + [f"train.seed={seed}"] + tradeoff.method_overrides(
                method, args.keep, args.warmup, rec.period, tradeoff.el2n_options(rec), rec.explore)))
            recorded = recorded_runs(args.dataset, seed)
            rows.append({"method": method, "keep_fraction": args.keep, "seed": seed, "warmup_epochs": args.warmup,
                         "score_by_epoch": s["score_by_epoch"], "test_score": s["test_score"],
                         "recorded_score_by_epoch": recorded[job_key(method, args.keep)]["score_by_epoch"],
                         "reference_score": recorded[REFERENCE]["score_by_epoch"][-1]})
            print(f"[{method} seed {seed}] tau={args.warmup}: last epochs "
                  f"{[round(x, 1) for x in s['score_by_epoch'][-3:]]}, recorded tau={rec.warmup} "
                  f"{[round(x, 1) for x in rows[-1]['recorded_score_by_epoch'][-3:]]}, "
                  f"reference {rows[-1]['reference_score']:.1f}", flush=True)
    result = {"command": command_line(), "dataset": args.dataset, "recorded_warmup_epochs": rec.warmup,
              "base": [o.replace(str(rec.data_root), "<data-root>") for o in base], "machine": machine_info(),
              "runs": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_summary(result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
