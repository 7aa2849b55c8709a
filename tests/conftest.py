"""Shared fixtures: one local Ray instance per test session, and the real-data folder."""

from pathlib import Path

import pytest

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
