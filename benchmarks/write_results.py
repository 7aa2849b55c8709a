#!/usr/bin/env python
"""Regenerate benchmarks/RESULTS.md and benchmarks/results/tradeoff.png from the JSON results.

Reads benchmarks/results/<dataset>.json (written by tradeoff.py) and
benchmarks/results/realised_vs_ideal.json (realised_vs_ideal.py). Everything
in RESULTS.md comes from those files: no number is typed in by hand except the
paper's headline claims, which are quoted as the target.

With the default results folder it also rewrites README.md's trade-off summary
(between its two marker comments) once a dataset has an issue 17 record.

    python benchmarks/write_results.py [--results DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, RESULTS  # noqa: E402

DATASET_ORDER = ("atis", "snips", "sst2", "synthetic")
METHOD_MARKERS = {"full": "*", "dynamic-el2n": "o", "dynamic-el2n-best": "X", "dynamic-el2n-explore": "D",
                  "static-el2n": "s", "dynamic-random": "^", "soft": "P"}
DYNAMIC_EL2N = ("dynamic-el2n", "dynamic-el2n-explore")  # earlier records: goals checked on each variant
PAPER = ("Attendu & Corbeil 2023 (roberta-base, GPU, joint NLU 40 epochs / GLUE 10): keeping 50% of the "
         "examples preserves full accuracy with up to 41% less finetuning time; keeping 20% costs about "
         "1 point of accuracy with 66% less time; dynamic pruning beats static pruning.")
# Earlier records (issue 6: one seed, scored on the split used for selection) are judged against
# their own goals: (keep fraction, max score drop in points, min time saving).
LEGACY_GOALS = ((0.5, 0.5, 0.40), (0.2, 1.5, 0.60))


PLANNED_SEEDS = 3  # seeds per setting the record plans and the goals average over (issue 17)


@dataclass(frozen=True)
class AccuracyGoal:
    """Some pruning method at one of `keeps` within `max_drop` test points of full data (mean of
    `seeds` seeds) with at least `min_saving` time saving, on each of `datasets` (issue 17)."""

    keeps: tuple[float, ...]
    max_drop: float
    min_saving: float
    datasets: tuple[str, ...] = ("atis", "snips")
    seeds: int = PLANNED_SEEDS

    def text(self) -> str:
        keeps = " or ".join(f"{k:g}" for k in self.keeps)
        return (f"some pruning method at keep {keeps} within {self.max_drop:g} point of full data (test, mean of "
                f"{self.seeds} seeds) with >= {100 * self.min_saving:.0f}% time saving")


GOALS = (AccuracyGoal((0.5,), 0.5, 0.42), AccuracyGoal((0.3, 0.2), 1.5, 0.60))
EQUAL_COST_DATASETS = ("atis", "snips", "sst2")
EQUAL_COST_MIN = 2  # datasets on which the best pruning method must beat the fewer-epochs curve


def load_datasets(results: Path) -> dict[str, list[dict]]:
    out = {}
    for path in sorted(results.glob("*.json")):
        if path.stem == "realised_vs_ideal" or path.stem.startswith("realised_vs_ideal"):
            continue
        try:
            rows = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(rows, list) and rows and isinstance(rows[0], dict) and "method" in rows[0]:
            out[rows[0]["dataset"]] = rows
    return dict(sorted(out.items(), key=lambda kv: (DATASET_ORDER.index(kv[0]) if kv[0] in DATASET_ORDER else 99,
                                                     kv[0])))


def plot(results: Path, out: Path) -> Path | None:
    """Time saving (x) against score delta (y), one panel per dataset, one marker per method."""
    data = load_datasets(results)
    if not data:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(data)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.0), squeeze=False)
    for ax, (dataset, rows) in zip(axes[0], data.items()):
        for method, marker in METHOD_MARKERS.items():
            pts = [r for r in rows if r["method"] == method]
            if not pts:
                continue
            ax.errorbar([100 * r["time_saving"] for r in pts], [r["score_delta"] for r in pts],
                        yerr=[r.get("score_delta_std") or 0.0 for r in pts], fmt=marker, ms=8, capsize=3,
                        label=method)
            for r in pts:
                if method != "full":
                    ax.annotate(setting(r), (100 * r["time_saving"], r["score_delta"]),
                                textcoords="offset points", xytext=(5, 4), fontsize=8)
        curve = next((r.get("epochs_curve") for r in rows if r["method"] == "full"), None)
        if curve:  # full data with fewer epochs: epoch k's cost and test score, relative to the reference
            ax.plot([100 * (1 - p["time_fraction"]) for p in curve], [p["score_delta"] for p in curve],
                    color="grey", ls="--", lw=1, label="full, fewer epochs")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_title(f"{dataset} ({rows[0]['metric']}, E={rows[0]['epochs']}, {len(rows[0]['seeds'])} seed(s))")
        ax.set_xlabel("time saving vs full data (%, train + scoring)")
        ax.set_ylabel(("test " if is_test_record(rows) else "") + "score delta vs full data (points)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="best")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def setting(r: dict) -> str:
    """f=0.5 for a keep fraction; r=0.5 for soft pruning (InfoBatch), which has none."""
    return f"r={r['prune_ratio']:g}" if r.get("keep_fraction") is None else f"f={r['keep_fraction']:g}"


def _fmt(v, spec=".2f", pct=False):
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if pct else format(v, spec)


def legacy_goal_lines(dataset: str, rows: list[dict]) -> list[str]:
    """Earlier records: one verdict line per issue 6 goal, for each dynamic EL2N variant in the rows."""
    lines = []
    by = {(r["method"], round(r["keep_fraction"], 4)): r for r in rows if r.get("keep_fraction") is not None}
    variants = [m for m in DYNAMIC_EL2N if any(r["method"] == m for r in rows)] or ["dynamic-el2n"]
    for method in variants:
        name = "dynamic EL2N" + (f" (explore {by_method(rows, method)['explore']:g})"
                                 if method != "dynamic-el2n" else "")
        for keep, max_drop, min_saving in LEGACY_GOALS:
            r = by.get((method, keep))
            if r is None:
                lines.append(f"- {dataset}: {name} at keep {keep}: NOT RUN.")
                continue
            lines.append(f"- {dataset}: {name} at keep {keep} within {max_drop} point of the reference with "
                         f">= {100 * min_saving:.0f}% time saving: " + _goal_verdict(r, max_drop, min_saving))
        d, s, rnd = by.get((method, 0.2)), by.get(("static-el2n", 0.2)), by.get(("dynamic-random", 0.2))
        if d and s and rnd:
            verdict = "MET" if d["score"] > s["score"] and d["score"] > rnd["score"] else "NOT MET"
            lines.append(f"- {dataset}: {name} beats static EL2N and dynamic random at keep 0.2: **{verdict}** "
                         f"(dynamic {d['score']:.2f}, static {s['score']:.2f}, random {rnd['score']:.2f}"
                         + (f"; {len(d['seeds'])} seed, differences within seed noise are not significant"
                            if len(d["seeds"]) < PLANNED_SEEDS else "") + ").")
        else:
            lines.append(f"- {dataset}: {name} vs static vs random at keep 0.2: NOT RUN.")
    return lines


def by_method(rows: list[dict], method: str) -> dict:
    return next(r for r in rows if r["method"] == method)


def _goal_verdict(r: dict, max_drop: float, min_saving: float) -> str:
    acc_ok = r["score_delta"] >= -max_drop
    time_ok = r["time_saving"] >= min_saving
    ideal_saving = 1 - r["ideal_fraction"]
    reason = []
    if not acc_ok:
        reason.append(f"score delta {r['score_delta']:+.2f} points is below -{max_drop}")
    if not time_ok:
        reason.append(f"time saving {100 * r['time_saving']:.1f}% is under {100 * min_saving:.0f}%")
        if ideal_saving < min_saving:
            reason.append(f"with E={r['epochs']}, tau={r['warmup_epochs']} even the ideal saving is "
                          f"{100 * ideal_saving:.1f}%, so this setting cannot reach the goal")
    verdict = "MET" if acc_ok and time_ok else "NOT MET"
    return (f"**{verdict}** (delta {r['score_delta']:+.2f}, saving {100 * r['time_saving']:.1f}%)"
            + (f": {'; '.join(reason)}." if reason else "."))


def is_test_record(rows: list[dict]) -> bool:
    """Rows written since issue 17: selected on validation, reported on test, with the equal-cost fields."""
    return bool(rows) and rows[0].get("score_split") == "test" and "equal_cost_epochs_delta" in rows[0]


def at_keep(rows: list[dict], keeps: tuple[float, ...]) -> list[dict]:
    """The pruning methods' rows at these keep fractions (soft pruning has none, so never)."""
    return [r for r in rows if r["method"] != "full" and r.get("keep_fraction") is not None
            and any(abs(r["keep_fraction"] - k) < 1e-9 for k in keeps)]


def shortfall(r: dict, goal: AccuracyGoal) -> tuple[float, float]:
    """(test points below the allowed drop, time saving below the minimum); (0, 0) when the row meets it."""
    return max(0.0, -goal.max_drop - r["score_delta"]), max(0.0, goal.min_saving - r["time_saving"])


def _miss_text(r: dict, goal: AccuracyGoal) -> str:
    points, saving = shortfall(r, goal)
    misses = ([f"{points:.2f} points of score"] if points else []) + (
        [f"{100 * saving:.1f} points of time saving"] if saving else [])
    return "meets it" if not misses else "misses by " + " and ".join(misses)


def _candidate(r: dict, goal: AccuracyGoal) -> str:
    spread = f" ± {r['score_delta_std']:.2f}" if len(r["seeds"]) > 1 else ""
    return (f"{r['method']} at keep {r['keep_fraction']:g}: delta {r['score_delta']:+.2f}{spread} (test; "
            f"validation {r['val_score_delta']:+.2f}), saving {100 * r['time_saving']:.1f}%: {_miss_text(r, goal)}")


def choose(rows: list[dict], goal: AccuracyGoal) -> dict | None:
    """The candidate a user would pick without looking at the test split: among the methods at the goal's
    keep fractions whose time saving meets the goal (time is no split's score), the best on validation;
    when none is fast enough, the best on validation of them all."""
    candidates = at_keep(rows, goal.keeps)
    fast = [r for r in candidates if r["time_saving"] >= goal.min_saving]
    return max(fast or candidates, key=lambda r: r["val_score_delta"]) if candidates else None


def accuracy_goal_lines(dataset: str, rows: list[dict], goal: AccuracyGoal) -> list[str]:
    """The verdict on one accuracy-and-time goal, judged on test for the method chosen on validation
    (choose), then every candidate with what it misses by."""
    head = f"- {dataset}: {goal.text()}: "
    candidates = at_keep(rows, goal.keeps)
    if not candidates:
        return [head + "NOT RUN."]
    seeds = min(len(r["seeds"]) for r in candidates)
    caveat = f" ({seeds} seed(s) only, the goal asks for the mean of {goal.seeds})" if seeds < goal.seeds else ""
    chosen = choose(rows, goal)
    name = f"{chosen['method']} at keep {chosen['keep_fraction']:g}"
    verdict = "**MET**" if shortfall(chosen, goal) == (0.0, 0.0) else "**NOT MET**"
    head += f"{verdict}{caveat} by the choice on validation, {name}: {_miss_text(chosen, goal)}."
    others = [r for r in candidates if r is not chosen and shortfall(r, goal) == (0.0, 0.0)]
    if others:
        head += (" On test alone " + ", ".join(f"{r['method']} at keep {r['keep_fraction']:g}" for r in others)
                 + " would meet it too; test does not choose.")
    return [head] + [f"  - {_candidate(r, goal)}" for r in candidates]


def best_by_validation(rows: list[dict]) -> dict | None:
    """The pruning row furthest above the fewer-epochs curve on VALIDATION: the best method is chosen
    without looking at the test split, then judged on test."""
    scored = [r for r in rows if r["method"] != "full" and r.get("val_equal_cost_epochs_delta") is not None
              and r.get("equal_cost_epochs_delta") is not None]
    return max(scored, key=lambda r: r["val_equal_cost_epochs_delta"]) if scored else None


def equal_cost_goal_lines(data: dict[str, list[dict]]) -> list[str]:
    """Per dataset, whether the best pruning method (chosen on validation) beats the fewer-epochs curve on
    test at its own cost, then the verdict over the datasets."""
    lines, above, short = [], 0, []
    for dataset in EQUAL_COST_DATASETS:
        rows = data.get(dataset)
        best = best_by_validation(rows) if rows and is_test_record(rows) else None
        if best is None:
            lines.append(f"  - {dataset}: not run in this record.")
            continue
        delta = best["equal_cost_epochs_delta"]
        above += delta > 0
        if len(best["seeds"]) < PLANNED_SEEDS:
            short.append(f"{dataset} {len(best['seeds'])}")
        lines.append(f"  - {dataset}: {best['method']} at {setting(best)} (best on validation, "
                     f"{best['val_equal_cost_epochs_delta']:+.2f}): test {delta:+.2f} points against full data "
                     f"trained for {best['equal_cost_epochs']:.1f} epochs at the same cost: "
                     + ("above the curve." if delta > 0 else f"below the curve by {-delta:.2f} points."))
    verdict = "MET" if above >= EQUAL_COST_MIN else "NOT MET"
    missing = "" if above >= EQUAL_COST_MIN else f", {EQUAL_COST_MIN - above} dataset(s) short"
    caveat = f"; seeds: {', '.join(short)} of the {PLANNED_SEEDS} planned" if short else ""
    return [f"- The best pruning method above the fewer-epochs curve at equal cost on at least {EQUAL_COST_MIN} of "
            f"the {len(EQUAL_COST_DATASETS)} datasets: **{verdict}** (above on {above}{missing}{caveat})."] + lines


def drift_check(rows: list[dict]) -> list[str]:
    """Random dynamic pruning has no scoring cost: its realised fraction should sit at the ideal."""
    out = []
    for r in rows:
        if r["method"] == "dynamic-random" and r["ideal_fraction"]:
            ratio = r["realised_fraction"] / r["ideal_fraction"]
            note = ""
            if ratio < 0.97:
                note = (" Below 1: the full-data reference ran slower than the pruned runs (the machine's load "
                        "changed during the invocation), so the realised fractions on this dataset are "
                        "understated (the savings overstated) by roughly that factor.")
            elif ratio > 1.03:
                note = (" Above 1: the reference ran faster than the pruned runs (load drift, or per-epoch "
                        "costs that do not shrink with the kept fraction).")
            out.append(f"- Sanity check: dynamic-random at keep {r['keep_fraction']:g} realised / ideal = "
                       f"{ratio:.3f} (no scoring cost: about 1 when the machine is steady).{note}")
    return out + ([""] if out else [])


def dataset_table(rows: list[dict]) -> list[str]:
    """One line per row; test records add the validation delta and the equal-cost columns."""
    joint = any("exact_match" in r for r in rows)
    test = is_test_record(rows)
    head = ["method", "keep f (soft: r)", ("test " if test else "") + rows[0]["metric"] + " (±sd)", "delta"]
    if test:
        head += ["val delta", "equal-cost delta", "equal-cost epochs"]
    if joint:
        head += ["intent acc (val)", "slot F1 (val)"] if test else ["intent acc", "slot F1"]
    head += ["time saving", "realised fraction", "ideal fraction", "examples fraction", "scoring share",
             "total s", "wall s (workers)", "wall fraction"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        several = len(r["seeds"]) > 1
        score = f"{r['score']:.2f}" + (f" ± {r['score_std']:.2f}" if several else " (1 seed)")
        cells = [r["method"], setting(r).removeprefix("f="), score,
                 f"{r['score_delta']:+.2f}" + (f" ± {r['score_delta_std']:.2f}" if test and several else "")]
        if test:
            cells += [_fmt(r.get("val_score_delta"), "+.2f"), _fmt(r.get("equal_cost_epochs_delta"), "+.2f"),
                      _fmt(r.get("equal_cost_epochs"), ".1f")]
        if joint:
            cells += [_fmt(r.get("intent_accuracy")), _fmt(r.get("slot_f1"))]
        cells += [_fmt(r["time_saving"], pct=True), _fmt(r["realised_fraction"], ".3f"),
                  _fmt(r["ideal_fraction"], ".3f"), _fmt(r.get("examples_fraction"), ".3f"),
                  _fmt(r["scoring_share"], pct=True), _fmt(r["total_time_s"], ".1f"),
                  _fmt(r["wall_time_s"], ".1f"), _fmt(r.get("wall_fraction"), ".3f")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


REALISED_FILES = (("realised_vs_ideal.json", "full re-scoring at every event"),
                  ("realised_vs_ideal_reuse.json", "scores of the trained examples from the training pass"))


def realised_section(results: Path) -> list[str]:
    """One section per realised_vs_ideal record: the default scoring, and with training-pass scores."""
    lines = []
    for name, how in REALISED_FILES:
        path = results / name
        if path.is_file():
            lines += _realised_record(json.loads(path.read_text()), how)
    return lines or ["## Realised vs ideal time fraction", "", "NOT RUN (benchmarks/realised_vs_ideal.py).", ""]


def _realised_record(r: dict, how: str) -> list[str]:
    s = r["settings"]
    lines = [f"## Realised vs ideal time fraction (synthetic task, tiny model; {how})", "",
             f"Full data vs dynamic EL2N (f = {s['keep_fraction']}, tau = {s['warmup_epochs']}, "
             f"T = {s['period_epochs']}), E = {s['epochs']}, {s['num_train']} training examples, "
             f"{s['repeats']} alternating pair(s) per worker count, medians of per-pair ratios measured in one "
             f"invocation.", "",
             "| workers | realised (total) | train-only | ideal | examples | scoring share | scoring / full total "
             "| wall fraction | score full | score dynamic | target realised max | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for b in r["blocks"]:
        m = b["median"]
        lines.append(f"| {b['workers']} | {m['realised']:.3f} | {m['train_only']:.3f} | {m['ideal']:.3f} | "
                     f"{m['examples']:.3f} | {100 * m['scoring_share']:.1f}% | {100 * m['scoring_vs_full']:.1f}% | "
                     f"{m['wall_fraction']:.3f} | {m['score_full']:.2f} | {m['score_dynamic']:.2f} | "
                     f"{b['target_realised_max']:.3f} | {'PASS' if b['pass'] else 'FAIL'} |")
    lines += [""]
    for b in r["blocks"]:
        for name, ok in b["checks"].items():
            lines.append(f"- workers={b['workers']}: {name}: **{'PASS' if ok else 'FAIL'}**")
    for b in r["blocks"]:
        pairs = b["pairs"]
        if len(pairs) > 1:
            lines.append(f"- workers={b['workers']}: spread over the {len(pairs)} pairs: realised "
                         f"{min(p['realised'] for p in pairs):.3f}-{max(p['realised'] for p in pairs):.3f}, "
                         f"train-only {min(p['train_only'] for p in pairs):.3f}-"
                         f"{max(p['train_only'] for p in pairs):.3f} (ideal {b['median']['ideal']:.3f}), scoring "
                         f"share {min(p['scoring_share'] for p in pairs):.3f}-"
                         f"{max(p['scoring_share'] for p in pairs):.3f}. A train-only fraction far from the ideal "
                         f"is machine noise: the training work is exactly the ideal (examples column).")
    lines += ["", "Targets: realised <= ideal x 1.10 + scoring share; scoring share < 15% of the dynamic run's "
              "time (training steps + scoring).", "",
              f"Command: `{r['command']}`  ", f"Machine: {_machine(r['machine'])}", ""]
    return lines


def _machine(m: dict) -> str:
    parts = [m.get("platform"), f"{m.get('cpu')} x {m.get('cpu_count')} logical CPUs",
             f"python {m.get('python')}", f"torch {m.get('torch')}", f"ray {m.get('ray')}",
             f"GPU {m['cuda']}" if m.get("cuda") else "no GPU"]
    if m.get("load_avg_1m_at_start") is not None:
        parts.append(f"1-min load average at start {m['load_avg_1m_at_start']}")
    return "; ".join(str(p) for p in parts if p)


def _settings(r0: dict, rows: list[dict]) -> str:
    """The learning rate and the EL2N selection options, from what the rows recorded."""
    lr = next((o.split("=", 1)[1] for o in r0.get("overrides", []) if o.startswith("train.lr=")), None)
    el2n = next((r for r in rows if r["method"] == "dynamic-el2n"), {})
    opts = [f"{k}={el2n[k]}" for k in ("reuse_train_scores", "offset") if el2n.get(k) is not None]
    return (f"; lr {lr}" if lr else "") + (f"; EL2N options {', '.join(opts)}" if opts else "")


INTRO = ("Generated by `python benchmarks/write_results.py` from `benchmarks/results/*.json`; do not edit by "
         "hand (tradeoff.py regenerates it after each run). Times use the paper's accounting: "
         "training steps plus scoring passes (`total_time_s`), measured in one invocation per dataset and "
         "reported as ratios to that invocation's full-data run; `wall s` is the whole run inside the "
         "Ray workers (data loading, evaluation, checkpoints included; the ~15-20 s Ray worker-group start "
         "is not).")


def goals_text() -> str:
    """The goals as the report states them: issue 17's, and those earlier records are judged against."""
    return ("Goals (issue 17, on records selected on validation and reported on test): on "
            + " and ".join(d.upper() for d in GOALS[0].datasets) + ", " + "; ".join(g.text() for g in GOALS)
            + f"; and the best pruning method above the full-data fewer-epochs curve at equal cost on at least "
              f"{EQUAL_COST_MIN} of the {len(EQUAL_COST_DATASETS)} datasets. Each goal is judged on test for the "
              "method chosen without the test split: for the accuracy goals the best validation score among the "
              "methods whose time saving meets the goal, for the equal-cost goal the method furthest above the "
              "curve on validation. Earlier records (one seed, scored "
              "on the split used for selection) are judged against their own goals: dynamic EL2N at keep 0.5 "
              "within 0.5 point of the reference with >= 40% time saving; at keep 0.2 within 1.5 points with "
              ">= 60% saving; dynamic EL2N beats static EL2N and random dynamic pruning at keep 0.2.")


def goal_section(real: dict[str, list[dict]]) -> list[str]:
    """The plain list of which goals are met: issue 17's on test records, issue 6's on earlier ones."""
    lines = ["## Which goals are met", ""]
    if not real:
        return lines + ["No trade-off benchmark has been recorded yet: every goal is NOT RUN.", ""]
    test = {k: v for k, v in real.items() if is_test_record(v)}
    if test:
        for goal in GOALS:
            for dataset in goal.datasets:
                lines += (accuracy_goal_lines(dataset, test[dataset], goal) if dataset in test
                          else [f"- {dataset}: {goal.text()}: NOT RUN in this record."])
        lines += equal_cost_goal_lines(test)
    legacy = {k: v for k, v in real.items() if not is_test_record(v)}
    if legacy:
        lines += ["", "Earlier record" + (f"s ({', '.join(legacy)})" if test else "")
                  + ": selected and scored on the same split, judged against issue 6's goals.", ""]
        for dataset, rows in legacy.items():
            lines += legacy_goal_lines(dataset, rows)
    lines.append("")
    for name in ("atis", "snips", "sst2"):
        if name not in real:
            lines.append(f"- {name}: not run in this record.")
    gpu = any(r.get("gpu") for rows in real.values() for r in rows)
    if not gpu:
        lines.append("- Paper scale (--gpu: all layers, 40/10 epochs, roberta-base) was not run: these are "
                     "CPU runs with a truncated MiniLM and a few epochs, so they are not comparable with the "
                     "paper's absolute numbers.")
    return lines + seeds_caveat(real) + [""]


def seeds_caveat(real: dict[str, list[dict]]) -> list[str]:
    """A line naming the datasets recorded with fewer than the planned seeds, and what that leaves."""
    short = {name: len(rows[0]["seeds"]) for name, rows in real.items() if len(rows[0]["seeds"]) < PLANNED_SEEDS}
    if not short:
        return []
    counts = ", ".join(f"{name} {n}" for name, n in short.items())
    spread = "; ".join(text for n, text in ((1, "with 1 seed there is no spread"),
                                            (2, "the spread of 2 seeds is a rough guide")) if n in short.values())
    return [f"- Seeds: {counts} ({PLANNED_SEEDS} planned): {spread}, and score differences of about a point are within "
            "run-to-run noise."]


def commands_section(real: dict[str, list[dict]]) -> list[str]:
    """The commands that produced the recorded rows, and the one that renders this file."""
    commands = list(dict.fromkeys(rows[0]["command"] for rows in real.values()))
    if not commands:
        return []
    return (["## Commands", ""] + [f"- `{c}`" for c in commands]
            + ["- `python benchmarks/write_results.py` (this file and the plot)", ""])


def curve_lines(rows: list[dict]) -> list[str]:
    """The full-data reference by epoch: does it converge, and (test records) the fewer-epochs curve."""
    full = by_method(rows, "full")
    key = "test_score_by_epoch" if is_test_record(rows) else "score_by_epoch"
    curves = {seed: run.get(key) for seed, run in full["per_seed"].items()}
    curves = {seed: c for seed, c in curves.items() if c and None not in c}
    if not curves:
        return []
    label = "Full-data reference by epoch" + (", test score" if is_test_record(rows) else "")
    lines = [f"{label} (does it converge?): "
             + "; ".join(f"seed {seed}: " + ", ".join(f"{v:.2f}" for v in c) for seed, c in curves.items())
             + ".", ""]
    if full.get("epochs_curve"):
        lines += ["Fewer-epochs curve (mean over seeds; cost as a fraction of the reference's, test delta): "
                  + ", ".join(f"{p['epoch']}: {p['time_fraction']:.2f} / {p['score_delta']:+.2f}"
                              for p in full["epochs_curve"]) + ".", ""]
    return lines


def dataset_section(dataset: str, rows: list[dict]) -> list[str]:
    r0 = rows[0]
    lines = [f"## {dataset}" + (" (quick smoke run, not a measurement)" if r0.get("quick") else ""), "",
             f"{r0.get('num_train_examples')} training examples; model {r0['model']}"
             + (f" truncated to {r0['layers']} layers" if r0.get("layers") else "")
             + f"; E = {r0['epochs']} epochs; tau = {rows[1]['warmup_epochs'] if len(rows) > 1 else '-'}, "
             f"T = {rows[1]['period_epochs'] if len(rows) > 1 else '-'}; seeds {r0['seeds']}; "
             f"primary metric {r0['metric']}" + _settings(r0, rows)
             + (f"; {r0['parallel']} runs at once (time ratios not meaningful)" if r0.get("parallel", 1) > 1
                else "") + ".", ""]
    drift = r0.get("reference_drift")
    if drift:
        lines += ["Machine drift during the invocation: the reference ran first and last for each seed; "
                  "second / first full-data total time = "
                  + ", ".join(f"{v:.3f} (seed {k})" for k, v in drift.items())
                  + ". Time ratios divide by the mean of the two.", ""]
    lines += curve_lines(rows)
    lines += drift_check(rows)
    lines += dataset_table(rows)
    lines += ["", f"Command: `{r0['command']}`  ",
              f"Elapsed for this dataset: {r0.get('dataset_elapsed_s', 0) / 60:.1f} min  ",
              f"Machine: {_machine(r0['machine'])}", ""]
    return lines


def write_markdown(results: Path, out: Path) -> Path:
    data = load_datasets(results)
    real = {k: v for k, v in data.items() if not v[0].get("quick")}
    lines = ["# Benchmark results", "", INTRO, "",
             "## The paper's headline numbers (the target)", "", PAPER, "", goals_text(), ""]
    lines += goal_section(real)
    if (results / "tradeoff.png").is_file():
        lines += ["![time saving vs score delta](results/tradeoff.png)", ""]
    lines += commands_section(real)
    notes = results / "NOTES.md"
    if notes.is_file():
        lines += ["## Notes on the recorded runs", "", notes.read_text().strip(), ""]
    lines += realised_section(results)
    for dataset, rows in data.items():
        lines += dataset_section(dataset, rows)
    out.write_text("\n".join(lines) + "\n")
    return out


README = REPO / "README.md"
SUMMARY_START = "<!-- trade-off summary: written by benchmarks/write_results.py from benchmarks/results -->"
SUMMARY_END = "<!-- end of the trade-off summary -->"


def _pm(r: dict, key: str) -> str:
    """A mean with its spread over seeds, when there are several."""
    return f"{r[key]:+.2f}" + (f" ± {r[key + '_std']:.2f}" if len(r["seeds"]) > 1 else "")


def readme_summary(real: dict[str, list[dict]]) -> list[str] | None:
    """README's summary of the trade-off: per dataset of the issue 17 record, the method chosen on
    validation at each goal's keep fractions and against the fewer-epochs curve, then the goals'
    verdicts and the caveats. None while no dataset has such a record (README keeps its text)."""
    test = {k: v for k, v in real.items() if is_test_record(v)}
    if not test:
        return None
    r0 = next(iter(test.values()))[0]
    seeds = {name: len(rows[0]["seeds"]) for name, rows in test.items()}
    most = max(seeds.values())
    fewer = ", ".join(f"{name}: {n}" for name, n in seeds.items() if n < most)
    lines = [f"Recorded by `benchmarks/tradeoff.py` on {r0['machine'].get('cpu_count')} CPU cores with "
             f"{r0['model']}" + (f" truncated to {r0['layers']} layers" if r0.get("layers") else "")
             + f", {most} seed(s) per setting" + (f" ({fewer} so far)" if fewer else "")
             + ". At each goal's keep fractions the method shown is "
             "the one chosen on validation (the best validation score among those fast enough for the goal); "
             "the numbers are its test score against full data (mean ± sd over seeds) and its time saving "
             "(training plus scoring). "
             "[benchmarks/RESULTS.md](benchmarks/RESULTS.md) has every row and the commands.", ""]
    for dataset, rows in test.items():
        full = by_method(rows, "full")
        parts = []
        for goal in GOALS:
            best = choose(rows, goal)
            if best is not None:
                parts.append(f"at keep {best['keep_fraction']:g} {best['method']} scored {_pm(best, 'score_delta')} "
                             f"with {100 * best['time_saving']:.1f}% less time")
        above = best_by_validation(rows)
        if above is not None:
            parts.append(f"against full data trained for fewer epochs at the same cost, {above['method']} at "
                         f"{setting(above)} scored {above['equal_cost_epochs_delta']:+.2f}")
        full_score = f"{full['score']:.2f}" + (f" ± {full['score_std']:.2f}" if len(full["seeds"]) > 1 else "")
        lines.append(f"- **{dataset}** ({full.get('num_train_examples')} training examples, E = {full['epochs']}, "
                     f"full data {full_score} test {full['metric']}): " + "; ".join(parts) + ".")
    legacy = [k for k in real if k not in test]
    if legacy:
        lines.append(f"- {', '.join(legacy)}: only the earlier one-seed record (selected and scored on one "
                     "split), in RESULTS.md.")
    lines += ["", "Goals:"]
    for goal in GOALS:
        lines += [(accuracy_goal_lines(d, test[d], goal)[0] if d in test else f"- {d}: {goal.text()}: NOT RUN.")
                  for d in goal.datasets]
    lines += [equal_cost_goal_lines(test)[0], "", "Caveats:"]
    if min(seeds.values()) < PLANNED_SEEDS:
        lines += seeds_caveat(test) + ["- The goals ask for the mean of "
                                       f"{PLANNED_SEEDS} seeds: a verdict can change as seeds are added."]
    lines += ["- A difference smaller than its ± (the spread over seeds) is not a finding.",
              "- CPU runs of a truncated MiniLM for a few epochs, not the paper's scale (roberta-base on a GPU); "
              "only the time ratios and score deltas are comparable with it."]
    return lines


def update_readme(results: Path, readme: Path = README) -> bool:
    """Rewrite the summary between README's markers from the rows in `results`; False (README untouched)
    when there is no issue 17 record yet or README has no markers."""
    real = {k: v for k, v in load_datasets(results).items() if not v[0].get("quick")}
    lines = readme_summary(real)
    text = readme.read_text() if readme.is_file() else ""
    start, end = text.find(SUMMARY_START), text.find(SUMMARY_END)
    if lines is None or start < 0 or end < start:
        return False
    readme.write_text(text[:start + len(SUMMARY_START)] + "\n" + "\n".join(lines) + "\n" + text[end:])
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--out", type=Path, default=None, help="default: RESULTS.md next to the results folder")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)
    if not args.no_plot:
        plot(args.results, args.results / "tradeoff.png")
    out = write_markdown(args.results, args.out or args.results.parent / "RESULTS.md")
    print(f"wrote {out}")
    if args.results.resolve() == RESULTS.resolve() and update_readme(args.results):
        print(f"wrote the trade-off summary in {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
