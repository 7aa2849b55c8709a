"""`raypruning best` and `raypruning pareto`: questions asked of a finished study's table.

A Python API for the same: `raypruning.load_study(path)` returns the table.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from raypruning import report_keys as K
from raypruning import results as R
from raypruning.config import apply_overrides, from_dict, to_yaml
from raypruning.errors import InputError
from raypruning.study import BASELINE_OVERRIDES, STUDY_FILE, resolve_study


def load_study(study: str | Path) -> pd.DataFrame:
    """The trials table of a study folder (or a study name under the default storage)."""
    return R.load_trials(resolve_study(str(study)))


def _study_meta(folder: Path) -> dict:
    path = folder / STUDY_FILE
    if not path.is_file():
        raise InputError(f"{folder}: not a study folder (no {STUDY_FILE})")
    return json.loads(path.read_text())


def _time_column(objectives: dict) -> str:
    return next((k for k in objectives if k != K.SCORE), K.TOTAL_TIME)


def trial_config(meta: dict, row: pd.Series):
    """The runnable config of a trial: the study's base config with the trial's values."""
    overrides = {"pruning.warmup_epochs": int(row["warmup_epochs"]), "pruning.period_epochs": int(row["period_epochs"]),
                 "pruning.keep_fraction": float(row["keep_fraction"])}
    if row.get("is_reference"):
        overrides["pruning.mode"] = "full"
        overrides["pruning.keep_fraction"] = 1.0
    overrides.update(BASELINE_OVERRIDES.get(row.get(R.METHOD_COLUMN), {}))
    for key in meta["reference"]:
        column = key if key in row.index else key.split(".")[-1]  # study.trial_rows' column naming
        if column in row.index and key not in overrides and column != K.SCORE and pd.notna(row[column]):
            value = row[column]
            overrides[key] = value.item() if hasattr(value, "item") else value
    return from_dict(apply_overrides(meta["config"], overrides), source="<study>")


def _row_json(row: pd.Series) -> dict:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items() if not (isinstance(v, float) and pd.isna(v))}


def best_command(study: str, max_drop: float | None = None, time_budget: float | None = None,
                 as_json: bool = False) -> int:
    folder = resolve_study(study)
    meta = _study_meta(folder)
    df = R.load_trials(folder)
    time_col = _time_column(meta["objectives"])
    if time_budget is not None:
        row = R.best_within_budget(df, time_budget, time_col=time_col)
        constraint = f"most accurate within {time_budget:g} s ({time_col})"
    else:
        max_drop = 1.0 if max_drop is None else max_drop
        row = R.best_within_drop(df, max_drop, time_col=time_col)
        constraint = f"fastest within {max_drop:g} points of the reference"
    if row is None:
        message = f"no trial fits: {constraint}"
        print(json.dumps({"constraint": constraint, "trial": None}) if as_json else message)
        return 1
    cfg = trial_config(meta, row)
    if as_json:
        print(json.dumps({"constraint": constraint, "trial": _row_json(row), "config": cfg.to_dict()}, indent=2))
        return 0
    print(f"# {constraint}: trial {row['trial_id']}")
    print(f"# score {row[K.SCORE]:.2f} ({row.get('score_delta', float('nan')):+.2f} points), "
          f"{time_col} {row[time_col]:.1f} (saving {row.get('time_saving', float('nan')):.1%})")
    print("# run it: raypruning train THIS_FILE.yaml")
    print(to_yaml(cfg), end="")
    return 0


def pareto_command(study: str, plot: str | None = None, as_json: bool = False) -> int:
    folder = resolve_study(study)
    meta = _study_meta(folder)
    objectives = meta["objectives"]
    df = R.load_trials(folder)
    mask = R.pareto_mask(df, objectives)
    front = df[mask]
    volume = R.hypervolume(df, objectives)
    if plot:
        png = Path(plot)
        R.plot_front(df, objectives, png, png.with_suffix(".html"), title=folder.name)
    if as_json:
        print(json.dumps({"objectives": objectives, "hypervolume": volume,
                          "front": [_row_json(r) for _, r in front.iterrows()],
                          "plot": str(plot) if plot else None}, indent=2))
        return 0
    print(R.front_table(df, objectives))
    print(f"hypervolume {volume:.4g} ({len(front)} of {len(df)} trials on the front)")
    if plot:
        print(f"plot: {plot} (and {Path(plot).with_suffix('.html').name})")
    return 0
