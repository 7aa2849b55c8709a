"""The score table: two gloo workers give exactly the one-worker table and kept ids."""

import os
import socket

import numpy as np
import torch.distributed as dist
import torch.multiprocessing as mp

from raypruning.config import load_config
from raypruning.data.encode import encode_task
from raypruning.data.sources import load_task_data
from raypruning.models import build_model, load_tokenizer
from raypruning.score_table import all_reduce_scores, shard_ids
from raypruning.scoring import Examples, score_examples
from raypruning.selection import select_top

CFG = ["data.synthetic.num_train=203", "data.synthetic.num_eval=20", "model.hidden_size=32"]


def _table(rank: int, world: int) -> tuple[np.ndarray, np.ndarray]:
    """Score this rank's shard with a seeded tiny model, all-reduce, select."""
    cfg = load_config(None, CFG)
    task = load_task_data(cfg.data)
    tokenizer = load_tokenizer(cfg.model, task.splits["train"][:]["text"])
    rows = encode_task(task, tokenizer, 32)["train"].to_list()
    model = build_model(cfg.model, task.kind, task.num_labels, len(task.slot_labels), len(tokenizer), seed=3)
    order = np.argsort([r["length"] for r in rows], kind="stable")
    mine = shard_ids(order, rank, world)
    examples = Examples.of(rows, task.kind, tokenizer.pad_token_id)
    local = score_examples(model, examples, mine, score="el2n", combine="norm", batch_size=16, device="cpu")
    table = all_reduce_scores(mine, local, len(rows))
    kept = select_top(table, 0.3, np.random.default_rng(11))
    return table, kept


def _worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        table, kept = _table(rank, world)
        np.savez(f"{out}/rank{rank}.npz", table=table, kept=kept)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_workers_match_one_worker(tmp_path):
    single_table, single_kept = _table(0, 1)
    assert not np.isnan(single_table).any()
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        got = np.load(tmp_path / f"rank{rank}.npz")
        np.testing.assert_allclose(got["table"], single_table, rtol=1e-6, atol=1e-7)
        assert got["kept"].tolist() == single_kept.tolist()


def test_duplicate_rows_are_averaged_not_summed():
    # A padded shard scores id 1 twice: the table must hold its score once.
    table = all_reduce_scores(np.array([0, 1, 1, 2]), np.array([0.5, 0.25, 0.25, 1.0]), 4)
    assert table[:3].tolist() == [0.5, 0.25, 1.0]
    assert np.isnan(table[3])

