"""Warmup sharing: a study trial branched from the reference's warmup checkpoint ends as it would alone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SMALL_STUDY, SMALL_TRAIN, kept_ids_by_event

from raypruning import keys as K
from raypruning.config import load_config
from raypruning.export import find_checkpoint
from raypruning.pruning_event import MIN_CALIBRATION
from raypruning.run_state import SCORES_FILE, SUMMARY_FILE
from raypruning.selection import num_kept
from raypruning.study.warmup import (
    DONE_MARK,
    READY,
    SharePlan,
    can_branch,
    local_checkpoint,
    publish,
    remove_warmups,
    share_problem,
    warmup_epochs,
)

BASE = ["data.synthetic.num_train=240", "data.synthetic.num_eval=60", "train.epochs=4", "train.batch_size=16",
        "train.max_length=40", "pruning.warmup_epochs=2", "pruning.period_epochs=1", "pruning.keep_fraction=0.5"]


def _last_checkpoint(run: Path) -> tuple[dict, dict[int, list[int]]]:
    """A run's summary and its kept ids per event, from the last checkpoint it kept (run: a
    study's runs/trial-ID[-seedN] or the output folder of `run_training`)."""
    folder = find_checkpoint(run)
    scores = pd.read_parquet(folder / SCORES_FILE)
    return json.loads((folder / SUMMARY_FILE).read_text()), kept_ids_by_event(scores)


def test_which_trials_may_branch():
    trial = load_config(None, BASE)
    reference = trial.replace(**{"pruning.keep_fraction": 1.0})
    assert share_problem(trial, reference) is None and can_branch(trial, reference)
    assert not can_branch(trial.replace(**{"pruning.warmup_epochs": 0}), reference)  # nothing to branch from
    assert share_problem(trial.replace(**{"pruning.warmup_epochs": 0}), reference) is None  # and nothing to say
    for change, needle in [({"pruning.score": "forgetting"}, "forgetting"),
                           ({"pruning.mode": "soft"}, "soft"),
                           ({"train.lr": 1e-3}, "train.lr"),
                           ({"train.lr_schedule": "linear"}, "lr_schedule"),
                           ({"train.warmup_ratio": 0.1}, "warmup_ratio")]:
        other = trial.replace(**change)
        assert needle in (share_problem(other, reference) or ""), change
        assert not can_branch(other, reference), change
    assert can_branch(trial.replace(**{"pruning.mode": "static", "pruning.score": "loss"}), reference)
    # Reused training-pass scores: the reference must keep them too (the study's base config gives
    # both the key, so it does; a searched one may not).
    reusing = trial.replace(**{"pruning.reuse_train_scores": True})
    assert "reuse_train_scores" in share_problem(reusing, reference) and not can_branch(reusing, reference)
    assert can_branch(reusing, reference.replace(**{"pruning.reuse_train_scores": True}))


def test_the_reference_keeps_a_checkpoint_for_every_searched_warmup_with_something_after_it():
    cfg = load_config(None, BASE + ["search.space.warmup_epochs={int: [0, 4]}"])
    assert warmup_epochs(cfg) == (1, 2, 3)  # 0 has no warmup, 4 = E prunes nothing
    cfg = load_config(None, BASE + ["search.space.warmup_epochs={choice: [2, 1, 2]}"])
    assert warmup_epochs(cfg) == (1, 2)
    cfg = load_config(None, BASE + ["search.space={keep_fraction: {uniform: [0.2, 0.9]}}"])
    assert warmup_epochs(cfg) == (2,)


def _save(folder: Path) -> None:
    (folder / "model.pt").write_bytes(b"weights")
    (folder / "state.json").write_text("{}")


@pytest.mark.parametrize("where", ["folder", "uri"])
def test_a_published_warmup_is_found_whole_read_back_and_removed(tmp_path, where):
    """The warmup folder under a shared path or a URI (file:// here, through the same pyarrow
    filesystem calls as s3:// or gs://): a trial finds a checkpoint only once it is complete."""
    root = str(tmp_path / "warmup") if where == "folder" else f"file://{tmp_path / 'warmup'}"
    plan = SharePlan(root, {"pruning.keep_fraction": 1.0}, (2,))
    folder = plan.seed_folder(0)
    if where == "uri":  # an upload stopped half way: files, but no READY yet
        (tmp_path / "warmup" / "seed0" / "epoch2").mkdir(parents=True)
        (tmp_path / "warmup" / "seed0" / "epoch2" / "model.pt").write_bytes(b"half")
    plan.mark(0, DONE_MARK)  # the reference ended: a trial waiting for a missing checkpoint goes on alone
    assert plan.wait(0, 2, poll_s=0.01) is None
    publish(folder, "epoch2", _save)
    publish(folder, "epoch2", lambda f: pytest.fail("an existing checkpoint is written again"))
    found = plan.wait(0, 2, poll_s=0.01)
    assert found == f"{folder}/epoch2"
    with local_checkpoint(found) as local:
        assert (local / "model.pt").read_bytes() == b"weights" and (local / "state.json").read_text() == "{}"
        copied = local
    assert (copied.exists()) == (where == "folder")  # a URI's copy is gone after use
    on_disk = tmp_path / "warmup" / "seed0" / "epoch2"
    assert (on_disk / READY).exists() == (where == "uri")
    assert not [p for p in (tmp_path / "warmup" / "seed0").iterdir() if p.name.startswith(".")]  # no partial left
    remove_warmups(root)
    assert not (tmp_path / "warmup").exists()
    remove_warmups(root)  # already gone: nothing to say


@pytest.fixture(scope="module")
def trial_alone(small_study, tmp_path_factory) -> tuple[pd.Series, Path]:
    """The session's small study's seed-0 pruning trial (its row) and the same trial trained
    alone, outside any study (its `run_training` output folder)."""
    from raypruning.run import run_training

    shared = small_study.table[small_study.table[K.SEED] == 0]
    (row,) = (r for _, r in shared.iterrows() if r[K.METHOD] == "dynamic")
    setting = [f"pruning.warmup_epochs={int(row[K.WARMUP])}", f"pruning.keep_fraction={float(row[K.KEEP])!r}"]
    out = tmp_path_factory.mktemp("alone")
    run_training(load_config(REPO / SMALL_STUDY[0], [*SMALL_STUDY[1:], *setting]), out)
    return row, out


@pytest.mark.slow
def test_a_shared_study_trial_ends_as_the_same_trial_alone_for_less(small_study, trial_alone):
    """The session's small study (tests/conftest.py: warmup 2 of 4 epochs with reused
    training-pass scores, warmup sharing on) against its seed-0 trial trained alone: the trial,
    branched from the reference's warmup checkpoint, reuses the training-pass scores the
    reference kept for it, ends with the kept ids, per-epoch scores and examples trained of the
    trial alone, and its cost leaves out the warmup it did not train. The shared study is stored
    at a URI, so its warmup checkpoints went up to storage and came back down to the trial."""
    row, alone_folder = trial_alone
    # The shared study is at a file:// URI (conftest.py): its warmups went through object storage.
    assert "warmup sharing: the reference keeps its state after epoch(s) 2 in file://" in small_study.console
    assert "full-data runs of training and scoring" in small_study.console
    branched, branched_kept = _last_checkpoint(small_study.folder / "runs" / f"trial-{row[K.TRIAL_ID]}-seed0")
    single, single_kept = _last_checkpoint(alone_folder)
    assert row[K.SCORE] == single[K.SCORE] and row[K.EXAMPLES_TRAINED] == single[K.EXAMPLES_TRAINED]
    assert branched_kept == single_kept and len(single_kept) == 4 - int(row[K.WARMUP])
    assert [h[K.EPOCH] for h in branched[K.HISTORY]] == [1, 2, 3, 4]
    assert [h[K.SCORE] for h in branched[K.HISTORY]] == [h[K.SCORE] for h in single[K.HISTORY]]
    assert [h[K.TEST_SCORE] is None for h in branched[K.HISTORY]] == [True, True, True, False]
    # As alone, its first event re-scored only the calibration sample (the rest came from the
    # training pass of the warmup's last epoch, which the reference kept for it), and its second
    # the examples the pruned epoch left out and a calibration sample of the rest.
    rescored = [e["rescored"] for e in branched[K.PRUNING_EVENTS]]
    left_out = SMALL_TRAIN - num_kept(SMALL_TRAIN, row[K.KEEP])
    assert rescored == [e["rescored"] for e in single[K.PRUNING_EVENTS]] == [MIN_CALIBRATION,
                                                                            left_out + MIN_CALIBRATION]
    # The standalone cost keeps the reference's warmup epochs (and the scores it kept for the trial,
    # a few milliseconds); cost_s counts only what came after. A run alone spends what it costs.
    shared = small_study.table[small_study.table[K.SEED] == 0]
    (reference_id,) = shared.loc[shared[K.IS_REFERENCE], K.TRIAL_ID]
    reference, _ = _last_checkpoint(small_study.folder / "runs" / f"trial-{reference_id}-seed0")
    warmup_cost = reference[K.HISTORY][int(row[K.WARMUP]) - 1][K.TOTAL_TIME]
    assert warmup_cost <= row[K.TOTAL_TIME] - row[K.COST] == pytest.approx(warmup_cost, rel=0.2)
    assert 0 < row[K.COST] < row[K.TOTAL_TIME]
    assert single[K.COST] == pytest.approx(single[K.TOTAL_TIME])
    assert not (small_study.folder / "warmup").exists()  # removed once every trial is done
