"""The per-example score table, filled by every worker's shard and all-reduced.

Each worker scores only its shard of the example ids. The table is summed
across workers together with a count of how often each id was scored, so an
id scored twice (a padded shard) is averaged, not double-counted. Afterwards
every worker holds the same table and selects the same kept ids with no other
communication. Without an initialised process group it is the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Worker:
    """Where this process sits in the worker group: its rank, the group's size, its device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")


def shard_ids(ids: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """Every world_size-th id from rank: balanced shards with no padding."""
    return ids[rank::world_size]


def all_reduce_scores(ids: np.ndarray, values: np.ndarray, num_examples: int,
                      device: torch.device | str = "cpu") -> np.ndarray:
    """Combine (ids, values) from every worker into one float64 table of length num_examples.

    Returns:
        The table; ids that no worker scored hold NaN.
    """
    table = torch.zeros(num_examples, dtype=torch.float64, device=device)
    seen = torch.zeros(num_examples, dtype=torch.float64, device=device)
    index = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=device)
    table.index_add_(0, index, torch.as_tensor(np.asarray(values, dtype=np.float64), device=device))
    seen.index_add_(0, index, torch.ones(len(index), dtype=torch.float64, device=device))
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(table, op=dist.ReduceOp.SUM)
        dist.all_reduce(seen, op=dist.ReduceOp.SUM)
    return (table / seen).cpu().numpy()  # 0/0 -> NaN for ids nobody scored

