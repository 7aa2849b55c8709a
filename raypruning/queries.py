"""`raypruning best` and `raypruning pareto`: questions asked of a finished study's table.

A Python API for the same: `raypruning.load_study(path)` returns the table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from raypruning import pareto, report
from raypruning.config import apply_overrides, from_dict, to_yaml
from raypruning.study.layout import StudyMeta, read_meta, resolve_study
from raypruning.study.trials import load_trials, overrides_of


def load_study(study: str | Path) -> pd.DataFrame:
    """The trials table of a study folder (or a study name under the default storage)."""
    return load_trials(resolve_study(str(study)))


def trial_config(meta: StudyMeta, row: pd.Series):
    """The runnable config of a trial: the study's base config with the trial's overrides."""
    return from_dict(apply_overrides(meta.config, overrides_of(row)), source="<study>")


def _row_json(row: pd.Series) -> dict:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items() if not (isinstance(v, float) and pd.isna(v))}


def best_command(study: str, max_drop: float | None = None, time_budget: float | None = None,
                 as_json: bool = False) -> int:
    """Answer on per-setting means over seeds; say so when fewer full-data epochs beat pruning."""
    folder = resolve_study(study)
    meta = read_meta(folder)
    settings = pareto.per_setting(load_trials(folder))
    time_col = pareto.time_column(meta.objectives)
    if time_budget is not None:
        row = pareto.best_within_budget(settings, time_budget, time_col=time_col)
        pruned = pareto.best_within_budget(settings[pareto.is_pruned(settings)], time_budget, time_col=time_col)
        constraint = f"most accurate within {time_budget:g} s ({time_col})"
    else:
        max_drop = 1.0 if max_drop is None else max_drop
        row = pareto.best_within_drop(settings, max_drop, time_col=time_col)
        pruned = pareto.best_within_drop(settings, max_drop, time_col=time_col, among=pareto.is_pruned(settings))
        constraint = f"fastest within {max_drop:g} points of the reference"
    if row is None:
        message = f"no trial fits: {constraint}"
        print(json.dumps({"constraint": constraint, "trial": None}) if as_json else message)
        return 1
    cfg = trial_config(meta, row)
    note = report.rival_note(settings, pruned, time_col) if pruned is not None else None
    if as_json:
        print(json.dumps({"constraint": constraint, "trial": _row_json(row), "note": note,
                          "config": cfg.to_dict()}, indent=2))
        return 0
    print(f"# {constraint}: {report.describe_setting(row)}")
    if note:
        print(f"# {note}")
    print("# run it: raypruning train THIS_FILE.yaml")
    print(to_yaml(cfg), end="")
    return 0


def pareto_command(study: str, plot: str | None = None, as_json: bool = False) -> int:
    """The front of per-setting means, its hypervolume, and optionally its plot."""
    folder = resolve_study(study)
    objectives = read_meta(folder).objectives
    settings = pareto.per_setting(load_trials(folder))
    front = settings[pareto.pareto_mask(settings, objectives)]
    volume = pareto.hypervolume(settings, objectives)
    if plot:
        png = Path(plot)
        report.plot_front(settings, objectives, png, png.with_suffix(".html"), title=folder.name)
    if as_json:
        print(json.dumps({"objectives": objectives, "hypervolume": volume,
                          "front": [_row_json(r) for _, r in front.iterrows()],
                          "plot": str(plot) if plot else None}, indent=2))
        return 0
    print(report.front_table(settings, objectives))
    print(f"hypervolume {volume:.4g} ({len(front)} of {len(settings)} settings on the front)")
    if plot:
        print(f"plot: {plot} (and {Path(plot).with_suffix('.html').name})")
    return 0
