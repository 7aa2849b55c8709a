"""Seeded, label-stratified picks of training rows: the training sample and the validation carve.

Pure numpy, no datasets: every function takes a stratum per row (`strata`:
the class or intent index; for regression the quantile bin of the target)
and an explicit generator, and returns sorted row positions, so a sample
keeps the rows' original order.

Each stratum's share of a pick is set by `allocate`, largest-remainder
(Hamilton) apportionment within per-stratum bounds: a 20-row sample of
classes holding 60/30/10 rows takes 12/6/2. Rows inside a stratum are drawn
uniformly without replacement.
"""

from __future__ import annotations

import numpy as np

REGRESSION_BINS = 10  # quantile bins of the target that stratify a regression task


def strata(labels, regression: bool = False) -> np.ndarray:
    """One stratum index per row: the label itself, or for regression its quantile bin.

    Regression rows are ranked by target (ties by row order) and cut into
    ``min(REGRESSION_BINS, rows)`` bins of equal size.
    """
    labels = np.asarray(labels)
    if not regression:
        return labels.astype(np.int64)
    n = len(labels)
    bins = min(REGRESSION_BINS, n)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(labels, kind="stable")] = np.arange(n)
    return rank * bins // max(n, 1)


def allocate(counts: np.ndarray, total: int, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Split ``total`` over strata in proportion to ``counts``, each quota within [low, high].

    Quotas start at the floor of each stratum's exact share; the rest go one
    at a time to the stratum furthest below its share (largest remainder),
    and quotas pushed up to ``low`` are paid for by the strata furthest above
    theirs. Ties go to the lower stratum index. Needs
    ``sum(low) <= total <= sum(high)``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    low, high = np.asarray(low, dtype=np.int64), np.asarray(high, dtype=np.int64)
    if not (low <= high).all() or not low.sum() <= total <= high.sum():
        raise ValueError(f"cannot allocate {total} rows within bounds {low.tolist()}..{high.tolist()}")
    share = total * counts / counts.sum()
    quota = np.clip(np.floor(share).astype(np.int64), low, high)
    while quota.sum() < total:
        gap = np.where(quota < high, share - quota, -np.inf)
        quota[int(np.argmax(gap))] += 1
    while quota.sum() > total:
        gap = np.where(quota > low, share - quota, np.inf)
        quota[int(np.argmin(gap))] -= 1
    return quota


def _draw(strata_of_rows: np.ndarray, quota: dict[int, int], rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of ``quota[s]`` rows drawn uniformly from each stratum s."""
    picked = [rng.choice(np.flatnonzero(strata_of_rows == s), size=k, replace=False)
              for s, k in quota.items() if k > 0]
    return np.sort(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)


def stratified_sample(strata_of_rows, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of ``n`` rows (n <= rows), every stratum in proportion.

    When ``n`` is at least the number of strata, every stratum keeps at
    least one row.
    """
    strata_of_rows = np.asarray(strata_of_rows)
    if not 0 <= n <= len(strata_of_rows):
        raise ValueError(f"cannot sample {n} of {len(strata_of_rows)} rows")
    names, counts = np.unique(strata_of_rows, return_counts=True)
    low = np.full(len(names), 1 if n >= len(names) else 0)
    quota = allocate(counts, n, low, counts)
    return _draw(strata_of_rows, dict(zip(names.tolist(), quota.tolist())), rng)


def stratified_split(strata_of_rows, n_out: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split the rows into (kept, taken out): ``n_out`` rows taken out in proportion to each stratum.

    Every stratum keeps at least one row, so ``n_out`` may be at most rows
    minus strata. Both arrays are sorted positions; together they cover
    every row once.
    """
    strata_of_rows = np.asarray(strata_of_rows)
    names, counts = np.unique(strata_of_rows, return_counts=True)
    quota = allocate(counts, n_out, np.zeros(len(names)), counts - 1)
    out = _draw(strata_of_rows, dict(zip(names.tolist(), quota.tolist())), rng)
    kept = np.setdiff1d(np.arange(len(strata_of_rows)), out, assume_unique=True)
    return kept, out
