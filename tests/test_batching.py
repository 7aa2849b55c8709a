"""The batch planner: every kept id once, equal shapes across ranks, seeded, little padding."""

import numpy as np
import pytest

from raypruning.batching import MEGA_BATCHES, num_batches, padding_share, plan_batches

rng_of = np.random.default_rng


def _skewed_lengths(n: int, seed: int = 0) -> np.ndarray:
    """Mostly short rows and a long tail, as in real text data."""
    return np.clip(rng_of(seed).lognormal(mean=2.5, sigma=0.7, size=n).astype(int), 3, 128)


@pytest.mark.parametrize("batching", ["length", "random"])
@pytest.mark.parametrize("n, batch_size, world", [(1000, 8, 2), (1001, 8, 2), (1002, 8, 3), (17, 8, 2), (3, 4, 3),
                                                  (16 * 50 * 2 + 5, 8, 2)])
def test_every_kept_id_exactly_once_across_ranks(batching, n, batch_size, world):
    lengths = _skewed_lengths(2000)
    kept = np.sort(rng_of(1).choice(2000, size=n, replace=False))
    plan = plan_batches(kept, lengths, batch_size, world, rng_of(7), batching)
    assert len(plan) == num_batches(n, batch_size, world)
    trained = np.concatenate([b.shard(r, world) for b in plan for r in range(world)])
    assert sorted(trained.tolist()) == kept.tolist()
    for batch in plan:
        sizes = [len(batch.shard(r, world)) for r in range(world)]
        assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1  # every rank steps, same shape up to a row
        assert batch.width == lengths[batch.ids].max()  # every rank pads to the same width


def test_full_batches_have_batch_size_rows_on_every_rank():
    plan = plan_batches(np.arange(160), _skewed_lengths(160), 8, 2, rng_of(0))
    assert {len(b.shard(r, 2)) for b in plan for r in range(2)} == {8}


def test_a_tail_shorter_than_the_ranks_joins_the_batch_before():
    plan = plan_batches(np.arange(33), _skewed_lengths(33), 8, 2, rng_of(0))  # 2 * 16 + 1
    assert sorted(len(b.ids) for b in plan) == [16, 17]


def test_same_seed_same_plan_other_seed_other_plan():
    lengths = _skewed_lengths(500)
    ids = np.arange(500)

    def flat(seed):
        return [b.ids.tolist() for b in plan_batches(ids, lengths, 8, 2, rng_of(seed))]

    assert flat(3) == flat(3)
    assert flat(3) != flat(4)


def test_length_batches_pad_less_than_random_batches_on_skewed_lengths():
    lengths = _skewed_lengths(4000)
    ids = np.arange(4000)
    by_length = padding_share(plan_batches(ids, lengths, 16, 2, rng_of(0), "length"), lengths)
    at_random = padding_share(plan_batches(ids, lengths, 16, 2, rng_of(0), "random"), lengths)
    assert by_length < 0.5 * at_random, (by_length, at_random)


def test_length_batching_keeps_order_random_beyond_a_mega_batch():
    lengths = np.arange(4000)  # longer id, longer row
    plan = plan_batches(np.arange(4000), lengths, 4, 1, rng_of(0))
    assert len(plan) == 1000 > MEGA_BATCHES
    first_lengths = [int(b.ids[0]) for b in plan[:20]]
    assert first_lengths != sorted(first_lengths)  # the batches are shuffled, not served short to long


def test_fewer_ids_than_ranks_is_an_error():
    with pytest.raises(ValueError, match="ranks"):
        plan_batches(np.arange(1), np.ones(4, dtype=int), 8, 2, rng_of(0))
