#!/usr/bin/env python
"""What a Ray Train worker's CPU count buys: full-data ATIS epochs at 1 CPU against all the cores.

A CPU run with one worker trains with as many torch threads as the worker reserves CPUs
(Ray sets OMP_NUM_THREADS from them). tradeoff.py runs one run at a time, so it may give
that one worker the whole machine; this measures how much faster that trains.

One process, one local Ray instance; full-data runs at tradeoff.py's ATIS settings
(MiniLM truncated to 2 layers, lr 3e-4, batch 32, max length 64) for --epochs epochs, one
per CPU count in each round, the order flipped every other round. Reports each run's
training time and, per round, each count's time as a fraction of the first count's.

    python benchmarks/worker_threads.py                    # about 9 minutes on 2 cores
    python benchmarks/worker_threads.py --cpus 1,2,4 --rounds 3

Writes benchmarks/results/worker_threads.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_DATA_ROOT, RESULTS, command_line, machine_info, median, run_one, start_ray  # noqa: E402


def overrides(data_root: Path, cpus: int, epochs: int, seed: int) -> list[str]:
    """tradeoff.py's full-data ATIS run on CPU, with the worker's CPU count set."""
    import tradeoff

    args = tradeoff.parse_args(["--datasets", "atis", "--seeds", str(seed), "--epochs", str(epochs),
                                "--cpus-per-worker", str(cpus), "--data-root", str(data_root)])
    return tradeoff.base_overrides(args, "atis") + [f"train.seed={seed}", "pruning.mode=full"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpus", default=f"1,{os.cpu_count() or 1}", help="comma list of CPUs per worker; the first "
                    "is the baseline (default 1 and this machine's cores)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    ap.add_argument("--out", type=Path, default=RESULTS / "worker_threads.json")
    args = ap.parse_args(argv)
    try:
        counts = [int(c) for c in args.cpus.split(",") if c.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        print(f"error: --cpus {args.cpus!r}: expected a comma list of whole CPU counts, such as 1,2", file=sys.stderr)
        return 2
    if max(counts) > (os.cpu_count() or 1):
        print(f"error: --cpus {args.cpus}: this machine has {os.cpu_count()} cores", file=sys.stderr)
        return 2
    if not (args.data_root / "atis").is_dir():
        print(f"error: {args.data_root / 'atis'}: no such folder (--data-root)", file=sys.stderr)
        return 2
    start_ray(num_cpus=None)
    runs = {c: [] for c in counts}
    for r in range(args.rounds):
        for c in (counts if r % 2 == 0 else counts[::-1]):
            s = run_one(overrides(args.data_root, c, args.epochs, args.seed))
            runs[c].append({"round": r, "train_time_s": s["train_time_s"], "wall_time_s": s["wall_time_s"],
                            "score": s["score"]})
            print(f"[round {r}] {c} CPU(s): train {s['train_time_s']:.1f} s, score {s['score']:.2f}", flush=True)
    base = counts[0]
    fraction = {c: [runs[c][r]["train_time_s"] / runs[base][r]["train_time_s"] for r in range(args.rounds)]
                for c in counts}
    record = {"cpus": counts, "epochs": args.epochs, "rounds": args.rounds, "seed": args.seed, "runs": runs,
              "fraction_of_first": fraction, "median_fraction_of_first": {c: median(f) for c, f in fraction.items()},
              "command": command_line(), "machine": machine_info()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    for c in counts:
        print(f"{c} CPU(s): {median(fraction[c]):.3f} of {base} CPU(s)'s training time (median of {args.rounds})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
