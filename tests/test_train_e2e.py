"""Dynamic pruning runs end to end on Ray Train with 2 gloo workers."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from raypruning import keys as K
from raypruning.config import load_config
from raypruning.data.sources import load_task_data
from raypruning.run import TRAIN_POLL_INTERVAL_S, ray_train_timing, run_training
from raypruning.selection import num_kept

pytestmark = pytest.mark.slow  # Ray Train runs

N_TRAIN = 400
# The run trains shuffled batches: after two epochs its EL2N ranks mislabelled examples high.
# Length-grouped batches (the default) weaken that early signal on this data (top-tenth share
# about 2.8x the base rate instead of 4.4x, AUC 0.84 instead of 0.90, over 5 seeds), so the
# default runs in the studies' tests instead.
RUN = [f"data.synthetic.num_train={N_TRAIN}", "data.synthetic.num_eval=60", "data.synthetic.mislabel_fraction=0.08",
       "train.epochs=4", "train.batch_size=8", "train.max_length=40", "pruning.keep_fraction=0.5",
       "pruning.warmup_epochs=2", "pruning.period_epochs=1", "scaling.num_workers=2", "scaling.cpus_per_worker=1",
       "train.batching=random"]


@pytest.fixture(scope="module")
def dynamic_run(ray_local, tmp_path_factory):
    out = tmp_path_factory.mktemp("dynamic")
    cfg = load_config(None, RUN)
    return cfg, run_training(cfg, out), out


def test_summary_has_every_design_key(dynamic_run):
    _, summary, out = dynamic_run
    on_disk = json.loads((out / "summary.json").read_text())
    for key in K.SUMMARY_KEYS:
        assert key in on_disk, key
    assert 0 <= summary[K.SCORE] <= 100 and summary[K.METRIC] == "exact_match"
    # The test split is reported once, after the last epoch of a pruned run (never per epoch).
    assert 0 <= on_disk[K.TEST_SCORE] <= 100 and on_disk["test_split"] == "test"
    assert [h[K.TEST_SCORE] is not None for h in on_disk[K.HISTORY]] == [False, False, False, True]
    # Training and scoring are timed apart from setup and evaluation, so they stay below the wall time.
    assert 0 < on_disk[K.TRAIN_TIME] and on_disk[K.TOTAL_TIME] < on_disk[K.WALL_TIME]


def test_examples_trained_follow_the_schedule_exactly(dynamic_run):
    cfg, summary, _ = dynamic_run
    kept = num_kept(N_TRAIN, 0.5)
    assert summary[K.EXAMPLES_TRAINED] == 2 * N_TRAIN + 2 * kept
    assert summary[K.FULL_DATA_EXAMPLES] == 4 * N_TRAIN
    assert [e["epoch"] for e in summary[K.PRUNING_EVENTS]] == [2, 3]
    # Without pruning.reuse_train_scores every event re-scores every example (with it, only those
    # the epoch before did not train: tests/test_warmup_share.py, on the small study's runs).
    assert all(e["kept"] == kept and e["scored"] == e["rescored"] == N_TRAIN for e in summary[K.PRUNING_EVENTS])
    # After warmup every event ranks by score, and says so.
    assert all(e["selection"] == "top" and e["selection_reason"] is None for e in summary[K.PRUNING_EVENTS])


def test_scores_parquet_one_row_per_example_per_event(dynamic_run):
    _, _, out = dynamic_run
    scores = pd.read_parquet(out / "scores.parquet")
    assert list(scores.columns) == list(K.SCORE_COLUMNS)
    assert len(scores) == 2 * N_TRAIN
    for _, group in scores.groupby("event"):
        assert sorted(group["example_id"]) == list(range(N_TRAIN))
        assert group["kept"].sum() == num_kept(N_TRAIN, 0.5)
        assert not group["score"].isna().any()


def test_mislabelled_examples_rank_high_after_warmup(dynamic_run):
    """The first event's EL2N ranks a mislabelled example above a clean one with probability (AUC)
    at least 0.8. By chance it is 0.5 (standard deviation about 0.05 with 32 of 400 mislabelled);
    over train.seed 0-4 this run measured 0.87-0.92. (The share of mislabelled examples in the
    top tenth, 2.8-5.0 times the base rate over those seeds, is too noisy to test at one seed.)"""
    cfg, _, out = dynamic_run
    roles = np.array(load_task_data(cfg.data).splits["train"][:]["role"])
    scores = pd.read_parquet(out / "scores.parquet").query("event == 0").set_index("example_id")["score"]
    scores = scores.sort_index().to_numpy()
    bad = roles == "mislabelled"
    above = scores[bad][:, None] - scores[~bad][None, :]
    auc = (above > 0).mean() + 0.5 * (above == 0).mean()
    assert auc >= 0.8, auc


POLL = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"


def test_the_jobs_ray_processes_poll_at_the_short_interval(ray_local):
    """ensure_ray gives every process of the job (Ray Train's controller reads it) the short poll."""
    @ray_local.remote(num_cpus=0)
    def poll_interval() -> str | None:
        return os.environ.get(POLL)

    assert ray_local.get(poll_interval.remote()) == os.environ.get(POLL, TRAIN_POLL_INTERVAL_S)


def test_a_poll_interval_the_user_set_is_kept(monkeypatch):
    monkeypatch.setenv(POLL, "3")
    assert ray_train_timing()[POLL] == "3"
    monkeypatch.delenv(POLL)
    assert ray_train_timing()[POLL] == TRAIN_POLL_INTERVAL_S


def test_a_relative_data_path_reaches_the_workers(ray_local, tmp_path, monkeypatch):
    """data.path relative to the caller's working directory: Ray Train workers run in folders of
    their own, so the driver hands them the path made absolute (before, they failed on it)."""
    for split, rows in (("train", 12), ("dev", 4)):
        folder = tmp_path / "data" / split
        folder.mkdir(parents=True)
        sentences = [("fly to boston", "O O B-city", "flight"), ("play some jazz", "O O B-genre", "music")]
        for name, column in (("seq.in", 0), ("seq.out", 1), ("label", 2)):
            (folder / name).write_text("".join(sentences[i % 2][column] + "\n" for i in range(rows)))
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, ["data.format=jointbert", "data.path=data", "data.test_split=null", "model.name=tiny",
                             "train.epochs=1", "train.max_length=16", "pruning.mode=full"])
    summary = run_training(cfg, tmp_path / "run")
    assert summary[K.EXAMPLES_TRAINED] == 12 and 0 <= summary[K.SCORE] <= 100
