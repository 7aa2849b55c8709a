"""Selection and schedule logic, without Ray."""

import numpy as np
import pytest

from raypruning.schedule import PruningSchedule
from raypruning.selection import num_kept, select_random, select_top, smooth


def test_select_top_keeps_highest_scores():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    kept = select_top(scores, 0.4, np.random.default_rng(0))
    assert kept.tolist() == [1, 3]


def test_select_top_offset_skips_hardest():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    kept = select_top(scores, 0.4, np.random.default_rng(0), offset=0.2)
    assert kept.tolist() == [2, 3]


def test_select_top_explore_spends_its_share_on_random_others():
    scores = np.arange(100, dtype=float)  # id i has score i: the top 20 are 80..99
    kept = select_top(scores, 0.2, np.random.default_rng(0), explore=0.25)
    assert len(kept) == 20 and len(set(kept.tolist())) == 20
    assert set(range(85, 100)) <= set(kept.tolist())  # the greedy 15
    explored = [i for i in kept.tolist() if i < 85]
    assert len(explored) == 5 and explored != list(range(80, 85))  # drawn, not the next ranks
    others = select_top(scores, 0.2, np.random.default_rng(1), explore=0.25)
    assert others.tolist() != kept.tolist()  # a different seed explores elsewhere
    assert select_top(scores, 0.2, np.random.default_rng(0), explore=1.0).tolist() != list(range(80, 100))


def test_select_top_ties_broken_by_seed_not_by_id():
    scores = np.zeros(100)
    a = select_top(scores, 0.1, np.random.default_rng(1))
    b = select_top(scores, 0.1, np.random.default_rng(1))
    c = select_top(scores, 0.1, np.random.default_rng(2))
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()
    assert a.tolist() != list(range(10))


def test_select_top_nan_ranks_last():
    scores = np.array([np.nan, 0.2, 0.1])
    assert select_top(scores, 0.34, np.random.default_rng(0)).tolist() == [1]


def test_select_random_size_and_seed():
    a = select_random(1000, 0.25, np.random.default_rng(3))
    assert len(a) == 250 and len(set(a.tolist())) == 250
    assert a.tolist() == select_random(1000, 0.25, np.random.default_rng(3)).tolist()


def test_num_kept_never_zero():
    assert num_kept(3, 0.01) == 1
    assert num_kept(10, 1.0) == 10


def test_smoothing_ema_and_ucb():
    s1, s2 = np.array([1.0, 0.0]), np.array([0.0, 0.0])
    m1, st = smooth(s1, None, "ema", alpha=0.8)
    assert m1.tolist() == [1.0, 0.0]
    m2, st = smooth(s2, st, "ema", alpha=0.8)
    assert m2.tolist() == pytest.approx([0.8, 0.0])
    u2, _ = smooth(s2, smooth(s1, None, "ucb", 0.8, 1.0)[1], "ucb", 0.8, 1.0)
    # var = 0.8 * (0 + 0.2 * 1) = 0.16 -> bonus 0.4 for the example whose score moved
    assert u2.tolist() == pytest.approx([0.8 + 0.4, 0.0])
    same, state = smooth(s1, None, "none")
    assert same is s1 and state is None


def test_schedule_events_dynamic_static_full():
    dyn = PruningSchedule(epochs=6, mode="dynamic", warmup_epochs=1, period_epochs=2, keep_fraction=0.5)
    assert dyn.event_epochs() == [1, 3, 5]
    stat = PruningSchedule(epochs=6, mode="static", warmup_epochs=2, period_epochs=1, keep_fraction=0.5)
    assert stat.event_epochs() == [2]
    assert PruningSchedule(6, "full", 1, 1, 0.5).event_epochs() == []
    assert PruningSchedule(6, "dynamic", 1, 1, 1.0).event_epochs() == []


def test_training_pass_scores_stand_in_only_after_the_first_epoch():
    tau1 = PruningSchedule(epochs=6, mode="dynamic", warmup_epochs=1, period_epochs=2, keep_fraction=0.5)
    # Events at 1, 3, 5: the epoch before each, except epoch 0 (an untrained model's pass);
    # the last epoch has no event after it.
    assert [e for e in range(6) if tau1.scores_from_training(e)] == [2, 4]
    tau2 = PruningSchedule(epochs=4, mode="dynamic", warmup_epochs=2, period_epochs=1, keep_fraction=0.5)
    assert [e for e in range(4) if tau2.scores_from_training(e)] == [1, 2]


def test_schedule_ideal_fraction():
    s = PruningSchedule(epochs=4, mode="dynamic", warmup_epochs=1, period_epochs=1, keep_fraction=0.5)
    assert s.ideal_fraction() == pytest.approx((1 + 0.5 * 3) / 4)
    assert s.examples_per_epoch(100) == [100, 50, 50, 50]
    assert s.ideal_fraction(100) == pytest.approx(250 / 400)


def test_checkpoints_every_k_epochs_and_always_before_events_and_at_the_end():
    s = PruningSchedule(epochs=10, mode="dynamic", warmup_epochs=3, period_epochs=3, keep_fraction=0.5)
    assert s.event_epochs() == [3, 6, 9]
    assert [e for e in range(10) if s.checkpoint_after(e, 4)] == [2, 3, 5, 7, 8, 9]
    assert [e for e in range(10) if s.checkpoint_after(e, 1)] == list(range(10))
    full = PruningSchedule(epochs=5, mode="full", warmup_epochs=1, period_epochs=1, keep_fraction=1.0)
    assert [e for e in range(5) if full.checkpoint_after(e, 100)] == [4]

