"""Selection and schedule logic, without Ray."""

import numpy as np
import pytest

from raypruning.schedule import PruningSchedule
from raypruning.selection import (num_kept, select_random, select_random_tokens, select_top, select_top_tokens,
                                  smooth)


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


def test_token_budget_equals_example_budget_when_lengths_are_equal():
    scores = np.random.default_rng(5).random(200)
    lengths = np.full(200, 12)
    by_tokens = select_top_tokens(scores, lengths, 0.3, np.random.default_rng(1))
    assert by_tokens.tolist() == select_top(scores, 0.3, np.random.default_rng(1)).tolist()


def test_token_budget_keeps_top_examples_until_their_tokens_fill_it():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    lengths = np.array([50, 10, 10, 10, 10, 10])  # 100 tokens; f = 0.6 -> 60 tokens
    assert select_top_tokens(scores, lengths, 0.6, np.random.default_rng(0)).tolist() == [0, 1]
    assert select_top_tokens(scores, lengths, 0.65, np.random.default_rng(0)).tolist() == [0, 1, 2]  # passes 65
    # Offset in tokens: skipping 50% of the tokens skips exactly the long hardest example.
    assert select_top_tokens(scores, lengths, 0.3, np.random.default_rng(0), offset=0.5).tolist() == [1, 2, 3]


def test_token_budget_with_exploration_fills_the_whole_budget():
    rng = np.random.default_rng(0)
    scores, lengths = rng.random(500), rng.integers(5, 60, size=500)
    budget = 0.25 * lengths.sum()
    kept = select_top_tokens(scores, lengths, 0.25, np.random.default_rng(2), explore=0.4)
    assert len(set(kept.tolist())) == len(kept)
    assert budget <= lengths[kept].sum() < budget + lengths.max()
    order = np.argsort(-scores)
    greedy = int(np.searchsorted(np.cumsum(lengths[order]), 0.6 * budget)) + 1  # the greedy 60% of the budget
    assert set(order[:greedy].tolist()) <= set(kept.tolist())
    assert len(kept) > greedy + 5  # and the rest went to other examples


def test_random_token_budget():
    lengths = np.random.default_rng(0).integers(5, 60, size=300)
    kept = select_random_tokens(lengths, 0.5, np.random.default_rng(4))
    assert 0.5 * lengths.sum() <= lengths[kept].sum() < 0.5 * lengths.sum() + lengths.max()
    assert kept.tolist() == select_random_tokens(lengths, 0.5, np.random.default_rng(4)).tolist()


def test_ideal_fraction_with_a_token_budget_is_counted_in_tokens():
    s = PruningSchedule(epochs=4, mode="dynamic", warmup_epochs=1, period_epochs=1, keep_fraction=0.33,
                        budget="tokens")
    assert s.ideal_fraction(100) == pytest.approx((1 + 0.33 * 3) / 4)  # not the rounded 33-example count
    assert PruningSchedule(4, "dynamic", 1, 1, 0.33).ideal_fraction(100) == pytest.approx((100 + 3 * 33) / 400)
