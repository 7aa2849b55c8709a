#!/usr/bin/env python
"""Replay study.early_stop offline on finished studies: what it would have stopped and saved.

A study run with early stopping off keeps every trial's per-epoch reports in
its Tune experiment (``<study>/tune/<trial>/result.json``, one line per report,
each with its config and a timestamp). This script feeds those reports, in
the order the study received them, to the same `StudyEarlyStop` the study's
Tune stopper uses, at each margin of ``--margins``, and reports per study and
margin:

- which trials the rule would have stopped (after which epoch, the gap to the
  reference's curve, the point that dominated its best case);
- the cost it would have saved: each stopped trial's ``cost_s`` at its end less
  its ``cost_s`` at the stop (the study time saved; the same in full-data runs
  of the reference, and as a share of the study's whole ``cost_s``);
- which stopped trials are on the study's recorded front (``pareto`` in
  trials.parquet): the rule's bet lost. There must be none.

The replay keeps the recorded order of the trials: a study that really stopped
trials would have started the next ones sooner, and its sampler would have seen
other results, so later trials could differ. Each decision here is the one the
rule makes on the recorded reports up to that moment.

    python benchmarks/early_stop_replay.py STUDY_FOLDER [STUDY_FOLDER ...] --margins 0.5,1,2,3,5
    python benchmarks/early_stop_replay.py raypruning_results/quickstart --json

Writes benchmarks/results/early_stop_replay.json (or ``--out``); study folders
are recorded by name only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, RESULTS  # noqa: E402

from raypruning import keys as K  # noqa: E402
from raypruning import pareto  # noqa: E402
from raypruning.config import from_dict  # noqa: E402
from raypruning.study.baselines import epoch_baseline  # noqa: E402
from raypruning.study.early_stop import StudyEarlyStop, recorded_reports  # noqa: E402
from raypruning.study.layout import TUNE_DIR, read_meta  # noqa: E402
from raypruning.study.trials import load_trials  # noqa: E402

DEFAULT_MARGINS = (0.5, 1.0, 2.0, 3.0, 5.0)


def replay(folder: Path, margin: float, time_col: str | None = None) -> dict:
    """One study at one margin (module docstring); time_col: the cost the rule bounds (default
    the study's time objective). The recorded front stays the study's own."""
    meta = read_meta(folder)
    cfg = from_dict(meta.config, source=str(folder / "study.json"))
    table = load_trials(folder)
    time_col = time_col or pareto.time_column(meta.objectives)
    state = StudyEarlyStop(meta.reference, meta.config, time_col, margin,
                           epoch_curve=epoch_baseline(cfg) == "curve")
    started, at_stop, last = set(), {}, {}
    for result in recorded_reports(folder / TUNE_DIR):
        trial_id = str(result.get("trial_id"))
        if trial_id not in started:
            started.add(trial_id)
            state.start(trial_id, dict(result.get("config") or {}))
        if result.get(K.EPOCH) or trial_id not in last:
            last[trial_id] = result  # its latest epoch report: for a stopped trial, what it went on to spend
        # A stopped trial's later reports are what the rule saved: the state must not see them.
        if trial_id not in state.stopped and state.observe(trial_id, result):
            at_stop[trial_id] = result
    unit = pd.to_numeric(table[table[K.IS_REFERENCE].astype(bool)][K.TOTAL_TIME]).mean()
    study_cost = float(pd.to_numeric(table[K.COST], errors="coerce").fillna(0).sum())
    front = set(table[table[K.PARETO].astype(bool)][K.TRIAL_ID].astype(str))
    stopped = []
    for trial_id, decision in state.stopped.items():
        stop, end = at_stop[trial_id], last[trial_id]
        row = table[table[K.TRIAL_ID].astype(str) == trial_id]
        final_score = float(row[K.SCORE].iloc[0]) if len(row) else None
        stopped.append({
            K.TRIAL_ID: trial_id, "config": stop.get("config"), "stopped_after_epoch": stop.get(K.EPOCH),
            "score_at_stop": stop.get(K.SCORE), "final_score": final_score, "gap": round(decision.gap, 3),
            "best_cost": decision.best_cost, "best_score": round(decision.best_score, 3),
            "dominated_by": decision.dominated_by and [decision.dominated_by.cost, decision.dominated_by.score],
            "saved_cost_s": float(end.get(K.COST, 0.0) - stop.get(K.COST, 0.0)),
            "on_recorded_front": trial_id in front,
        })
    saved = sum(s["saved_cost_s"] for s in stopped)
    return {
        "margin": margin, "trials": len(started), "stopped": len(stopped),
        "saved_cost_s": round(saved, 3), "saved_full_runs": round(saved / unit, 3) if unit else None,
        "saved_share_of_study_cost": round(saved / study_cost, 4) if study_cost else None,
        "front_trials_stopped": sorted(s[K.TRIAL_ID] for s in stopped if s["on_recorded_front"]),
        "stopped_trials": stopped,
    }


def study_summary(folder: Path, margins: list[float], time_col: str | None = None) -> dict:
    meta = read_meta(folder)
    table = load_trials(folder)
    settings = pareto.per_setting(table)
    front = settings[settings[K.PARETO].astype(bool)]
    return {
        "study": folder.name, "objectives": meta.objectives,
        "epochs": meta.config["train"]["epochs"], "train_seed": meta.config["train"]["seed"],
        "recorded_front": sorted(front[K.TRIAL_ID].astype(str)),
        "cost_full_runs": (meta.cost.cost_full_runs if meta.cost else None),
        "rule_cost": time_col or pareto.time_column(meta.objectives),
        "replays": [replay(folder, m, time_col) for m in margins],
    }


def _command(args: argparse.Namespace) -> str:
    """The command, with study folders by name and the output inside the repository or by name:
    the record says nothing of this machine's folders."""
    out = Path(args.out).resolve()
    shown_out = str(out.relative_to(REPO)) if out.is_relative_to(REPO) else f"<out>/{out.name}"
    parts = ["python benchmarks/early_stop_replay.py", *(f"<studies>/{Path(s).name}" for s in args.studies),
             f"--margins {args.margins}", f"--out {shown_out}"]
    if args.cost:
        parts.append(f"--cost {args.cost}")
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("studies", nargs="+", help="finished study folders (run with study.early_stop=false)")
    parser.add_argument("--margins", default=",".join(f"{m:g}" for m in DEFAULT_MARGINS),
                        help="study.early_stop_margin values to replay, comma-separated (points)")
    parser.add_argument("--cost", choices=[k for k, d in K.OBJECTIVES.items() if d == "min"],
                        help="the cost the rule bounds (default: each study's time objective)")
    parser.add_argument("--out", default=str(RESULTS / "early_stop_replay.json"))
    parser.add_argument("--json", action="store_true", help="also print the result")
    args = parser.parse_args(argv)
    margins = [float(m) for m in args.margins.split(",") if m.strip()]
    studies = [study_summary(Path(s), margins, args.cost) for s in args.studies]
    result = {"command": _command(args), "margins": margins, "studies": studies}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for study in studies:
        for r in study["replays"]:
            print(f"{study['study']}: margin {r['margin']:g}: {r['stopped']}/{r['trials']} trials stopped, "
                  f"saved {r['saved_full_runs']} full-data runs ({r['saved_share_of_study_cost']} of the study's "
                  f"cost); front trials stopped: {r['front_trials_stopped'] or 'none'}")
    if args.json:
        print(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 1 if any(r["front_trials_stopped"] for s in studies for r in s["replays"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
