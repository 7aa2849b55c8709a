"""Shared fixtures: one local Ray instance per test session, the real-data folder, and the
two-node cluster (tests/cluster_helpers.py)."""

from pathlib import Path

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
