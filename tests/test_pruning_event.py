"""A pruning event on one process: tiny model, tiny synthetic data, no Ray."""

import numpy as np
import pandas as pd
import pytest

from raypruning.config import load_config
from raypruning.data.encode import encode_task
from raypruning.data.sources import load_task_data
from raypruning.keys import SCORE_COLUMNS
from raypruning.models import build_model, load_tokenizer
from raypruning.pruning_event import (MIN_CALIBRATION, RandomBecause, Selection, calibration_sample, merge_reused,
                                     run_event)
from raypruning.run_state import RunState
from raypruning.scoring import Examples, score_examples
from raypruning.seeds import SeedStream, generator
from raypruning.selection import num_kept, select_random, select_top

N = 60
BASE = [f"data.synthetic.num_train={N}", "data.synthetic.num_eval=10", "model.hidden_size=32",
        "train.epochs=4", "train.eval_batch_size=16", "pruning.keep_fraction=0.25"]


@pytest.fixture(scope="module")
def setup():
    cfg = load_config(None, BASE)
    task = load_task_data(cfg.data)
    tokenizer = load_tokenizer(cfg.model, task.splits["train"][:]["text"])
    rows = encode_task(task, tokenizer, 32)["train"].to_list()
    model = build_model(cfg.model, task.kind, task.num_labels, len(task.slot_labels), len(tokenizer), seed=5)
    return Examples.of(rows, task.kind, tokenizer.pad_token_id), model


def _cfg(*extra):
    return load_config(None, BASE + list(extra))


def test_el2n_event_keeps_the_top_scores_in_id_order(setup):
    examples, model = setup
    event = run_event(_cfg(), model, examples, RunState(), epoch=1)
    # The same scores computed in plain id order, one batch at a time, with no length sorting.
    want = score_examples(model, examples, np.arange(N), score="el2n", batch_size=7, device="cpu")
    np.testing.assert_allclose(event.scores, want, rtol=1e-5, atol=1e-6)
    k = num_kept(N, 0.25)
    assert len(event.kept_ids) == k
    # Every kept score is at least every dropped score.
    dropped = np.setdiff1d(np.arange(N), event.kept_ids)
    assert event.scores[event.kept_ids].min() >= event.scores[dropped].max() - 1e-6
    expected = select_top(want, 0.25, generator(0, SeedStream.SELECTION, 0))
    assert event.kept_ids.tolist() == expected.tolist()
    assert (event.selection, event.random_because, event.rescored, event.index) == (Selection.TOP, None, N, 0)


def test_training_pass_scores_are_kept_and_only_the_rest_rescored(setup):
    """Without calibration (reuse_calibration 0) the raw training-pass scores are ranked as they are."""
    examples, model = setup
    reused = np.full(N, np.nan)
    reused[::3] = 10.0 + np.arange(len(reused[::3]))  # far above any EL2N (at most sqrt 2)
    state = RunState(train_scores=reused)
    event = run_event(_cfg("pruning.reuse_calibration=0"), model, examples, state, epoch=2)
    assert event.rescored == N - len(reused[::3])
    np.testing.assert_array_equal(event.scores[::3], reused[::3])
    assert not np.isnan(event.scores).any()
    # The 15 kept are the 15 highest reused scores: ids 3 * (20 - 15) ... 3 * 19.
    assert event.kept_ids.tolist() == [3 * i for i in range(5, 20)]


def test_calibration_puts_training_pass_scores_on_the_eval_scale():
    rng = np.random.default_rng(0)
    eval_scores = rng.random(500)
    reused = np.full(500, np.nan)
    trained = rng.choice(500, 300, replace=False)
    reused[trained] = 3.0 * eval_scores[trained] + 5.0  # another scale, the same order
    sample = calibration_sample(reused, 0.1, np.random.default_rng(1))
    assert len(sample) == MIN_CALIBRATION and set(sample) <= set(trained)
    merged = merge_reused(eval_scores, reused, sample)
    inside = (reused >= reused[sample].min()) & (reused <= reused[sample].max())
    np.testing.assert_allclose(merged[inside], eval_scores[inside], atol=1e-12)
    # Beyond the sample's range the order is kept (slope 1), and nothing crosses into the other side.
    order = np.argsort(reused[trained])
    assert np.all(np.diff(merged[trained][order]) >= 0)
    # Raw, the training-pass population would take every top place: a merge without a sample.
    raw = merge_reused(eval_scores, reused, np.empty(0, dtype=np.int64))
    assert set(np.argsort(raw)[-300:]) == set(trained)
    assert len(set(np.argsort(merged)[-250:]) & set(trained)) < 250


def test_calibration_sample_is_bounded_and_empty_when_off():
    reused = np.full(1000, np.nan)
    reused[:700] = 1.0
    assert len(calibration_sample(reused, 0.0, np.random.default_rng(0))) == 0
    assert len(calibration_sample(reused, 0.5, np.random.default_rng(0))) == 350
    reused[40:] = np.nan
    assert sorted(calibration_sample(reused, 0.1, np.random.default_rng(0))) == list(range(40))  # all of few


def test_calibrated_event_also_scores_a_sample_of_the_reused(setup):
    examples, model = setup
    reused = np.full(N, np.nan)
    reused[::2] = 10.0 + np.arange(N // 2)
    event = run_event(_cfg("pruning.reuse_calibration=0.1"), model, examples, RunState(train_scores=reused),
                      epoch=2)
    # 30 reused, fewer than MIN_CALIBRATION: all of them are scored in eval mode as well.
    assert event.rescored == N
    want = score_examples(model, examples, np.arange(N), score="el2n", batch_size=7, device="cpu")
    np.testing.assert_allclose(event.scores, want, rtol=1e-5, atol=1e-6)


def test_first_event_at_tau_zero_is_random_and_says_why(setup):
    examples, model = setup
    cfg = _cfg("pruning.warmup_epochs=0")
    event = run_event(cfg, model, examples, RunState(), epoch=0)
    assert event.selection is Selection.RANDOM
    assert event.random_because is RandomBecause.UNTRAINED_MODEL
    assert event.rescored == 0
    rng = generator(cfg.train.seed, SeedStream.SELECTION, 0)
    rng.random(N)  # the random scores come first from the same generator
    assert event.kept_ids.tolist() == select_random(N, 0.25, rng).tolist()
    record = event.record()
    assert record["selection"] == "random" and record["selection_reason"] == "untrained_model"
    # A later event of the same run ranks by score.
    later = run_event(cfg, model, examples, RunState(events=[record]), epoch=1)
    assert later.selection is Selection.TOP and later.index == 1


def test_random_score_selects_at_random_every_event(setup):
    examples, model = setup
    event = run_event(_cfg("pruning.score=random"), model, examples, RunState(), epoch=3)
    assert (event.selection, event.random_because) == (Selection.RANDOM, RandomBecause.RANDOM_SCORE)
    assert event.record()["selection_reason"] == "random_score"


def test_forgetting_ranks_unlearned_then_most_forgotten(setup):
    examples, model = setup
    last_correct = np.ones(N)
    last_correct[:5] = 0.0  # never predicted right: above any count
    forgets = np.zeros(N)
    forgets[10:20] = 2.0
    state = RunState(last_correct=last_correct, forgets=forgets)
    event = run_event(_cfg("pruning.score=forgetting"), model, examples, state, epoch=2)
    assert event.kept_ids.tolist() == list(range(5)) + list(range(10, 20))
    assert event.rescored == 0


def test_run_state_takes_the_event(setup):
    examples, model = setup
    state = RunState()
    event = run_event(_cfg("pruning.smoothing=ema"), model, examples, state, epoch=1)
    event.record_into(state)
    assert state.kept_ids == event.kept_ids.tolist()
    assert state.events == [event.record()]
    np.testing.assert_array_equal(state.smooth_mean, event.scores)  # the first smoothed score is the score
    rows = state.scores_frame()
    assert list(rows.columns) == list(SCORE_COLUMNS) and len(rows) == N
    assert rows["kept"].sum() == len(event.kept_ids)
    pd.testing.assert_series_equal(rows["score"], pd.Series(event.scores, name="score"))


def test_a_token_budget_keeps_the_top_examples_until_they_hold_the_share_of_tokens(setup):
    examples, model = setup
    event = run_event(_cfg("pruning.budget=tokens"), model, examples, RunState(), epoch=1)
    lengths = examples.lengths
    budget = 0.25 * lengths.sum()
    assert budget <= lengths[event.kept_ids].sum() < budget + lengths.max()
    by_score = np.argsort(-event.scores, kind="stable")
    assert sorted(by_score[: len(event.kept_ids)].tolist()) == event.kept_ids.tolist()
    at_random = run_event(_cfg("pruning.budget=tokens", "pruning.score=random"), model, examples, RunState(), 1)
    assert budget <= lengths[at_random.kept_ids].sum() < budget + lengths.max()
