"""Shared fixtures: one local Ray instance per test session, the real-data folder, the small
study two modules read, and the two-node cluster (tests/cluster_helpers.py)."""

import contextlib
import io
import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

from cluster_helpers import cluster, spread_and_local_runs  # noqa: F401 - session fixtures, shared by modules

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
# every trial's model kept. Warmup sharing is on (the default) and the trial's warmup is 2 of 3
# epochs with reused training-pass scores, so the trial branches from the reference's warmup.
# It is stored at a file:// URI, so it runs as a study in object storage does (the same pyarrow
# filesystem calls as s3:// or gs://: Tune, Ray Train and the warmup checkpoints write there, the
# small files are copied up), and its files are on this disk for the tests to read.
# `small_study_alone` runs the same search once, without sharing and with a dynamic-random
# baseline at the sampled setting (tests/test_warmup_share.py compares the two).
SMALL_STUDY = ["studies/quickstart.yaml", "data.synthetic.num_train=240", "data.synthetic.num_eval=60",
               "train.epochs=3", "train.max_length=40", "pruning.period_epochs=1", "pruning.reuse_train_scores=true",
               "search.space={warmup_epochs: {int: [2, 2]}, keep_fraction: {uniform: [0.2, 0.9]}}",
               "search.sampler=random", "search.seed=0", "search.num_samples=1", "study.keep_models=all"]


class StudyRun(NamedTuple):
    folder: Path
    table: pd.DataFrame  # what run_study returned
    console: str  # what it printed


def _run_small_study(storage: Path, name: str, extra: list[str], uri: bool = False) -> StudyRun:
    from raypruning.study.driver import run_study

    os.chdir(REPO)  # the config and its data paths are relative to the repository
    printed = io.StringIO()
    where = f"file://{storage}" if uri else str(storage)
    with contextlib.redirect_stdout(printed):
        table = run_study(SMALL_STUDY[0], [*SMALL_STUDY[1:], f"study.storage_path={where}", f"study.name={name}",
                                           *extra])
    return StudyRun(storage / name, table, printed.getvalue())


@pytest.fixture(scope="session")
def small_study(ray_local, tmp_path_factory) -> StudyRun:
    return _run_small_study(tmp_path_factory.mktemp("studies"), "small", ["study.seeds=2", "study.trackers=[mlflow]"],
                            uri=True)


@pytest.fixture(scope="session")
def small_study_alone(ray_local, tmp_path_factory) -> StudyRun:
    return _run_small_study(tmp_path_factory.mktemp("studies"), "alone",
                            ["study.share_warmup=false", "study.baselines=[dynamic-random]"])


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
