#!/usr/bin/env python
"""What a cheap study costs and what it loses: the same study with warmup sharing and early
stopping on, and with both off.

Runs `raypruning study` twice on the same config, data sample and sampler seed:

- ``cheap``: ``study.share_warmup=true study.early_stop=true`` (margin as configured);
- ``plain``: ``study.share_warmup=false study.early_stop=false``, every trial trained alone.

and reports for each its ``cost_full_runs`` (study.json: training and scoring time spent,
over the reference's) and the hypervolume of its front. The two studies' trials run at
different moments of a shared machine, so seconds are not comparable between them; each
study's times are divided by its own reference's ``total_time_s`` first (a point's time is
then its fraction of a full-data run), and both hypervolumes are measured against one
reference point: the lowest score and the largest time fraction over both studies'
finished settings. ``hypervolume_ratio`` is cheap's over plain's.

    python benchmarks/study_cost.py                      # ATIS, 24 trials, 400 sampled training rows
                                                         # (over an hour on 2 cores)
    python benchmarks/study_cost.py --quick              # the synthetic quickstart, 4 trials

The studies' consoles go to stderr and the result JSON to stdout. A study already finished
in ``--workdir`` is read, not run again, and an interrupted one
is resumed (``--resume``), so an interrupted benchmark picks up where it stopped.
Writes benchmarks/results/study_cost.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_DATA_ROOT, REPO, RESULTS, command_line, machine_info  # noqa: E402

from raypruning import keys as K  # noqa: E402
from raypruning import pareto  # noqa: E402
from raypruning.study.layout import read_meta  # noqa: E402
from raypruning.study.trials import load_trials  # noqa: E402

VARIANTS = {
    "cheap": ["study.share_warmup=true", "study.early_stop=true"],
    "plain": ["study.share_warmup=false", "study.early_stop=false"],
}
# Issue targets: the cheap study at most this many full-data runs, and its front at least
# this share of the plain study's hypervolume.
MAX_COST_FULL_RUNS = 8.0
MIN_HYPERVOLUME_RATIO = 0.98
TIME_FRACTION = "time_fraction"


def study_overrides(args: argparse.Namespace) -> tuple[str, list[str]]:
    """The study config and the overrides both variants share."""
    if args.quick:
        return "studies/quickstart.yaml", [f"search.num_samples={args.num_samples}", f"search.seed={args.sampler_seed}"]
    return "studies/atis.yaml", [f"data.path={args.data_root / 'atis'}", f"data.max_train_examples={args.max_train}",
                                 f"search.num_samples={args.num_samples}", f"search.seed={args.sampler_seed}"]


def run_variant(name: str, config: str, shared: list[str], workdir: Path) -> None:
    """Run (or resume, or just read) one variant's study."""
    folder = workdir / name
    meta = folder / "study.json"
    if meta.is_file() and K.COST_FULL_RUNS in json.loads(meta.read_text()):
        print(f"[study_cost] {name}: finished before, read from {folder}", file=sys.stderr, flush=True)
        return
    cmd = [sys.executable, "-m", "raypruning", "study", config, *shared, *VARIANTS[name],
           f"study.storage_path={workdir}", f"study.name={name}"]
    if folder.exists():
        cmd.append("--resume")
    print(f"[study_cost] {name}: {' '.join(cmd[2:])}", file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=REPO, check=True, stdout=sys.stderr)  # stdout carries only the result


def normalised(settings: pd.DataFrame, objectives: dict[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """A study's settings with time as a fraction of its own reference's, and its objectives
    with that fraction in place of the time column."""
    time_col = pareto.time_column(objectives)
    reference = pareto.reference_values(settings, time_col)
    if reference is None or not reference[1] > 0:
        raise SystemExit("study_cost: a study has no timed reference")
    out = settings.copy()
    out[TIME_FRACTION] = pd.to_numeric(out[time_col], errors="coerce") / reference[1]
    return out, {(TIME_FRACTION if col == time_col else col): d for col, d in objectives.items()}


def compare(cheap: pd.DataFrame, plain: pd.DataFrame, objectives: dict[str, str]) -> dict:
    """Both studies' fronts (finished settings, per_setting rows) on time fractions, their
    hypervolumes against one reference point (the worst score and time fraction of either),
    and cheap's share of plain's."""
    studies = {name: normalised(settings, objectives) for name, settings in (("cheap", cheap), ("plain", plain))}
    fraction_objectives = studies["cheap"][1]
    both = pd.concat([settings for settings, _ in studies.values()], ignore_index=True)
    point = {col: float(both[col].min() if d == "max" else both[col].max()) for col, d in fraction_objectives.items()}
    out = {"hypervolume_reference_point": point}
    for name, (settings, _) in studies.items():
        front = settings[pareto.pareto_mask(settings, fraction_objectives)]
        out[name] = {
            "hypervolume": pareto.hypervolume(settings, fraction_objectives, point),
            "settings": len(settings),
            "front": [{"trial_id": r[K.TRIAL_ID], "method": r.get(K.METHOD), K.SCORE: round(float(r[K.SCORE]), 3),
                       TIME_FRACTION: round(float(r[TIME_FRACTION]), 4)} for _, r in front.iterrows()],
        }
    plain_volume = out["plain"]["hypervolume"]
    out["hypervolume_ratio"] = out["cheap"]["hypervolume"] / plain_volume if plain_volume > 0 else None
    return out


def summarise(workdir: Path) -> dict:
    """Read both finished studies of workdir: their costs (study.json), stopped trials and fronts."""
    tables = {name: load_trials(workdir / name) for name in VARIANTS}
    objectives = read_meta(workdir / "cheap").objectives
    fronts = compare(pareto.per_setting(tables["cheap"]), pareto.per_setting(tables["plain"]), objectives)
    studies = {}
    for name, table in tables.items():
        meta = json.loads((workdir / name / "study.json").read_text())
        stopped = table[table[K.STATUS] == K.STATUS_STOPPED] if K.STATUS in table.columns else table.iloc[0:0]
        reference = pareto.reference_values(table)
        studies[name] = {K.COST_FULL_RUNS: meta.get(K.COST_FULL_RUNS),
                         K.COST_FULL_RUNS_STANDALONE: meta.get(K.COST_FULL_RUNS_STANDALONE),
                         "stopped_trials": int(stopped[K.TRIAL_ID].nunique()),
                         "reference_score": reference[0] if reference else None, **fronts[name]}
    ratio, cost = fronts["hypervolume_ratio"], studies["cheap"][K.COST_FULL_RUNS]
    return {
        "hypervolume_reference_point": fronts["hypervolume_reference_point"],
        "hypervolume_ratio": ratio,
        "goals": {
            f"cheap cost_full_runs <= {MAX_COST_FULL_RUNS:g}": cost is not None and cost <= MAX_COST_FULL_RUNS,
            f"hypervolume ratio >= {MIN_HYPERVOLUME_RATIO:g}": ratio is not None and ratio >= MIN_HYPERVOLUME_RATIO,
        },
        "studies": studies,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the synthetic quickstart study (minutes)")
    ap.add_argument("--num-samples", type=int, default=None, help="sampled trials (24; 4 with --quick)")
    ap.add_argument("--max-train", type=int, default=400,
                    help="stratified ATIS training sample (data.max_train_examples)")
    ap.add_argument("--sampler-seed", type=int, default=0)
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    ap.add_argument("--workdir", type=Path, default=REPO / "raypruning_results" / "study_cost",
                    help="where the two studies are written (and found again when rerun)")
    ap.add_argument("--out", type=Path, default=None, help="result JSON (default results/study_cost.json; "
                                                           "--quick prints only)")
    args = ap.parse_args()
    if args.num_samples is None:
        args.num_samples = 4 if args.quick else 24
    if not args.quick and not (args.data_root / "atis").is_dir():
        print(f"study_cost: no ATIS folder under --data-root {args.data_root}", file=sys.stderr)
        return 2
    config, shared = study_overrides(args)
    args.workdir.mkdir(parents=True, exist_ok=True)
    for name in VARIANTS:
        run_variant(name, config, shared, args.workdir)
    result = {"command": command_line(), "config": config,
              "overrides": [o.replace(str(args.data_root), "<data-root>") for o in shared],
              "variants": VARIANTS, "machine": machine_info(), **summarise(args.workdir)}
    text = json.dumps(result, indent=2, default=str)
    print(text)
    out = args.out or (None if args.quick else RESULTS / "study_cost.json")
    if out is not None:
        out.write_text(text + "\n")
        print(f"[study_cost] wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
