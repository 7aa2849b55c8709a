"""Named seed streams."""

from raypruning.seeds import SeedStream, derive_seed


def test_streams_and_coordinates_give_different_seeds():
    seeds = {derive_seed(0, stream, a, b) for stream in SeedStream for a in range(20) for b in range(4)}
    assert len(seeds) == len(SeedStream) * 20 * 4


def test_seeds_are_stable_and_depend_on_the_run_seed():
    assert derive_seed(3, SeedStream.SELECTION, 1) == derive_seed(3, SeedStream.SELECTION, 1)
    assert derive_seed(3, SeedStream.SELECTION, 1) != derive_seed(4, SeedStream.SELECTION, 1)
    assert 0 <= derive_seed(3, SeedStream.BATCHES, 1) < 2**63
