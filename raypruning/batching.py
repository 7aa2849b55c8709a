"""Which ids each worker trains in each step of an epoch: a pure, Ray-free batch planner.

``length`` batching (the default) shuffles the kept ids, cuts them into
mega-batches of `MEGA_BATCHES` global batches, sorts each mega-batch by length,
cuts it into global batches and shuffles the batches: examples of similar
length share a batch, so little of it is padding, while the order stays random
at the scale of an epoch. ``random`` batching leaves out the sort.

A global batch holds ``batch_size * world_size`` ids and is sharded per batch:
rank r takes the r-th contiguous slice, and every rank pads to the global
batch's longest row, so all ranks step through batches of the same shape
(the last batch may differ by one row). Every kept id is trained exactly once
per epoch, on one rank; none is dropped or repeated. Every rank draws the same
plan from the same generator, seeded per (seed, epoch), so a resumed run draws
the batches an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raypruning.config import BATCHINGS
MEGA_BATCHES = 50  # global batches per length-sorted mega-batch (randomness kept between mega-batches)


@dataclass(frozen=True)
class GlobalBatch:
    ids: np.ndarray  # every rank's ids of this step, the slices in rank order
    width: int  # tokens per row after padding: the longest row of the whole global batch

    def shard(self, rank: int, world_size: int) -> np.ndarray:
        """The ids rank trains in this step (slices differ in size by at most one)."""
        return np.array_split(self.ids, world_size)[rank]


def num_batches(num_ids: int, batch_size: int, world_size: int) -> int:
    """Steps in an epoch over num_ids ids: global batches, a short tail with fewer ids than
    ranks merged into the batch before it."""
    size = batch_size * world_size
    full, tail = divmod(num_ids, size)
    if tail and (tail >= world_size or full == 0):
        return full + 1
    return full


def plan_batches(ids: np.ndarray, lengths: np.ndarray, batch_size: int, world_size: int,
                 rng: np.random.Generator, batching: str = "length") -> list[GlobalBatch]:
    """The epoch's global batches, in training order.

    Args:
        ids: the kept example ids (each appears once in the plan).
        lengths: tokens of every example, indexed by id.
        batch_size: rows per rank per step.
        world_size: ranks sharing each step.
        rng: the epoch's generator (the same on every rank).
        batching: ``length`` or ``random``.

    Raises:
        ValueError: fewer ids than ranks (some rank would have nothing to train).
    """
    if batching not in BATCHINGS:
        raise ValueError(f"batching must be one of {BATCHINGS}, got {batching!r}")
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) < world_size:
        raise ValueError(f"{len(ids)} ids cannot give each of {world_size} ranks a batch")
    lengths = np.asarray(lengths)
    size = batch_size * world_size
    order = rng.permutation(ids)
    if batching == "length":
        mega = MEGA_BATCHES * size
        chunks = [order[i: i + mega] for i in range(0, len(order), mega)]
        order = np.concatenate([c[np.argsort(lengths[c], kind="stable")] for c in chunks])
    cuts = list(range(size, len(order), size))
    groups = np.split(order, cuts)
    if len(groups) > 1 and len(groups[-1]) < world_size:
        groups[-2:] = [np.concatenate(groups[-2:])]
    groups = [groups[i] for i in rng.permutation(len(groups))]
    return [GlobalBatch(g, int(lengths[g].max())) for g in groups]


def padding_share(plan: list[GlobalBatch], lengths: np.ndarray) -> float:
    """The share of the plan's padded tokens that are padding."""
    lengths = np.asarray(lengths)
    padded = sum(b.width * len(b.ids) for b in plan)
    return 1.0 - sum(int(lengths[b.ids].sum()) for b in plan) / padded if padded else 0.0


def steps_per_epoch(examples_per_epoch: list[int], batch_size: int, world_size: int) -> int:
    """Optimizer steps of a whole run (the LR schedule's length)."""
    return sum(num_batches(n, batch_size, world_size) for n in examples_per_epoch)

