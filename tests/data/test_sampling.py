"""Stratified picks: apportionment by hand, seeded draws, the split's guarantees."""

import numpy as np
import pytest

from raypruning.data.sampling import allocate, stratified_sample, stratified_split, strata


def grouped(*counts: int) -> np.ndarray:
    """Strata 0, 1, ... holding counts[i] rows each, grouped (a file ordered by label)."""
    return np.repeat(np.arange(len(counts)), counts)


def test_allocate_largest_remainder_by_hand():
    counts = np.array([60, 30, 10])
    assert allocate(counts, 20, np.zeros(3), counts).tolist() == [12, 6, 2]
    # shares 3.5, 3.5, 2.0 (sum 9, one left over): the tie goes to the lower index
    counts = np.array([35, 35, 20])
    assert allocate(counts, 9, np.zeros(3), counts).tolist() == [4, 3, 2]
    # shares 9.7, 0.2, 0.1 -> 10, 0, 0; a floor of one row each is paid by the largest
    counts = np.array([97, 2, 1])
    assert allocate(counts, 10, np.zeros(3), counts).tolist() == [10, 0, 0]
    assert allocate(counts, 10, np.ones(3), counts).tolist() == [8, 1, 1]


def test_allocate_respects_upper_bounds():
    counts = np.array([1, 1, 8])
    # shares 0.5, 0.5, 4: the two singletons may not give their only row away
    assert allocate(counts, 5, np.zeros(3), counts - 1).tolist() == [0, 0, 5]
    with pytest.raises(ValueError):
        allocate(counts, 9, np.zeros(3), counts - 1)


def test_sample_of_grouped_rows_keeps_every_stratum_in_proportion():
    rows = grouped(60, 30, 10)
    picked = stratified_sample(rows, 20, np.random.default_rng(0))
    assert np.all(np.diff(picked) > 0)  # sorted, no repeats: the rows' order is kept
    assert np.bincount(rows[picked]).tolist() == [12, 6, 2]
    assert picked.tolist() == stratified_sample(rows, 20, np.random.default_rng(0)).tolist()
    assert picked.tolist() != stratified_sample(rows, 20, np.random.default_rng(1)).tolist()


def test_sample_keeps_rare_strata_only_when_there_is_room():
    rows = grouped(97, 2, 1)
    assert np.bincount(rows[stratified_sample(rows, 10, np.random.default_rng(0))]).tolist() == [8, 1, 1]
    assert np.bincount(rows[stratified_sample(rows, 2, np.random.default_rng(0))], minlength=3).tolist() == [2, 0, 0]


def test_split_is_stratified_disjoint_and_keeps_a_row_of_every_stratum():
    rows = grouped(60, 30, 9, 1)
    kept, out = stratified_split(rows, 20, np.random.default_rng(0))
    assert sorted(np.concatenate([kept, out]).tolist()) == list(range(100))
    assert np.bincount(rows[out], minlength=4).tolist() == [12, 6, 2, 0]
    assert np.bincount(rows[kept]).tolist() == [48, 24, 7, 1]


def test_regression_strata_are_equal_quantile_bins():
    target = np.arange(100.0)[::-1]  # descending: the bins follow the value, not the row
    bins = strata(target, regression=True)
    assert np.bincount(bins).tolist() == [10] * 10
    assert bins[0] == 9 and bins[-1] == 0
    assert strata([3.0, 1.0, 2.0], regression=True).tolist() == [2, 0, 1]  # fewer rows than bins
    assert strata(np.array([2, 0, 1])).tolist() == [2, 0, 1]
