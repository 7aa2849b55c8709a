"""Soft pruning (InfoBatch) without Ray: the selection, the annealing, the schedule and the loss rescaling."""

import math

import numpy as np
import pytest
import torch

from raypruning.config import load_config
from raypruning.data.schema import CLASSIFICATION, JOINT
from raypruning.errors import InputError
from raypruning.keys import Method
from raypruning.run_state import RunState
from raypruning.schedule import PruningSchedule
from raypruning.scoring import IGNORE, per_example_loss, training_loss
from raypruning.soft import SoftSelection, anneal_epochs, pruned_epochs, select_soft, update_table
from raypruning.validate import run_problems, study_problems


# ---------------------------------------------------------------- the selection


def test_below_mean_examples_lose_a_share_r_and_the_kept_ones_are_scaled():
    # mean of the finite scores: (0.1 + 0.2 + 0.3 + 0.4 + 5 + 6) / 6 = 2; ids 0-3 are below it.
    scores = np.array([0.1, 0.2, 0.3, 0.4, 5.0, 6.0, np.inf])
    kept, weights, below = select_soft(scores, 0.5, np.random.default_rng(3))
    assert below == 4
    skipped = sorted(set(range(7)) - set(kept.tolist()))
    assert len(skipped) == 2 and set(skipped) <= {0, 1, 2, 3}
    assert list(kept) == sorted(kept) and len(kept) == 5
    assert all(weights[i] == 0 for i in skipped)
    assert [weights[i] for i in kept if i < 4] == [2.0, 2.0]  # 1 / (1 - 0.5)
    assert list(weights[4:]) == [1.0, 1.0, 1.0]  # above the mean, and never seen (+inf): kept as they are


def test_same_generator_same_selection_and_other_seeds_other_selections():
    scores = np.random.default_rng(0).random(200)
    first = select_soft(scores, 0.5, np.random.default_rng(11))[0]
    assert np.array_equal(first, select_soft(scores, 0.5, np.random.default_rng(11))[0])
    assert not np.array_equal(first, select_soft(scores, 0.5, np.random.default_rng(12))[0])


def test_each_examples_expected_weight_is_one_even_when_the_count_rounds():
    # 5 below the mean and r = 0.5: 2 skipped, 3 kept at weight 5/3 (1/(1-r) = 2 would overshoot by 20%).
    scores = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 9.0, 9.5])
    rng = np.random.default_rng(0)
    total = np.zeros(len(scores))
    draws = 6000
    for _ in range(draws):
        total += select_soft(scores, 0.5, rng)[1]
    np.testing.assert_allclose(total / draws, 1.0, atol=0.05)


def test_no_share_skips_nothing():
    kept, weights, below = select_soft(np.arange(10.0), 0.0, np.random.default_rng(0))
    assert list(kept) == list(range(10)) and (weights == 1).all() and below == 5


def test_the_table_keeps_stale_scores_of_skipped_examples():
    table = update_table(None, np.array([0.5, np.nan, 2.0]))
    assert list(table) == [0.5, np.inf, 2.0]  # never trained: +inf
    assert list(update_table(table, np.array([np.nan, 1.0, 3.0]))) == [0.5, 1.0, 3.0]


# ---------------------------------------------------------------- the calendar


@pytest.mark.parametrize("epochs,fraction,want", [(4, 0.125, 1), (8, 0.125, 1), (10, 0.125, 2), (40, 0.125, 5),
                                                  (5, 0.0, 0), (5, 1.0, 5)])
def test_annealing_is_the_last_ceil_of_the_fraction(epochs, fraction, want):
    assert anneal_epochs(epochs, fraction) == want


def test_epoch_zero_and_the_annealing_train_everything_at_weight_one():
    scores = np.random.default_rng(1).random(50)
    rng = np.random.default_rng(0)
    assert list(pruned_epochs(5, 0.2)) == [1, 2, 3]
    first = SoftSelection.choose(0, None, 50, 5, 0.5, 0.2, rng)
    last = SoftSelection.choose(4, scores, 50, 5, 0.5, 0.2, rng)
    middle = SoftSelection.choose(3, scores, 50, 5, 0.5, 0.2, rng)
    for sel, reason in ((first, "first_epoch"), (last, "anneal")):
        assert len(sel.kept_ids) == 50 and (sel.weights == 1).all() and sel.record()["selection_reason"] == reason
    assert middle.record()["selection"] == "soft" and len(middle.kept_ids) == 50 - middle.below_mean // 2


def test_a_selection_records_its_epoch_as_the_event():
    sel = SoftSelection.choose(2, np.arange(10.0), 10, 4, 0.5, 0.125, np.random.default_rng(0))
    state = RunState()
    sel.record_into(state)
    rows = state.scores_frame()
    assert (rows["event"] == 2).all() and (rows["epoch"] == 2).all()
    assert sorted(rows.loc[rows["kept"], "example_id"]) == state.kept_ids == sel.kept_ids.tolist()
    assert state.events[0]["below_mean"] == 5 and state.events[0]["kept"] == 8
    # 5 below the mean 4.5, 2 of them skipped: the other 3 weigh 5/3.
    assert state.loss_weights[state.kept_ids].tolist() == pytest.approx([5 / 3] * 3 + [1.0] * 5)


def test_soft_state_round_trips_through_a_checkpoint(tmp_path):
    state = RunState(next_epoch=2)
    SoftSelection.choose(1, np.arange(6.0), 6, 4, 0.5, 0.125, np.random.default_rng(0)).record_into(state)
    state.soft_scores = np.array([0.5, 1.0, np.inf, 2.0, 3.0, 4.0])
    state.save(tmp_path)
    loaded = RunState.load(tmp_path)
    np.testing.assert_array_equal(loaded.soft_scores, state.soft_scores)
    np.testing.assert_array_equal(loaded.loss_weights, state.loss_weights)
    assert loaded.kept_ids == state.kept_ids


def test_the_soft_schedule_selects_every_epoch_and_keeps_scores_until_the_last_pruned_one():
    s = PruningSchedule(5, "soft", 1, 1, 0.5, prune_ratio=0.5, anneal_fraction=0.2)
    assert s.prunes and [s.is_event(e) for e in range(5)] == [True] * 5
    # Pruned epochs 1-3 select on scores from epochs 0-2; epoch 3's and 4's scores are never used.
    assert [s.scores_from_training(e) for e in range(5)] == [True, True, True, False, False]
    # (100 + (100 - 20) + (100 - 15) + (100 - 0) + 100) / 500, from the below-mean counts 40, 31, 1
    assert s.soft_ideal_fraction(100, {1: 40, 2: 31, 3: 1}) == pytest.approx(465 / 500)
    assert not PruningSchedule(5, "soft", 1, 1, 0.5, prune_ratio=0.0).prunes
    assert not PruningSchedule(2, "soft", 1, 1, 0.5, anneal_fraction=0.5).prunes  # epoch 0 trains all, 1 anneals


# ---------------------------------------------------------------- the loss rescaling


def _joint_batch(seed: int = 0, b: int = 24, length: int = 6, classes: int = 4, slots: int = 5):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(b, 8, generator=g)
    token_feats = torch.randn(b, length, 8, generator=g)
    slot_labels = torch.randint(0, slots, (b, length), generator=g)
    slot_labels[:, -2:] = IGNORE  # padding
    slot_labels[::3, 0] = IGNORE  # and a few non-first sub-tokens
    batch = {"label": torch.randint(0, classes, (b,), generator=g), "slot_labels": slot_labels}
    torch.manual_seed(seed)
    model = torch.nn.ModuleDict({"intent": torch.nn.Linear(8, classes), "slot": torch.nn.Linear(8, slots)})
    return model, feats, token_feats, batch


def _outputs(model, feats, token_feats) -> dict:
    return {"logits": model["intent"](feats), "slot_logits": model["slot"](token_feats)}


def _grad(model, loss) -> torch.Tensor:
    model.zero_grad()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def test_weights_of_one_are_the_plain_training_loss():
    model, feats, token_feats, batch = _joint_batch()
    out = _outputs(model, feats, token_feats)
    ones = torch.ones(len(feats))
    for kind in (JOINT, CLASSIFICATION):
        assert torch.allclose(training_loss(out, batch, kind, ones), training_loss(out, batch, kind))


def test_rescaled_soft_selections_keep_the_full_batch_gradient_on_average():
    """InfoBatch's claim: E[rescaled pruned-batch gradient] = full-batch gradient; without the
    rescaling (kept weights 1) the below-mean examples are under-weighted by (1 - r)."""
    model, feats, token_feats, batch = _joint_batch()
    full = _grad(model, training_loss(_outputs(model, feats, token_feats), batch, JOINT))
    with torch.no_grad():
        scores = per_example_loss(_outputs(model, feats, token_feats), batch, JOINT).double().numpy()
    rng = np.random.default_rng(0)
    rescaled, unscaled = torch.zeros_like(full), torch.zeros_like(full)
    draws = 800
    for _ in range(draws):
        _, weights, below = select_soft(scores, 0.5, rng)
        assert 0 < below < len(scores)
        w = torch.as_tensor(weights, dtype=torch.float32)
        rescaled += _grad(model, training_loss(_outputs(model, feats, token_feats), batch, JOINT, w))
        broken = (w > 0).float()  # the same selection with every kept weight 1
        unscaled += _grad(model, training_loss(_outputs(model, feats, token_feats), batch, JOINT, broken))
    error = ((rescaled / draws - full).norm() / full.norm()).item()
    broken_error = ((unscaled / draws - full).norm() / full.norm()).item()
    assert error < 0.03, error
    assert broken_error > 0.15, broken_error  # about 0.26 here


# ---------------------------------------------------------------- config, validation and the method name


def test_soft_takes_its_score_from_the_training_pass_only():
    assert run_problems(load_config(None, ["pruning.mode=soft", "pruning.score=loss"])) == []
    assert run_problems(load_config(None, ["pruning.mode=dynamic", "pruning.score=grand"])) == []
    with pytest.raises(InputError) as err:
        load_config(None, ["pruning.mode=soft", "pruning.score=grand"])
    assert "pruning.score" in str(err.value) and "training forward pass" in str(err.value)


@pytest.mark.parametrize("key,value", [("prune_ratio", 1.0), ("prune_ratio", -0.1), ("anneal_fraction", 1.5)])
def test_soft_ranges_are_checked(key, value):
    with pytest.raises(InputError) as err:
        load_config(None, [f"pruning.{key}={value}"])
    assert f"pruning.{key}" in str(err.value)


def test_a_study_may_search_the_mode_with_soft_only_keys():
    space = "search.space={mode: {choice: [dynamic, soft]}, prune_ratio: {uniform: [0.3, 0.7]}, " \
            "keep_fraction: {uniform: [0.2, 1.0]}, anneal_fraction: {choice: [0.0, 0.125]}}"
    assert study_problems(load_config(None, [space]), against_run=True) == []


def test_searching_soft_with_a_score_soft_cannot_use_is_a_study_problem():
    with pytest.raises(InputError) as err:
        load_config(None, ["pruning.score=grand", "search.space={mode: {choice: [dynamic, soft]}}"])
    assert str(err.value).startswith("<defaults>: key 'search.space.mode': value 'soft' is invalid: mode 'soft'")
    # The other way round: a soft base config cannot search a score soft cannot use.
    with pytest.raises(InputError) as err:
        load_config(None, ["pruning.mode=soft", "search.space={score: {choice: [loss, grand]}}"])
    assert "key 'search.space.score': value 'grand' is invalid" in str(err.value)


def test_a_soft_study_needs_a_full_data_reference():
    cfg = load_config(None, ["pruning.mode=soft", "search.space={prune_ratio: {uniform: [0.3, 0.7]}}"])
    assert run_problems(cfg) == [] and study_problems(cfg) == []  # a single run has no reference
    assert [p.key for p in study_problems(cfg, against_run=True)] == ["pruning.mode"]


def test_method_names_the_soft_score_and_ignores_keep_fraction():
    assert Method.of("soft", "loss", 1.0) is Method.SOFT_LOSS
    assert Method.of("soft", "el2n", 0.5) is Method.SOFT_EL2N
    assert Method.SOFT_EL2N.overrides() == {"pruning.mode": "soft", "pruning.score": "el2n"}
    assert math.isclose(load_config(None, ["pruning.mode=soft"]).pruning.prune_ratio, 0.5)
