"""Warmup sharing: a trial branched from the reference's warmup checkpoint ends as it would alone."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from raypruning import keys as K
from raypruning.config import load_config
from raypruning.run import build_trainer, read_summary
from raypruning.run_state import SCORES_FILE
from raypruning.study.warmup import can_branch, share_problem, warmup_epochs

BASE = ["data.synthetic.num_train=240", "data.synthetic.num_eval=60", "train.epochs=4", "train.batch_size=16",
        "train.max_length=40", "pruning.warmup_epochs=2", "pruning.period_epochs=1", "pruning.keep_fraction=0.5"]


def _fit(cfg, root: Path, name: str, **share) -> tuple[dict, pd.DataFrame]:
    result = build_trainer(cfg, str(root), name, **share).fit()
    if result.error is not None:
        raise result.error
    with result.checkpoint.as_directory() as folder:
        scores = pd.read_parquet(Path(folder) / SCORES_FILE)
    return read_summary(result.checkpoint), scores


def _kept(scores: pd.DataFrame) -> dict[int, list[int]]:
    return {int(e): sorted(g.loc[g["kept"], "example_id"]) for e, g in scores.groupby("event")}


@pytest.mark.slow
def test_a_branched_trial_ends_with_the_kept_ids_and_score_of_the_trial_alone(ray_local, tmp_path):
    trial = load_config(None, BASE)
    reference = trial.replace(**{"pruning.keep_fraction": 1.0})
    assert can_branch(trial, reference)
    warmup = tmp_path / "warmup" / "seed0"
    ref_summary, _ = _fit(reference, tmp_path / "runs", "reference", warmup_out={"dir": warmup, "epochs": [1, 2]})
    assert sorted(p.name for p in warmup.iterdir()) == ["epoch1", "epoch2"]

    alone, alone_scores = _fit(trial, tmp_path / "runs", "alone")
    branched, branched_scores = _fit(trial, tmp_path / "runs", "branched", warm_start=str(warmup / "epoch2"))

    assert _kept(branched_scores) == _kept(alone_scores) and len(_kept(alone_scores)) == 2
    assert branched[K.SCORE] == alone[K.SCORE]
    assert branched[K.EXAMPLES_TRAINED] == alone[K.EXAMPLES_TRAINED] == 2 * 240 + 2 * 120
    assert [h[K.EPOCH] for h in branched[K.HISTORY]] == [1, 2, 3, 4]
    assert [h[K.SCORE] for h in branched[K.HISTORY]] == [h[K.SCORE] for h in alone[K.HISTORY]]
    assert [h[K.TEST_SCORE] is None for h in branched[K.HISTORY]] == [True, True, True, False]
    # The standalone cost keeps the reference's two warmup epochs; cost_s counts only what came after.
    shared = ref_summary[K.HISTORY][1][K.TOTAL_TIME]
    assert branched[K.TOTAL_TIME] == pytest.approx(branched[K.COST] + shared)
    assert 0 < branched[K.COST] < branched[K.TOTAL_TIME]
    assert alone[K.COST] == pytest.approx(alone[K.TOTAL_TIME])


def test_which_trials_may_branch():
    trial = load_config(None, BASE)
    reference = trial.replace(**{"pruning.keep_fraction": 1.0})
    assert share_problem(trial, reference) is None and can_branch(trial, reference)
    assert not can_branch(trial.replace(**{"pruning.warmup_epochs": 0}), reference)  # nothing to branch from
    assert share_problem(trial.replace(**{"pruning.warmup_epochs": 0}), reference) is None  # and nothing to say
    for change, needle in [({"pruning.score": "forgetting"}, "forgetting"),
                           ({"pruning.reuse_train_scores": True}, "reuse_train_scores"),
                           ({"pruning.mode": "soft"}, "soft"),
                           ({"train.lr": 1e-3}, "train.lr"),
                           ({"train.lr_schedule": "linear"}, "lr_schedule"),
                           ({"train.warmup_ratio": 0.1}, "warmup_ratio")]:
        other = trial.replace(**change)
        assert needle in (share_problem(other, reference) or ""), change
        assert not can_branch(other, reference), change
    assert can_branch(trial.replace(**{"pruning.mode": "static", "pruning.score": "loss"}), reference)


def test_the_reference_keeps_a_checkpoint_for_every_searched_warmup_with_something_after_it():
    cfg = load_config(None, BASE + ["search.space.warmup_epochs={int: [0, 4]}"])
    assert warmup_epochs(cfg) == (1, 2, 3)  # 0 has no warmup, 4 = E prunes nothing
    cfg = load_config(None, BASE + ["search.space.warmup_epochs={choice: [2, 1, 2]}"])
    assert warmup_epochs(cfg) == (1, 2)
    cfg = load_config(None, BASE + ["search.space={keep_fraction: {uniform: [0.2, 0.9]}}"])
    assert warmup_epochs(cfg) == (2,)


STUDY = ["data.synthetic.num_train=200", "data.synthetic.num_eval=50", "train.epochs=3", "train.max_length=40",
         "search.space={warmup_epochs: {int: [1, 2]}, keep_fraction: {uniform: [0.3, 0.8]}}",
         "search.sampler=random", "search.num_samples=2", "study.keep_models=none"]


@pytest.mark.slow
def test_a_shared_study_finds_the_scores_of_the_same_study_alone_for_less(ray_local, tmp_path, capsys):
    import json

    from raypruning.study.driver import run_study

    tables = {}
    for share in (True, False):
        cfg = load_config(None, STUDY + [f"study.storage_path={tmp_path}", f"study.name=share-{share}",
                                         f"study.share_warmup={str(share).lower()}"])
        tables[share] = run_study(cfg).set_index(K.TRIAL_ID)
    out = capsys.readouterr().out
    assert "warmup sharing: the reference keeps its state after epoch(s) 1, 2" in out
    assert "full-data runs of training and scoring" in out
    shared, alone = tables[True], tables[False]
    pruned = shared[(shared[K.METHOD] == "dynamic")]
    assert len(pruned) == 2
    for trial_id, row in pruned.iterrows():
        twin = alone[(alone[K.WARMUP] == row[K.WARMUP]) & (alone[K.KEEP] == row[K.KEEP])].iloc[0]
        assert row[K.SCORE] == twin[K.SCORE] and row[K.EXAMPLES_TRAINED] == twin[K.EXAMPLES_TRAINED]
        assert row[K.COST] < row[K.TOTAL_TIME]  # the warmup was the reference's
        assert twin[K.COST] == pytest.approx(twin[K.TOTAL_TIME])
    meta = json.loads((tmp_path / "share-True" / "study.json").read_text())
    assert meta[K.COST_FULL_RUNS] < meta[K.COST_FULL_RUNS_STANDALONE]
    assert not (tmp_path / "share-True" / "warmup").exists()  # removed once every trial is done
