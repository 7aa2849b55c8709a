"""DataDiet without Ray: the schedule it follows, the scores it records, its saved state,
and the plain-loop example training exactly the kept ids on the synthetic task."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from raypruning.datadiet import DataDiet, KeptSampler
from raypruning.schedule import PruningSchedule

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _feed(diet: DataDiet, scores: np.ndarray) -> None:
    """Record given EL2N-like scores through update(), as a scoring pass would (2 classes, label 0)."""
    # softmax([a, 0]) against label 0 has EL2N sqrt(2) * (1 - sigmoid(a)): decreasing in a.
    n = len(scores)
    logits = torch.stack([torch.as_tensor(-scores, dtype=torch.float32), torch.zeros(n)], dim=1)
    diet.update(torch.arange(n), logits, torch.zeros(n, dtype=torch.long))


def test_update_records_el2n_against_a_hand_computation():
    diet = DataDiet(4, epochs=2, keep_fraction=0.5)
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    got = diet.update([3, 1], logits, torch.tensor([0, 2]))
    p = np.exp([2.0, 0.0, -1.0]) / np.exp([2.0, 0.0, -1.0]).sum()
    expected = [np.linalg.norm(p - [1, 0, 0]), np.linalg.norm(np.full(3, 1 / 3) - [0, 0, 1])]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(diet.scores[[3, 1]], expected, rtol=1e-6)
    assert np.isnan(diet.scores[[0, 2]]).all()  # not scored yet


def test_update_joint_and_regression_and_loss():
    diet = DataDiet(2, epochs=2, keep_fraction=0.5, joint_combine="norm")
    intent = torch.tensor([[0.0, 0.0], [5.0, -5.0]])
    slots = torch.zeros(2, 3, 2)
    slot_labels = torch.tensor([[0, -100, 1], [-100, -100, -100]])
    got = diet.update([0, 1], (intent, slots), (torch.tensor([0, 0]), slot_labels))
    e_half = np.linalg.norm([0.5 - 1, 0.5])  # a uniform 2-way softmax against any label
    assert got[0] == pytest.approx(np.sqrt(e_half**2 + 2 * e_half**2), rel=1e-6)  # intent + two tagged words
    assert got[1] == pytest.approx(np.linalg.norm(torch.tensor([5.0, -5.0]).softmax(0).numpy() - [1, 0]), rel=1e-5)

    regression = DataDiet(3, epochs=2, keep_fraction=0.5)
    assert regression.update([0, 1, 2], torch.tensor([[1.0], [2.0], [0.5]]),
                             torch.tensor([1.5, 2.0, -0.5])).tolist() == [0.5, 0.0, 1.0]

    by_loss = DataDiet(1, epochs=2, keep_fraction=0.5, score="loss")
    assert by_loss.update([0], torch.tensor([[0.0, 0.0]]), torch.tensor([1]))[0] == pytest.approx(np.log(2))


def test_update_rejects_ids_outside_the_table():
    diet = DataDiet(3, epochs=2, keep_fraction=0.5)
    with pytest.raises(ValueError, match="0..2"):
        diet.update([3], torch.zeros(1, 2), torch.zeros(1, dtype=torch.long))


def test_bad_settings_are_named_together():
    with pytest.raises(ValueError, match="keep_fraction.*mode|mode.*keep_fraction") as info:
        DataDiet(10, epochs=3, keep_fraction=1.5, mode="sometimes")
    assert "period_epochs" not in str(info.value)


def test_dynamic_schedule_selects_the_top_scores_at_each_event():
    n, epochs = 20, 5
    diet = DataDiet(n, epochs=epochs, keep_fraction=0.25, warmup_epochs=1, period_epochs=2, seed=3)
    assert diet.kept_ids(0).tolist() == list(range(n))  # warmup: everything, no scores needed
    assert [diet.is_event(e) for e in range(epochs)] == [False, True, False, True, False]
    assert diet.needs_scores(1)
    with pytest.raises(RuntimeError, match="no example has a score"):
        diet.kept_ids(1)

    first = np.arange(n, dtype=float)  # id i scores i: the top quarter is 15..19
    _feed(diet, first)
    assert diet.kept_ids(1).tolist() == [15, 16, 17, 18, 19]
    assert not diet.needs_scores(1)
    assert diet.kept_ids(2).tolist() == [15, 16, 17, 18, 19]  # same subset for T = 2 epochs
    assert diet.needs_scores(3)
    _feed(diet, first[::-1].copy())  # the order flips: 0..4 now score highest
    assert diet.kept_ids(3).tolist() == [0, 1, 2, 3, 4]
    assert diet.kept_ids(1).tolist() == [15, 16, 17, 18, 19]  # a made selection stays made
    assert diet.examples_per_epoch() == [20, 5, 5, 5, 5]
    assert diet.work_fraction() == pytest.approx(PruningSchedule(5, "dynamic", 1, 2, 0.25).ideal_fraction(20))


def test_static_selects_once_and_full_never_prunes():
    static = DataDiet(10, epochs=4, keep_fraction=0.3, warmup_epochs=1, mode="static")
    _feed(static, np.arange(10, dtype=float))
    assert static.kept_ids(1).tolist() == [7, 8, 9]
    _feed(static, np.arange(10, dtype=float)[::-1].copy())
    assert not static.needs_scores(2) and static.kept_ids(3).tolist() == [7, 8, 9]

    full = DataDiet(10, epochs=3, keep_fraction=0.3, mode="full")
    assert all(full.kept_ids(e).tolist() == list(range(10)) for e in range(3))
    assert not any(full.needs_scores(e) for e in range(3))


def test_no_warmup_starts_from_a_seeded_random_subset():
    a = DataDiet(100, epochs=2, keep_fraction=0.2, warmup_epochs=0, seed=1)
    assert not a.needs_scores(0)
    kept = a.kept_ids(0)
    assert len(kept) == 20 and kept.tolist() == DataDiet(100, 2, 0.2, warmup_epochs=0, seed=1).kept_ids(0).tolist()
    assert kept.tolist() != DataDiet(100, 2, 0.2, warmup_epochs=0, seed=2).kept_ids(0).tolist()


def test_sampler_yields_exactly_the_kept_ids_shuffled_per_epoch():
    diet = DataDiet(50, epochs=3, keep_fraction=0.4, warmup_epochs=1, seed=0)
    _feed(diet, np.random.default_rng(0).random(50))
    order1 = list(diet.sampler(1))
    assert sorted(order1) == diet.kept_ids(1).tolist() and len(diet.sampler(1)) == 20
    assert order1 != sorted(order1)  # shuffled
    assert list(diet.sampler(1)) == order1  # the same epoch gives the same order
    _feed(diet, np.random.default_rng(0).random(50))  # same scores again: same subset at epoch 2
    assert sorted(diet.sampler(2)) == sorted(order1) and list(diet.sampler(2)) != order1
    assert list(KeptSampler([4, 2], seed=1)) in ([4, 2], [2, 4])


def test_state_dict_round_trip_gives_the_same_next_selection(tmp_path):
    settings = dict(num_examples=40, epochs=5, keep_fraction=0.3, warmup_epochs=1, period_epochs=1, seed=7,
                    explore=0.25)
    rng = np.random.default_rng(5)
    diet = DataDiet(**settings)
    _feed(diet, rng.random(40))
    before = diet.kept_ids(1)
    _feed(diet, rng.random(40)[:30])  # a partial update: ids 0..29 change, 30..39 keep older scores
    torch.save(diet.state_dict(), tmp_path / "diet.pt")

    restored = DataDiet(**settings)
    restored.load_state_dict(torch.load(tmp_path / "diet.pt"))  # weights_only: tensors and plain values
    assert not restored.needs_scores(1) and restored.kept_ids(1).tolist() == before.tolist()
    np.testing.assert_array_equal(restored.scores, diet.scores)
    assert restored.kept_ids(2).tolist() == diet.kept_ids(2).tolist()
    # A fresh diet fed only the latest partial update selects differently: the table carried real state.
    fresh = DataDiet(**settings)
    _feed(fresh, diet.scores[:30])
    assert fresh.kept_ids(2).tolist() != diet.kept_ids(2).tolist()

    other = DataDiet(**{**settings, "keep_fraction": 0.5})
    with pytest.raises(ValueError, match="keep_fraction"):
        other.load_state_dict(diet.state_dict())


def test_plain_loop_example_trains_exactly_the_kept_ids():
    example = _load_example("datadiet_plain_loop")
    result = example.train(num_train=240, epochs=3, keep_fraction=0.4, warmup_epochs=1, period_epochs=1,
                           log=lambda *_: None)
    diet = result.diet
    n = diet.num_examples
    assert n == 240
    for epoch, seen in enumerate(result.seen):
        assert len(seen) == len(set(seen))  # each kept example once
        assert sorted(seen) == diet.kept_ids(epoch).tolist()
    assert [len(s) for s in result.seen] == diet.examples_per_epoch() == [240, 96, 96]
    trained = sum(len(s) for s in result.seen)
    assert trained < result.full_data_examples == 240 * 3
    # The last subset is the top 40% of the table its scoring pass filled (every example scored).
    assert not np.isnan(diet.scores).any()
    kept = np.zeros(n, dtype=bool)
    kept[diet.kept_ids(2)] = True
    assert diet.scores[kept].min() >= diet.scores[~kept].max()
    assert result.seen[1] != result.seen[2]  # re-selected (and re-shuffled) at the second event
