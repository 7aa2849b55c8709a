"""The Pareto front of time against accuracy, and the questions `best` asks of it.

Pure pandas/numpy on a trials table (no Ray, no files, no plots), so every
query can be tested on a hand-made DataFrame: columns relative to the
full-data reference, the non-dominated rows, their hypervolume, and the
fastest (most accurate) row within a score drop (time budget).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from raypruning import keys as K
from raypruning.errors import InputError
from raypruning.keys import Method

# Score comparisons allow this much float rounding (points), so that a trial
# exactly max_drop below the reference is not lost to 89.3 - 1.0 != 88.3.
_SCORE_TOLERANCE = 1e-9


def time_column(objectives: dict[str, str]) -> str:
    """The study's time objective: the first minimised one (total_time_s by default)."""
    return next((c for c, d in objectives.items() if d == "min"), K.TOTAL_TIME)


# --- columns relative to the reference ------------------------------------------------


_AVERAGED = (K.SCORE, K.TEST_SCORE, K.TOTAL_TIME, K.COST, K.WALL_TIME, K.TRAIN_TIME, K.SCORING_TIME, K.EXAMPLES_TRAINED,
             K.TIME_SAVING, K.SCORE_DELTA)


def finished(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of trials that ran every epoch: without those early stopping ended (status
    stopped). A table from before the status column is all finished."""
    if K.STATUS not in df.columns:
        return df
    return df[(df[K.STATUS] != K.STATUS_STOPPED).to_numpy()]


def per_setting(df: pd.DataFrame) -> pd.DataFrame:
    """One row per finished setting (a trial_id): its runs' numbers averaged over seeds, with
    score_std (ddof 1; NaN for one seed) and seeds (how many runs). The front, `best`
    and `pareto` answer on these means; the per-run rows stay in trials.parquet, with the
    trials early stopping ended (status stopped), which these means leave out."""
    df = finished(df)
    if df.empty or K.TRIAL_ID not in df.columns:
        return df.copy()
    rows = df.copy()
    averaged = [c for c in _AVERAGED if c in rows.columns]
    for col in averaged:
        rows[col] = pd.to_numeric(rows[col], errors="coerce").astype(float)
    groups = rows.groupby(K.TRIAL_ID, sort=False, dropna=False)
    out = groups.first()
    out[averaged] = groups[averaged].mean()
    out[K.SCORE_STD] = groups[K.SCORE].std(ddof=1) if K.SCORE in rows.columns else np.nan
    out[K.SEEDS] = groups.size()
    return out.drop(columns=[K.SEED], errors="ignore").reset_index()


def _reference_rows(df: pd.DataFrame) -> pd.DataFrame:
    if K.IS_REFERENCE not in df.columns:
        return df.iloc[0:0]
    flags = df[K.IS_REFERENCE].astype("boolean").fillna(False).astype(bool)
    return df[flags.to_numpy()]


def reference_values(df: pd.DataFrame, time_col: str = K.TOTAL_TIME) -> tuple[float, float] | None:
    """(score, time) of the full-data reference: the mean over rows with is_reference True.

    Returns:
        None when there is no reference row or its score is missing.
    """
    ref = _reference_rows(df)
    score = pd.to_numeric(ref["score"], errors="coerce").mean() if len(ref) else float("nan")
    if not np.isfinite(score):
        return None
    time = pd.to_numeric(ref[time_col], errors="coerce").mean() if time_col in ref.columns else float("nan")
    return float(score), float(time)


def add_relative_columns(df: pd.DataFrame, time_col: str = K.TOTAL_TIME) -> pd.DataFrame:
    """A copy with time_saving (1 - time / reference time) and score_delta (score - reference score).

    The reference is the row with is_reference True (the mean if several).
    Without one, both columns are NaN.
    """
    out = df.copy()
    ref = reference_values(df, time_col)
    score = pd.to_numeric(out["score"], errors="coerce") if "score" in out.columns else pd.Series(np.nan, index=out.index)
    time = pd.to_numeric(out[time_col], errors="coerce") if time_col in out.columns else pd.Series(np.nan, index=out.index)
    if ref is None:
        out[K.TIME_SAVING] = np.nan
        out[K.SCORE_DELTA] = np.nan
        return out
    ref_score, ref_time = ref
    out[K.SCORE_DELTA] = (score - ref_score).astype(float)
    if np.isfinite(ref_time) and ref_time > 0:
        out[K.TIME_SAVING] = (1.0 - time / ref_time).astype(float)
    else:
        out[K.TIME_SAVING] = np.nan
    return out


# --- Pareto front and hypervolume ---------------------------------------------------------


def _check_objectives(df: pd.DataFrame, objectives: dict[str, str]) -> None:
    if not objectives:
        raise InputError("objectives: name at least one column, e.g. {'score': 'max', 'total_time_s': 'min'}")
    problems = []
    for col, direction in objectives.items():
        if direction not in ("max", "min"):
            problems.append(f"objective {col!r}: direction must be 'max' or 'min', got {direction!r}")
        if col not in df.columns:
            problems.append(f"objective {col!r}: no such column in the trials table (columns: {', '.join(map(str, df.columns))})")
    if problems:
        raise InputError(problems)


def _gains(df: pd.DataFrame, objectives: dict[str, str]) -> np.ndarray:
    """Objective values as an (n, k) float array oriented so that larger is better."""
    _check_objectives(df, objectives)
    cols = []
    for col, direction in objectives.items():
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        cols.append(values if direction == "max" else -values)
    return np.column_stack(cols) if cols else np.empty((len(df), 0))


def _nondominated(gains: np.ndarray) -> np.ndarray:
    """Rows of a larger-is-better array that no other row dominates; non-finite rows excluded."""
    valid = np.isfinite(gains).all(axis=1)
    mask = np.zeros(len(gains), dtype=bool)
    pts = gains[valid]
    keep = np.ones(len(pts), dtype=bool)
    for i, p in enumerate(pts):
        dominated_by = (pts >= p).all(axis=1) & (pts > p).any(axis=1)
        keep[i] = not dominated_by.any()
    mask[np.flatnonzero(valid)[keep]] = True
    return mask


def pareto_mask(df: pd.DataFrame, objectives: dict[str, str]) -> np.ndarray:
    """Which rows are on the Pareto front.

    A row is dominated when another row is at least as good on every
    objective and strictly better on one; exact duplicates are therefore both
    kept. Rows with a missing (NaN) objective are never on the front.

    Args:
        df: the trials table.
        objectives: column -> "max" or "min".

    Returns:
        Boolean array aligned with the rows of df.
    """
    return _nondominated(_gains(df, objectives))


def add_pareto_column(df: pd.DataFrame, objectives: dict[str, str]) -> pd.DataFrame:
    """A copy with the `pareto` column computed on the given objectives."""
    out = df.copy()
    out[K.PARETO] = pareto_mask(df, objectives)
    return out


def hypervolume(df: pd.DataFrame, objectives: dict[str, str], reference_point: dict[str, float] | None = None) -> float:
    """Area dominated by the front and bounded by a reference point (2 objectives, exact sweep).

    Args:
        df: the trials table.
        objectives: exactly two columns -> "max"/"min", e.g. score max and
            total_time_s min; the area is in their units multiplied
            (point-seconds for the default objectives).
        reference_point: column -> value in the column's own units. Default:
            the worst observed value of each objective (lowest score, longest
            time) over rows with both values, so the trials that set it add
            no area along that axis; pass a fixed point to compare studies.

    Returns:
        The hypervolume; 0.0 when no row is strictly better than the
        reference point on both objectives.
    """
    if len(objectives) != 2:
        raise InputError(f"hypervolume: needs exactly two objectives, got {list(objectives)}")
    gains = _gains(df, objectives)
    valid = np.isfinite(gains).all(axis=1)
    if not valid.any():
        return 0.0
    if reference_point is None:
        ref = gains[valid].min(axis=0)
    else:
        missing = [col for col in objectives if col not in reference_point]
        if missing:
            raise InputError(f"hypervolume: reference_point lacks {missing}")
        ref = np.array([reference_point[col] if d == "max" else -reference_point[col] for col, d in objectives.items()], dtype=np.float64)
    front = gains[_nondominated(gains)]
    front = front[(front > ref).all(axis=1)]
    # Sweep from the best first objective down; each point with a higher
    # second objective than all before it adds a new horizontal slab.
    front = front[np.lexsort((-front[:, 1], -front[:, 0]))]
    area, top = 0.0, ref[1]
    for x, y in front:
        if y > top:
            area += (x - ref[0]) * (y - top)
            top = y
    return float(area)


# --- `best` queries ---------------------------------------------------------------------


def _first_sorted(rows: pd.DataFrame, by: list[str], ascending: list[bool]) -> pd.Series | None:
    if rows.empty:
        return None
    if K.TRIAL_ID in rows.columns:
        by, ascending = [*by, K.TRIAL_ID], [*ascending, True]
    return rows.sort_values(by, ascending=ascending, kind="mergesort").iloc[0]


def _with_numeric(df: pd.DataFrame, time_col: str) -> pd.DataFrame:
    for col in ("score", time_col):
        if col not in df.columns:
            raise InputError(f"trials table has no {col!r} column (columns: {', '.join(map(str, df.columns))})")
    rows = df.copy()
    rows["score"] = pd.to_numeric(rows["score"], errors="coerce")
    rows[time_col] = pd.to_numeric(rows[time_col], errors="coerce")
    return rows[np.isfinite(rows["score"]) & np.isfinite(rows[time_col])]


def best_within_drop(df: pd.DataFrame, max_drop: float, time_col: str = K.TOTAL_TIME,
                     among: np.ndarray | None = None) -> pd.Series | None:
    """The fastest row whose score is at most max_drop points below the reference.

    The reference itself qualifies (for max_drop >= 0), so with a reference
    there is always an answer. Ties in time go to the higher score, then the
    lower trial_id.

    Args:
        df: the trials table, with an is_reference row.
        max_drop: allowed score drop in points.
        time_col: the time to minimize.
        among: optional boolean mask of the rows that may answer (e.g. `is_pruned(df)`).

    Returns:
        The row, or None when there is no reference (or no row qualifies).
    """
    if not math.isfinite(max_drop):
        raise InputError(f"max drop must be a finite number of points, got {max_drop}")
    rows = _with_numeric(df if among is None else df[among], time_col)
    ref = reference_values(df, time_col)
    if ref is None:
        return None
    ok = rows[rows["score"] >= ref[0] - max_drop - _SCORE_TOLERANCE]
    return _first_sorted(ok, [time_col, "score"], [True, False])


def best_within_budget(df: pd.DataFrame, budget_s: float, time_col: str = K.TOTAL_TIME) -> pd.Series | None:
    """The most accurate row whose time is at most budget_s; ties go to the faster, then the lower trial_id.

    Returns:
        The row, or None when no row fits the budget.
    """
    if not math.isfinite(budget_s):
        raise InputError(f"time budget must be a finite number of seconds, got {budget_s}")
    rows = _with_numeric(df, time_col)
    ok = rows[rows[time_col] <= budget_s]
    return _first_sorted(ok, ["score", time_col], [False, True])




_NOT_PRUNED = {Method.REFERENCE.value, Method.FULL.value, Method.FULL_EPOCHS.value}


def is_pruned(df: pd.DataFrame) -> np.ndarray:
    """Rows of a pruning method (not the reference, full data, or full data for fewer epochs)."""
    if K.METHOD not in df.columns:
        return ~df.get(K.IS_REFERENCE, pd.Series(False, index=df.index)).astype(bool).to_numpy()
    return ~df[K.METHOD].isin(_NOT_PRUNED).to_numpy()


def fewer_epochs_rival(settings: pd.DataFrame, pruned: pd.Series, time_col: str = K.TOTAL_TIME) -> pd.Series | None:
    """The most accurate full-epochs row at least as fast and as accurate as a pruned setting:
    when there is one, stopping full-data training earlier beats that pruning setting."""
    if K.METHOD not in settings.columns:
        return None
    rows = _with_numeric(settings[settings[K.METHOD] == Method.FULL_EPOCHS.value], time_col)
    rivals = rows[(rows[time_col] <= pruned[time_col]) & (rows[K.SCORE] >= pruned[K.SCORE] - _SCORE_TOLERANCE)]
    return _first_sorted(rivals, [K.SCORE, time_col], [False, True])
