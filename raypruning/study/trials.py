"""The study's trials table (trials.parquet): one typed record per finished trial.

A Tune trial ends as a `TrialOutcome` (its id, the values Tune gave it and
its last report), read through public APIs only: a Tune `Callback` hands
over `Trial` objects, a finished `ResultGrid` hands over `Result` objects.
`TrialRecord.from_outcome` turns one into a row; `finish_table` adds the
columns relative to the reference and the Pareto flag. Each row keeps the
trial's dotted overrides (JSON) so `best` re-applies them without mapping
column names back to config keys.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from raypruning import keys as K
from raypruning import pareto
from raypruning.config import Config, apply_overrides, from_dict
from raypruning.errors import InputError
from raypruning.keys import Method

BASELINE_KEY = "baseline"  # Tune config key holding a baseline trial's overrides
_FIXED = {"pruning.warmup_epochs", "pruning.period_epochs", "pruning.keep_fraction"}  # their own columns


@dataclass(frozen=True)
class TrialOutcome:
    """A Tune trial as the table needs it."""

    trial_id: str
    params: dict  # the Tune config: dotted searched keys, or {BASELINE_KEY: {...}}
    last_result: dict  # the last metrics the trial reported
    failed: bool = False

    @property
    def finished(self) -> bool:
        return not self.failed and bool(self.last_result.get(K.DONE))

    @property
    def is_baseline(self) -> bool:
        return BASELINE_KEY in self.params

    @property
    def overrides(self) -> dict:
        """The trial's dotted overrides of the study's base config."""
        params = dict(self.params)
        baseline = params.pop(BASELINE_KEY, {})
        return {**params, **baseline}

    @classmethod
    def from_tune_trial(cls, trial) -> "TrialOutcome":
        """From a `ray.tune.experiment.Trial`, as a Tune Callback receives it."""
        return cls(trial.trial_id, dict(trial.config), dict(trial.last_result or {}), trial.status == "ERROR")

    @classmethod
    def from_result(cls, result) -> "TrialOutcome":
        """From a `ray.tune.Result` of a finished `ResultGrid`."""
        metrics = dict(result.metrics or {})
        return cls(str(metrics.get("trial_id", "")), dict(result.config or {}), metrics, result.error is not None)


@dataclass(frozen=True)
class TrialRecord:
    """One row of trials.parquet, before the columns relative to the reference."""

    trial_id: str
    method: Method
    warmup_epochs: int
    period_epochs: int
    keep_fraction: float
    is_reference: bool
    score: float | None
    total_time_s: float | None
    wall_time_s: float | None
    train_time_s: float | None
    scoring_time_s: float | None
    examples_trained: int | None
    metric: str | None
    overrides: dict = field(default_factory=dict)  # dotted key -> value, re-applied by `best`

    @classmethod
    def from_outcome(cls, outcome: TrialOutcome, base_config: dict, is_reference: bool) -> "TrialRecord":
        cfg = from_dict(apply_overrides(base_config, outcome.overrides), source=f"<trial {outcome.trial_id}>")
        return cls.from_run(outcome.trial_id, cfg, outcome.last_result, outcome.overrides, is_reference)

    @classmethod
    def from_run(cls, trial_id: str, cfg: Config, report: dict, overrides: dict, is_reference: bool) -> "TrialRecord":
        p = cfg.pruning
        return cls(
            trial_id=trial_id,
            method=Method.REFERENCE if is_reference else Method.of(p.mode, p.score, p.keep_fraction),
            warmup_epochs=p.warmup_epochs,
            period_epochs=p.period_epochs,
            keep_fraction=p.keep_fraction,
            is_reference=is_reference,
            score=report.get(K.SCORE),
            total_time_s=report.get(K.TOTAL_TIME),
            wall_time_s=report.get(K.WALL_TIME),
            train_time_s=report.get(K.TRAIN_TIME),
            scoring_time_s=report.get(K.SCORING_TIME),
            examples_trained=report.get(K.EXAMPLES_TRAINED),
            metric=report.get(K.METRIC),
            overrides=dict(overrides),
        )

    def to_row(self) -> dict:
        """The table row: fixed columns, the overrides as JSON, then each other searched key
        under its short name (its dotted name when the short one is taken, as pruning.score)."""
        row = {
            K.TRIAL_ID: self.trial_id, K.WARMUP: self.warmup_epochs, K.PERIOD: self.period_epochs,
            K.KEEP: self.keep_fraction, K.SCORE: self.score, K.TOTAL_TIME: self.total_time_s,
            K.WALL_TIME: self.wall_time_s, K.EXAMPLES_TRAINED: self.examples_trained,
            K.IS_REFERENCE: self.is_reference, K.METHOD: self.method.value, K.TRAIN_TIME: self.train_time_s,
            K.SCORING_TIME: self.scoring_time_s, K.METRIC: self.metric,
            K.OVERRIDES: json.dumps(self.overrides, sort_keys=True),
        }
        for key, value in self.overrides.items():
            if key in _FIXED:
                continue
            short = key.split(".")[-1]
            row[short if short not in row else key] = value
        return row


def records(outcomes: list[TrialOutcome], reference: dict, base_config: dict) -> list[TrialRecord]:
    """Records of the finished trials, in trial-id order; the first non-baseline trial whose
    values equal the reference point is the reference."""
    out, reference_seen = [], False
    for outcome in sorted(outcomes, key=lambda o: o.trial_id):
        if not outcome.finished:
            continue
        values = outcome.overrides
        is_reference = (not reference_seen and not outcome.is_baseline
                        and all(values.get(k) == v for k, v in reference.items()))
        reference_seen = reference_seen or is_reference
        out.append(TrialRecord.from_outcome(outcome, base_config, is_reference))
    return out


def trials_table(recs: list[TrialRecord], objectives: dict[str, str]) -> pd.DataFrame:
    """The table of records with time_saving, score_delta (against the reference) and pareto."""
    df = pd.DataFrame([r.to_row() for r in recs])
    if df.empty:
        return df
    df = pareto.add_relative_columns(df, time_col=pareto.time_column(objectives))
    return order_columns(pareto.add_pareto_column(df, objectives))


def overrides_of(row: pd.Series) -> dict:
    """A row's dotted overrides; tables from before the overrides column give tau, T, f and method."""
    raw = row.get(K.OVERRIDES)
    if isinstance(raw, str):
        return json.loads(raw)
    out = {"pruning.warmup_epochs": int(row[K.WARMUP]), "pruning.period_epochs": int(row[K.PERIOD]),
           "pruning.keep_fraction": float(row[K.KEEP])}
    method = row.get(K.METHOD)
    if method in {m.value for m in Method}:
        out.update(Method(method).overrides())
    return out


# --- the file ----------------------------------------------------------------------------


def order_columns(df: pd.DataFrame) -> pd.DataFrame:
    """TRIAL_COLUMNS first (those present), then method, then the rest as they come."""
    head = [c for c in [*K.TRIAL_COLUMNS, K.METHOD] if c in df.columns]
    return df[head + [c for c in df.columns if c not in head]]


def write_trials(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the table to parquet atomically (a temporary file, then os.replace).

    Args:
        path: the parquet file, or a study folder (then <folder>/trials.parquet).

    Returns:
        The file written.
    """
    path = Path(path)
    if path.is_dir():
        path = path / K.TRIALS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        order_columns(df).to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_trials(path_or_study_folder: str | os.PathLike) -> pd.DataFrame:
    """Read <folder>/trials.parquet (or the parquet file given).

    Raises:
        InputError: one line naming the path, when it is missing or unreadable.
    """
    path = Path(path_or_study_folder)
    if path.is_dir():
        path = path / K.TRIALS_FILE
    if not path.is_file():
        if not path.parent.exists():
            raise InputError(f"{path.parent}: no such study folder")
        raise InputError(f"{path}: no trials table (has the study finished a trial?)")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read the trials table: {reason}") from exc
