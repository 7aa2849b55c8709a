#!/usr/bin/env python
"""The fixed cost of one Ray Train run, at Ray's controller poll interval and at ours.

A study's trials and the test suite's runs are short, so what a run costs before and after
its training loop matters. Ray Train's controller moves a run on (workers up, training,
done) when it polls its workers: every ``RAY_TRAIN_HEALTH_CHECK_INTERVAL_S`` seconds, 2 by
default; raypruning sets 0.5 unless the user set it (``raypruning.run.ray_train_timing``).

Each variant runs in a fresh process with its own local Ray instance (the interval is read
when Ray starts), ``--fits`` tiny runs one after the other (synthetic task, tiny model, one
epoch), timed around ``run_training`` as a caller sees it. The variants alternate
(``--repeats`` rounds, the order flipped every other round); the result is the median
per-run time of each and their ratio.

    python benchmarks/train_startup.py                 # about 4 minutes on 2 cores
    python benchmarks/train_startup.py --repeats 1 --fits 2 --json

Writes benchmarks/results/train_startup.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, command_line, machine_info, median  # noqa: E402

POLL_ENV = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"
RAY_DEFAULT_POLL_S = "2.0"
TINY_RUN = ["data.synthetic.num_train=64", "data.synthetic.num_eval=16", "train.epochs=1", "train.max_length=24",
            "model.name=tiny", "pruning.mode=full"]


def child(fits: int) -> None:
    """Start Ray as raypruning does, run `fits` tiny runs, print their times as JSON."""
    from common import run_one, start_ray

    start_ray(num_cpus=2)
    times = []
    for _ in range(fits):
        start = time.perf_counter()
        run_one(TINY_RUN)
        times.append(time.perf_counter() - start)
    print("FITS " + json.dumps(times), flush=True)


def run_variant(poll_s: str | None, fits: int) -> list[float]:
    env = dict(os.environ)
    env.pop(POLL_ENV, None)
    if poll_s is not None:
        env[POLL_ENV] = poll_s
    done = subprocess.run([sys.executable, __file__, "--child", "--fits", str(fits)], env=env,
                          capture_output=True, text=True, timeout=1200, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("FITS ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the {poll_s or 'raypruning'} variant failed ({done.returncode}):\n"
                         f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return json.loads(lines[-1][len("FITS "):])


def main(argv: list[str] | None = None) -> dict | None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=2, help="rounds of the two variants (default 2)")
    ap.add_argument("--fits", type=int, default=3, help="tiny runs per variant process (default 3)")
    ap.add_argument("--json", action="store_true", help="also print the result as JSON")
    ap.add_argument("--out", type=Path, default=RESULTS / "train_startup.json")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.fits)
        return None
    from raypruning.run import TRAIN_POLL_INTERVAL_S

    variants = {"ray_default": RAY_DEFAULT_POLL_S, "raypruning": TRAIN_POLL_INTERVAL_S}
    times: dict[str, list[float]] = {name: [] for name in variants}
    started = time.time()
    for round_ in range(args.repeats):
        order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
        for name in order:
            fits = run_variant(variants[name], args.fits)
            times[name].extend(fits)
            print(f"[startup] round {round_ + 1}/{args.repeats} {name} (poll {variants[name]} s): "
                  + ", ".join(f"{t:.1f}" for t in fits) + " s per run", flush=True)
    medians = {name: median(values) for name, values in times.items()}
    result = {
        "command": command_line(),
        "machine": machine_info(),
        "elapsed_s": round(time.time() - started, 1),
        "poll_interval_s": variants,
        "run_overrides": TINY_RUN,
        "run_times_s": times,
        "median_run_time_s": medians,
        "ratio_raypruning_to_ray_default": medians["raypruning"] / medians["ray_default"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"[startup] median per run: Ray's poll {medians['ray_default']:.1f} s, ours "
          f"{medians['raypruning']:.1f} s (ratio {result['ratio_raypruning_to_ray_default']:.3f}); "
          f"wrote {args.out}")
    if args.json:
        print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
