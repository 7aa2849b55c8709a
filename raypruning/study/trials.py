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

import dataclasses
import errno
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from raypruning import keys as K
from raypruning import pareto
from raypruning.config import Config, apply_overrides, from_dict
from raypruning.errors import InputError
from raypruning.keys import Method

BASELINE_KEY = "baseline"  # Tune config key holding a baseline trial's overrides
_FIXED = {"pruning.warmup_epochs", "pruning.period_epochs", "pruning.keep_fraction"}  # their own columns


@dataclass(frozen=True)
class RunResult:
    """What the table keeps of one finished run (one seed of a trial), from its summary."""

    seed: int
    score: float | None
    test_score: float | None
    total_time_s: float | None
    wall_time_s: float | None
    train_time_s: float | None
    scoring_time_s: float | None
    examples_trained: int | None
    metric: str | None
    history: list = field(default_factory=list)  # per-epoch reports: the fewer-epochs curve
    # What the study spent on the run: total_time_s less a warmup branched from the reference
    # (None: a report from before cost_s, read as total_time_s).
    cost_s: float | None = None

    @classmethod
    def from_summary(cls, seed: int, summary: dict) -> "RunResult":
        history = [{k: h.get(k) for k in _CURVE_KEYS} for h in summary.get(K.HISTORY, [])]
        return cls(seed, summary.get(K.SCORE), summary.get(K.TEST_SCORE), summary.get(K.TOTAL_TIME),
                   summary.get(K.WALL_TIME), summary.get(K.TRAIN_TIME), summary.get(K.SCORING_TIME),
                   summary.get(K.EXAMPLES_TRAINED), summary.get(K.METRIC), history,
                   summary.get(K.COST, summary.get(K.TOTAL_TIME)))

    def to_dict(self) -> dict:
        return asdict(self)


_CURVE_KEYS = (K.EPOCH, K.SCORE, K.TEST_SCORE, K.TOTAL_TIME, K.WALL_TIME, K.TRAIN_TIME, K.SCORING_TIME,
               K.EXAMPLES_TRAINED, K.METRIC)


@dataclass(frozen=True)
class TrialOutcome:
    """A Tune trial as the table needs it."""

    trial_id: str
    params: dict  # the Tune config: dotted searched keys, or {BASELINE_KEY: {...}}
    last_result: dict  # the last metrics the trial reported
    failed: bool = False

    @property
    def finished(self) -> bool:
        """Its seed report arrived (a trial's earlier reports are its runs' epochs)."""
        return not self.failed and bool(self.last_result.get(K.DONE)) and K.SEED_RUNS in self.last_result

    @property
    def stopped(self) -> bool:
        """study.early_stop ended it at a pruning event (`raypruning.study.early_stop`)."""
        return not self.failed and not self.finished and bool(self.last_result.get(K.EARLY_STOP))

    @property
    def is_baseline(self) -> bool:
        return BASELINE_KEY in self.params

    @property
    def overrides(self) -> dict:
        """The trial's dotted overrides of the study's base config."""
        params = dict(self.params)
        baseline = params.pop(BASELINE_KEY, {})
        return {**params, **baseline}

    @property
    def runs(self) -> list[RunResult]:
        """One result per seed, from the trial's seed report."""
        return [RunResult(**run) for run in json.loads(self.last_result.get(K.SEED_RUNS, "[]"))]

    @classmethod
    def from_tune_trial(cls, trial) -> "TrialOutcome":
        """From a `ray.tune.experiment.Trial`, as a Tune Callback receives it."""
        return cls(trial.trial_id, dict(trial.config), dict(trial.last_result or {}), trial.status == "ERROR")

    @classmethod
    def from_result(cls, result) -> "TrialOutcome":
        """From a `ray.tune.Result` of a finished `ResultGrid`."""
        metrics = dict(result.metrics or {})
        return cls(str(metrics.get("trial_id", "")), dict(result.config or {}), metrics, result.error is not None)


def seed_report(runs: list[RunResult]) -> dict:
    """A trial's one report to Tune: each objective's mean over its seeds (what Optuna
    optimises) and every run's result (what the table is built from)."""
    def mean(name: str) -> float | None:
        values = [getattr(r, name) for r in runs if getattr(r, name) is not None]
        return float(np.mean(values)) if values else None

    return {K.SCORE: mean("score"), K.TEST_SCORE: mean("test_score"), K.TOTAL_TIME: mean("total_time_s"),
            K.WALL_TIME: mean("wall_time_s"), K.EXAMPLES_TRAINED: mean("examples_trained"),
            # JSON text: Tune's TensorBoard logger skips strings, where it warns on a list of dicts.
            K.METRIC: runs[0].metric, K.SEED_RUNS: json.dumps([r.to_dict() for r in runs]), K.DONE: True}


@dataclass(frozen=True)
class TrialRecord:
    """One row of trials.parquet (one run), before the columns relative to the reference."""

    trial_id: str  # the setting: every seed of a trial shares it
    method: Method
    epochs: int
    warmup_epochs: int
    period_epochs: int
    keep_fraction: float
    is_reference: bool
    run: RunResult  # the run's seed, scores, times and examples
    overrides: dict = field(default_factory=dict)  # dotted key -> value, re-applied by `best`
    stopped_epoch: int | None = None  # early stopping ended the run after this many epochs

    @classmethod
    def from_run(cls, trial_id: str, cfg: Config, run: RunResult, overrides: dict,
                 is_reference: bool) -> "TrialRecord":
        p = cfg.pruning
        method = Method.of(p.mode, p.score, p.keep_fraction)
        if is_reference:
            method = Method.REFERENCE
        elif method is Method.FULL and "train.epochs" in overrides:
            method = Method.FULL_EPOCHS
        return cls(trial_id=trial_id, method=method, epochs=cfg.train.epochs, warmup_epochs=p.warmup_epochs,
                   period_epochs=p.period_epochs, keep_fraction=p.keep_fraction, is_reference=is_reference,
                   run=run, overrides=dict(overrides))

    def to_row(self) -> dict:
        """The table row: fixed columns, the overrides as JSON, then each other searched key
        under its short name (its dotted name when the short one is taken, as pruning.score)."""
        run = self.run
        row = {
            K.TRIAL_ID: self.trial_id, K.WARMUP: self.warmup_epochs, K.PERIOD: self.period_epochs,
            K.KEEP: self.keep_fraction, K.SCORE: run.score, K.TOTAL_TIME: run.total_time_s,
            K.COST: run.total_time_s if run.cost_s is None else run.cost_s,
            K.WALL_TIME: run.wall_time_s, K.EXAMPLES_TRAINED: run.examples_trained,
            K.IS_REFERENCE: self.is_reference, K.METHOD: self.method.value, K.SEED: run.seed,
            K.EPOCHS: self.epochs, K.TEST_SCORE: run.test_score, K.TRAIN_TIME: run.train_time_s,
            K.SCORING_TIME: run.scoring_time_s, K.METRIC: run.metric,
            K.OVERRIDES: json.dumps(self.overrides, sort_keys=True),
            K.STATUS: K.STATUS_DONE if self.stopped_epoch is None else K.STATUS_STOPPED,
            K.STOPPED_EPOCH: self.stopped_epoch,
        }
        for key, value in self.overrides.items():
            if key in _FIXED:
                continue
            short = key.split(".")[-1]
            row[short if short not in row else key] = value
        return row


def records(outcomes: list[TrialOutcome], reference: dict, base_config: dict,
            epoch_curve: bool = False) -> list[TrialRecord]:
    """Records of the finished trials' runs, in trial-id order.

    The first non-baseline trial whose values equal the reference point is the
    reference; with epoch_curve its per-epoch history also gives the rows of
    full data for k < E epochs (method full-epochs), one per seed and k.
    A trial that early stopping ended gives its rows from its last epoch report
    (`stopped_records`).
    """
    out, reference_seen = [], False
    for outcome in sorted(outcomes, key=lambda o: o.trial_id):
        if outcome.stopped:
            out.extend(stopped_records(outcome, base_config))
            continue
        if not outcome.finished:
            continue
        values = outcome.overrides
        is_reference = (not reference_seen and not outcome.is_baseline
                        and all(values.get(k) == v for k, v in reference.items()))
        reference_seen = reference_seen or is_reference
        cfg = from_dict(apply_overrides(base_config, values), source=f"<trial {outcome.trial_id}>")
        for run in outcome.runs:
            out.append(TrialRecord.from_run(outcome.trial_id, cfg, run, values, is_reference))
        if is_reference and epoch_curve:
            out.extend(_epoch_curve(outcome, cfg, values))
    return out


def stopped_records(outcome: TrialOutcome, base_config: dict) -> list[TrialRecord]:
    """The rows of a trial that early stopping ended, every one with status stopped: the run it
    stopped, with its score, times and cost after its last reported epoch, and (study.seeds > 1)
    the runs of the seeds it finished before, at their ends."""
    values = outcome.overrides
    cfg = from_dict(apply_overrides(base_config, values), source=f"<trial {outcome.trial_id}>")
    last = outcome.last_result
    earlier = [RunResult(**run) for run in json.loads(last.get(K.EARLIER_RUNS, "[]"))]
    stopped = RunResult.from_summary(int(last.get(K.SEED, cfg.train.seed)), last)
    out = []
    for run, epochs in [*((r, cfg.train.epochs) for r in earlier), (stopped, int(last.get(K.EPOCH) or 0))]:
        record = TrialRecord.from_run(outcome.trial_id, cfg, run, values, is_reference=False)
        out.append(dataclasses.replace(record, stopped_epoch=epochs))
    return out


def _epoch_curve(reference: TrialOutcome, cfg: Config, values: dict) -> list[TrialRecord]:
    """Full data for k = 1..E-1 epochs, read from the reference runs' per-epoch reports."""
    out = []
    for run in reference.runs:
        for epoch in run.history:
            k = epoch.get(K.EPOCH)
            if not k or k >= cfg.train.epochs:
                continue
            # A warmup is meaningless on full data; zero keeps the k-epoch config valid for `best`.
            overrides = {**values, **Method.FULL_EPOCHS.overrides(), "pruning.warmup_epochs": 0, "train.epochs": k}
            # Read from the reference's history, not run: the study spent nothing more on it.
            result = dataclasses.replace(RunResult.from_summary(run.seed, epoch), cost_s=0.0)
            record = TrialRecord.from_run(reference.trial_id, cfg, result, overrides, is_reference=False)
            out.append(dataclasses.replace(record, trial_id=f"{reference.trial_id}-e{k}", epochs=k,
                                           warmup_epochs=0))
    return out


def trials_table(recs: list[TrialRecord], objectives: dict[str, str]) -> pd.DataFrame:
    """One row per run with time_saving and score_delta (against the reference's mean over
    seeds) and pareto: whether the run's setting is on the front of per-setting means (of the
    finished settings: a stopped trial is never on it)."""
    df = pd.DataFrame([r.to_row() for r in recs])
    if df.empty:
        return df
    df = pareto.add_relative_columns(df, time_col=pareto.time_column(objectives))
    settings = pareto.per_setting(df)
    on_front = dict(zip(settings[K.TRIAL_ID], pareto.pareto_mask(settings, objectives)))
    df[K.PARETO] = df[K.TRIAL_ID].map(on_front).fillna(False).astype(bool)  # stopped trials: never
    return order_columns(df)


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

    Raises:
        InputError: one line naming the file and the cause when it cannot be written (a full
            disk, a read-only or forbidden folder); the table written before stays as it was.
    """
    path = Path(path)
    if path.is_dir():
        path = path / K.TRIALS_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    os.close(fd)
    try:
        order_columns(df).to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # pyarrow's write errors are OSErrors too
            raise _cannot_write(path, exc) from None
        raise
    return path


def _cannot_write(path: Path, exc: OSError) -> InputError:
    if exc.errno:
        reason = f"{os.strerror(exc.errno)} ({errno.errorcode.get(exc.errno, exc.errno)})"
    else:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(f"{path}: cannot write the trials table: {reason}")


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
