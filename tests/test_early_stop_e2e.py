"""Early stopping in a real small study: a dominated pruning trial ends at a pruning event, its rows
say stopped and it is not on the front, with one seed and with two. Extended: it runs a Ray study (bash scripts/test.sh -m extended)."""

from __future__ import annotations

import json

import pytest

from raypruning import keys as K
from raypruning import pareto
from raypruning.config import load_config
from raypruning.study.trials import load_trials

# examples_trained is the study's time objective, so that costs, and so the decision, do not
# depend on the machine's speed. A recorded study with these data (early stopping off, replayed
# by benchmarks/early_stop_replay.py) ran this setting: 8 epochs, 2 of warmup, keep 261 of 400
# re-selected every 2 epochs. After epoch 4 it scored 31.7 against the reference's 55.8 (gap
# 24.2); its best case, 1322 + 4 * 261 = 2366 examples at 73.3 - 24.2 + 2 = 51.2 points, is
# dominated by the reference after 4 epochs (1600 examples, 55.8 points). Runs are
# deterministic for a seed, so it stops there; the reference is never stopped. The grid holds
# that setting and the reference (keep 1), which the study runs first.
STUDY = ["data.synthetic.num_train=400", "data.synthetic.num_eval=120", "train.epochs=8", "train.max_length=40",
         "search.space={warmup_epochs: {choice: [2]}, period_epochs: {choice: [2]}, keep_fraction: {choice: [0.6525, 1.0]}}",
         "search.sampler=grid", "search.num_samples=1", "search.max_concurrent=1", "study.keep_models=none",
         "study.objectives=[score, examples_trained]", "study.early_stop=true", "study.early_stop_margin=2"]


@pytest.mark.slow
@pytest.mark.extended
def test_a_dominated_trial_is_stopped_kept_as_a_stopped_row_and_left_off_the_front(ray_local, tmp_path, capsys):
    from raypruning.study.driver import run_study

    cfg = load_config("studies/quickstart.yaml", STUDY + [f"study.storage_path={tmp_path}", "study.name=early"])
    run_study(cfg)
    out = capsys.readouterr().out
    assert "early stopping: a pruning trial more than 2 points below" in out
    table = load_trials(tmp_path / "early")
    stopped = table[table[K.STATUS] == K.STATUS_STOPPED]
    assert len(stopped) == 1, table[[K.TRIAL_ID, K.SCORE, K.EXAMPLES_TRAINED, K.STATUS]]
    assert "stopped early after epoch" in out
    # A stopped trial has ended: the study is complete, nothing is left to resume.
    assert "--resume" not in out and not (tmp_path / "early" / "warmup").exists()
    for _, row in stopped.iterrows():
        assert not row[K.PARETO]
        assert row[K.STOPPED_EPOCH] == 4  # at the pruning event after its first pruned epochs
        assert row[K.EXAMPLES_TRAINED] == 2 * 400 + 2 * 261
    assert set(stopped[K.TRIAL_ID]).isdisjoint(pareto.per_setting(table)[K.TRIAL_ID])
    reference = table[table[K.IS_REFERENCE]]
    assert len(reference) == 1 and (reference[K.STATUS] == K.STATUS_DONE).all()
    meta = json.loads((tmp_path / "early" / "study.json").read_text())
    assert meta[K.COST_FULL_RUNS] < meta[K.COST_FULL_RUNS_STANDALONE]


@pytest.mark.slow
@pytest.mark.extended
def test_with_two_seeds_the_trial_stops_in_the_seed_whose_mean_cannot_reach_the_front(ray_local, tmp_path, capsys):
    """The same study with study.seeds=2. After epoch 4 of seed 0 the trial is 24.2 points behind,
    but seed 1 is still to run, credited its reference's final 80.8 plus the margin: the mean's
    best case (2227 examples, 67.0) is not dominated, so seed 0 runs to its end (59.2 points).
    Seed 1, 24.2 points behind its own reference after epoch 4, bounds the mean at (2366, 58.9),
    which the fewer-epochs curve after 5 epochs (2000 examples, 65.8 over both seeds) dominates."""
    from raypruning.study.driver import run_study

    cfg = load_config("studies/quickstart.yaml", STUDY + [f"study.storage_path={tmp_path}", "study.name=early2",
                                                          "study.seeds=2"])
    run_study(cfg)
    assert "stopped early after epoch 4" in capsys.readouterr().out
    table = load_trials(tmp_path / "early2")
    stopped = table[table[K.STATUS] == K.STATUS_STOPPED].sort_values(K.SEED)
    assert stopped[K.SEED].tolist() == [0, 1] and stopped[K.TRIAL_ID].nunique() == 1  # both runs of the trial
    assert stopped[K.STOPPED_EPOCH].tolist() == [8, 4]
    assert stopped[K.EXAMPLES_TRAINED].tolist() == [2 * 400 + 6 * 261, 2 * 400 + 2 * 261]
    assert not stopped[K.PARETO].any()
    assert set(stopped[K.TRIAL_ID]).isdisjoint(pareto.per_setting(table)[K.TRIAL_ID])
