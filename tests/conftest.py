"""Shared fixtures: one local Ray instance per test session, the real-data folder, the small
study two modules read, the soft-pruning run three modules read, and the two-node cluster
(tests/cluster_helpers.py)."""

import contextlib
import io
import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

from cluster_helpers import cluster, two_node_study  # noqa: F401 - session fixtures, shared by modules

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray instance for tests that run Ray Train or Tune in-process (with the
    dashboard, whose state API Ray Train needs to free finished trials' resources)."""
    import ray

    from raypruning.run import ensure_ray

    ensure_ray(include_dashboard=True, num_cpus=2)
    yield ray
    ray.shutdown()


# The small study: the reference and one sampled trial, two seeds each, with MLflow tracking and
# every trial's model kept. Warmup sharing is on (the default) and the trial's warmup is 2 of 4
# epochs with reused training-pass scores, so the trial branches from the reference's warmup.
# It is stored at a file:// URI, so it runs as a study in object storage does (the same pyarrow
# filesystem calls as s3:// or gs://: Tune, Ray Train and the warmup checkpoints write there, the
# small files are copied up), and its files are on this disk for the tests to read.
# tests/test_warmup_share.py trains its seed-0 trial again alone and compares the two.
SMALL_TRAIN = 240
SMALL_STUDY = ["studies/quickstart.yaml", f"data.synthetic.num_train={SMALL_TRAIN}", "data.synthetic.num_eval=60",
               "train.epochs=4", "train.max_length=40", "pruning.period_epochs=1", "pruning.reuse_train_scores=true",
               "search.space={warmup_epochs: {int: [2, 2]}, keep_fraction: {uniform: [0.2, 0.9]}}",
               "search.sampler=random", "search.seed=0", "search.num_samples=1", "study.keep_models=all"]


class StudyRun(NamedTuple):
    folder: Path
    table: pd.DataFrame  # what run_study returned
    console: str  # what it printed


@pytest.fixture(scope="session")
def small_study(ray_local, tmp_path_factory) -> StudyRun:
    from raypruning.study.driver import run_study

    os.chdir(REPO)  # the config and its data paths are relative to the repository
    storage = tmp_path_factory.mktemp("studies")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        table = run_study(SMALL_STUDY[0], [*SMALL_STUDY[1:], f"study.storage_path=file://{storage}",
                                           "study.name=small", "study.seeds=2", "study.trackers=[mlflow]"])
    return StudyRun(storage / "small", table, printed.getvalue())


# Soft pruning (InfoBatch) on the quickstart's sentence-classification variant with 2 workers:
# tests/test_soft_e2e.py checks its selections, tests/test_export.py exports its model, and
# tests/test_faults.py runs it again on the two-node cluster, killing a node after its first
# checkpoint. Long enough (8 epochs of 960 rows) that the killed node dies with epochs still to
# train: with 5 epochs of 240 rows a run sometimes finished before the kill landed.
SOFT_TRAIN, SOFT_EPOCHS = 960, 8  # anneal_fraction 0.125: 1 final epoch on all data; epochs 1-6 prune
SOFT_RUN = ["studies/quickstart.yaml", "data.synthetic.task=sentence", f"data.synthetic.num_train={SOFT_TRAIN}",
            "data.synthetic.num_eval=60", f"train.epochs={SOFT_EPOCHS}", "train.batch_size=16", "train.max_length=40",
            "pruning.mode=soft", "pruning.score=loss", "pruning.prune_ratio=0.5", "scaling.num_workers=2",
            "scaling.cpus_per_worker=1"]


def kept_ids_by_event(scores: pd.DataFrame) -> dict[int, list[int]]:
    """A run's scores.parquet as the sorted example ids kept at each pruning event (epoch)."""
    return {int(e): sorted(g.loc[g["kept"], "example_id"]) for e, g in scores.groupby("event")}


class TrainedRun(NamedTuple):
    folder: Path  # what `raypruning train --output` writes
    summary: dict


@pytest.fixture(scope="session")
def soft_run(ray_local, tmp_path_factory) -> TrainedRun:
    from raypruning.config import load_config
    from raypruning.run import run_training

    out = tmp_path_factory.mktemp("soft")
    return TrainedRun(out, run_training(load_config(REPO / SOFT_RUN[0], SOFT_RUN[1:]), out))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("the shared real-data folder is not beside the repository")
    return SHARED_DATA


def pytest_collection_modifyitems(items):
    """Tests on the two-node cluster run last, so that the one cluster they share is up only
    while they run; those marked breaks_cluster (they kill one of its nodes) run after them."""
    def order(item) -> int:
        if item.get_closest_marker("breaks_cluster"):
            return 2
        return 1 if "cluster" in getattr(item, "fixturenames", ()) else 0

    items.sort(key=order)
