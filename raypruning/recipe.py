"""The training recipe: what one Ray Train worker does, top to bottom.

setup (data, model, optimizer, resume) -> for each epoch: [pruning event:
score own shard, all-reduce the table, select the kept ids] -> train the kept
ids -> evaluate -> report with a checkpoint -> final summary.

Every worker runs this function; they share work through DDP gradients, the
score-table all-reduce and an all-gather of evaluation predictions, and
nothing else. Scoring, selection and bookkeeping live in their own modules.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, DistributedSampler

from raypruning import keys as K
from raypruning.config import Config, from_dict
from raypruning.data.encode import collate, encode_task
from raypruning.data.sources import load_task_data
from raypruning.evaluation import evaluate
from raypruning.models import build_model, load_tokenizer
from raypruning.run_state import MODEL_FILE, OPTIMIZER_FILE, SUMMARY_FILE, RunState
from raypruning.schedule import PruningSchedule
from raypruning.score_table import all_reduce_scores, shard_ids
from raypruning.scoring import FORWARD_SCORES, batch_scores, correct, training_loss
from raypruning.selection import select_random, select_top, smooth


@dataclass
class WorkerContext:
    rank: int
    world_size: int
    device: torch.device


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (seed, epoch, rank, ...), stable across runs."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def train_loop_per_worker(loop_config: dict) -> None:
    """Ray Train entry point. loop_config: {"config": Config as dict, optional "fault": {...}}."""
    import ray.train
    import ray.train.torch

    wall_start = time.perf_counter()
    cfg = from_dict(loop_config["config"], source="<run>")
    ctx = ray.train.get_context()
    worker = WorkerContext(ctx.get_world_rank(), ctx.get_world_size(), ray.train.torch.get_device())

    # ---- setup
    task, tokenizer, encoded = _load_and_encode(cfg)
    train_rows = encoded["train"].to_list()
    eval_rows = encoded[cfg.data.eval_split].to_list()
    pad_id = tokenizer.pad_token_id
    num_examples = len(train_rows)
    lengths = np.array([r["length"] for r in train_rows])
    schedule = PruningSchedule.from_config(cfg)

    model = build_model(cfg.model, task.kind, task.num_labels, len(task.slot_labels),
                        vocab_size=len(tokenizer), seed=cfg.train.seed)
    model = ray.train.torch.prepare_model(model)
    core = model.module if hasattr(model, "module") else model
    optimizer = torch.optim.AdamW(core.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    total_steps = sum(math.ceil(math.ceil(n / worker.world_size) / cfg.train.batch_size)
                      for n in schedule.examples_per_epoch(num_examples))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg, total_steps))

    state = RunState()
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = RunState.load(Path(folder))
            core.load_state_dict(torch.load(Path(folder) / MODEL_FILE, map_location=worker.device))
            opt = torch.load(Path(folder) / OPTIMIZER_FILE, map_location=worker.device)
            optimizer.load_state_dict(opt["optimizer"])
            scheduler.load_state_dict(opt["scheduler"])
        state.restarts += 1
    wall_offset = state.wall_time_s
    use_amp = worker.device.type == "cuda" and cfg.train.precision in ("auto", "bf16", "fp16")
    amp_dtype = torch.float16 if cfg.train.precision == "fp16" else torch.bfloat16
    grad_scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    # ---- epochs
    for epoch in range(state.next_epoch, cfg.train.epochs):
        _maybe_inject_fault(loop_config.get("fault"), epoch, worker)
        # Dropout draws from torch's default generator: seed it per (epoch, rank) so that a
        # resumed run trains exactly like an uninterrupted one.
        torch.manual_seed(derive_seed(cfg.train.seed, epoch, worker.rank))

        if schedule.is_event(epoch):
            start = time.perf_counter()
            scores, kept, rescored = _pruning_event(cfg, core, train_rows, lengths, pad_id, task.kind, state,
                                                    epoch, worker)
            state.scoring_time_s += time.perf_counter() - start
            state.kept_ids = kept.tolist()
            kept_mask = np.zeros(num_examples, dtype=bool)
            kept_mask[kept] = True
            state.events.append({"epoch": epoch, "kept": int(len(kept)), "scored": int(num_examples),
                                 "rescored": int(rescored)})
            state.score_rows.append(pd.DataFrame({
                "event": len(state.events) - 1, "epoch": epoch, "example_id": np.arange(num_examples),
                "score": scores, "kept": kept_mask}))

        kept_ids = np.arange(num_examples) if state.kept_ids is None else np.asarray(state.kept_ids)
        reuse = (cfg.pruning.reuse_train_scores and schedule.scores_from_training(epoch)
                 and cfg.pruning.score in FORWARD_SCORES)
        trained = _train_epoch(cfg, model, optimizer, scheduler, grad_scaler, use_amp, amp_dtype, train_rows,
                               kept_ids, pad_id, task.kind, epoch, worker,
                               track_correct=cfg.pruning.score == "forgetting", track_scores=reuse)
        state.train_time_s += trained.step_time
        state.examples_trained += len(kept_ids)
        if trained.correct is not None:
            _update_forgetting(state, trained.ids, trained.correct, num_examples, worker)
        if trained.scores is not None:
            start = time.perf_counter()
            state.train_scores = all_reduce_scores(trained.ids, trained.scores, num_examples, worker.device)
            state.scoring_time_s += trained.score_time + time.perf_counter() - start
        else:
            state.train_scores = None

        metrics = evaluate(core, eval_rows, task, pad_id, cfg.train.eval_batch_size, worker.device,
                           worker.rank, worker.world_size)
        state.next_epoch = epoch + 1
        state.wall_time_s = wall_offset + time.perf_counter() - wall_start
        report = _epoch_report(cfg, state, epoch, trained.loss, len(kept_ids) / num_examples, metrics, num_examples)
        state.history.append({k: v for k, v in report.items() if k != K.METRICS} | {K.METRICS: metrics["all"]})
        done = epoch + 1 == cfg.train.epochs
        if done:
            report[K.DONE] = True
        _report_with_checkpoint(report, state, core, optimizer, scheduler, worker,
                                summary=_summary(cfg, state, metrics, num_examples) if done else None)


def _load_and_encode(cfg: Config):
    """Data, tokenizer and tokenized splits.

    datasets fingerprints new tables by hashing them with dill, which prints a
    disassembly into Ray Train's captured stdout; that noise is swallowed here.
    """
    datasets.disable_progress_bars()
    with contextlib.redirect_stdout(io.StringIO()):
        task = load_task_data(cfg.data)
        train = task.splits["train"][:]
        texts = train["text"] + (train["text_pair"] if task.has_pair else [])
        tokenizer = load_tokenizer(cfg.model, texts)
        encoded = encode_task(task, tokenizer, cfg.train.max_length)
    return task, tokenizer, encoded


def _lr_lambda(cfg: Config, total_steps: int):
    warm = int(cfg.train.warmup_ratio * total_steps)
    kind = cfg.train.lr_schedule

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        if kind == "constant":
            return 1.0
        progress = min(1.0, (step - warm) / max(1, total_steps - warm))
        return 1.0 - progress if kind == "linear" else 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _pruning_event(cfg, core, train_rows, lengths, pad_id, kind, state, epoch, worker):
    """Score every example (own shard), all-reduce, smooth and select.

    Returns:
        (scores, kept ids, how many examples a scoring pass scored).
    """
    n = len(train_rows)
    p = cfg.pruning
    event = len(state.events)
    rng = np.random.default_rng(derive_seed(cfg.train.seed, 7919, event))
    if p.score == "random" or epoch == 0:
        # Random dynamic pruning, or tau = 0 (scores of an untrained model mean nothing).
        scores = rng.random(n)
        return scores, select_random(n, p.keep_fraction, rng), 0
    if p.score == "forgetting":
        # Forgetting counts; an example not (yet) predicted right ranks above any count.
        forgets = np.zeros(n) if state.forgets is None else state.forgets.astype(np.float64)
        learned = np.zeros(n, dtype=bool) if state.last_correct is None else state.last_correct >= 0.5
        scores = forgets + np.where(learned, 0.0, cfg.train.epochs + 1.0)
        rescored = 0
    else:
        by_length = np.argsort(lengths, kind="stable")
        reused = state.train_scores
        if reused is not None:  # only examples without a training-pass score are scored here
            by_length = by_length[np.isnan(reused[by_length])]
        rescored = len(by_length)
        mine = shard_ids(by_length, worker.rank, worker.world_size)
        local = score_examples(core, train_rows, mine, kind, p.score, p.joint_combine, pad_id,
                               cfg.train.eval_batch_size, worker.device)
        scores = all_reduce_scores(mine, local, n, worker.device)
        if reused is not None:
            scores = np.where(np.isnan(reused), scores, reused)
    selected_on, new_state = smooth(scores, None if state.smooth_mean is None else
                                    {"mean": state.smooth_mean, "var": state.smooth_var},
                                    p.smoothing, p.ema_alpha, p.ucb_c)
    if new_state is not None:
        state.smooth_mean, state.smooth_var = new_state["mean"], new_state["var"]
    return scores, select_top(selected_on, p.keep_fraction, rng, p.offset, p.explore), rescored


@torch.inference_mode()
def score_examples(core, rows, ids, kind, score, combine, pad_id, batch_size, device) -> np.ndarray:
    """The named score of each id in `ids` (in that order), in eval mode without gradients."""
    was_training = core.training
    core.eval()
    out = np.empty(len(ids), dtype=np.float64)
    for start in range(0, len(ids), batch_size):
        chunk = ids[start: start + batch_size]
        batch = _to_device(collate([rows[i] for i in chunk], pad_id), device)
        outputs = core(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
        out[start: start + len(chunk)] = batch_scores(outputs, batch, kind, score, combine).double().cpu().numpy()
    core.train(was_training)
    return out


def _to_device(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@dataclass
class TrainedEpoch:
    loss: float  # mean training loss
    step_time: float  # seconds in training steps
    score_time: float  # seconds spent keeping training-pass scores
    ids: np.ndarray | None  # ids this worker trained (when something was tracked)
    correct: np.ndarray | None  # their correctness, for forgetting events
    scores: np.ndarray | None  # their score from the training forward pass


def _train_epoch(cfg, model, optimizer, scheduler, grad_scaler, use_amp, amp_dtype, rows, kept_ids, pad_id,
                 kind, epoch, worker, track_correct, track_scores) -> TrainedEpoch:
    """One epoch over the kept ids, optionally keeping per-example correctness and scores."""
    model.train()
    subset = [rows[i] for i in kept_ids]
    sampler = DistributedSampler(subset, num_replicas=worker.world_size, rank=worker.rank, shuffle=True,
                                 seed=cfg.train.seed, drop_last=False)
    sampler.set_epoch(epoch)
    loader = DataLoader(subset, batch_size=cfg.train.batch_size, sampler=sampler,
                        collate_fn=lambda b: collate(b, pad_id))
    total_loss, batches, step_time, score_time = 0.0, 0, 0.0, 0.0
    seen_ids, seen_correct, seen_scores = [], [], []
    for batch in loader:
        batch = _to_device(batch, worker.device)
        start = time.perf_counter()
        with torch.autocast(worker.device.type, dtype=amp_dtype, enabled=use_amp):
            outputs = model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
            loss = training_loss(outputs, batch, kind)
        optimizer.zero_grad(set_to_none=True)
        grad_scaler.scale(loss).backward()
        if cfg.train.max_grad_norm > 0:
            grad_scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.max_grad_norm)
        grad_scaler.step(optimizer)
        grad_scaler.update()
        scheduler.step()
        if worker.device.type == "cuda":
            torch.cuda.synchronize()
        step_time += time.perf_counter() - start
        total_loss += float(loss.detach())
        batches += 1
        if track_correct or track_scores:
            seen_ids.append(batch["id"].cpu().numpy())
        if track_correct:
            seen_correct.append(correct(outputs, batch, kind).cpu().numpy())
        if track_scores:
            start = time.perf_counter()
            with torch.no_grad():
                p = cfg.pruning
                seen_scores.append(batch_scores(outputs, batch, kind, p.score, p.joint_combine).double().cpu().numpy())
            score_time += time.perf_counter() - start

    def joined(parts):
        return np.concatenate(parts) if parts else None

    return TrainedEpoch(total_loss / max(1, batches), step_time, score_time, joined(seen_ids),
                        joined(seen_correct), joined(seen_scores))


def _update_forgetting(state: RunState, ids, now_correct, n, worker) -> None:
    """Count correct-to-wrong flips between consecutive epochs (Toneva et al.), for every example."""
    now = all_reduce_scores(ids, now_correct.astype(np.float64), n, worker.device)  # NaN: not trained
    if state.last_correct is None:
        state.last_correct = np.full(n, np.nan)
        state.forgets = np.zeros(n)
    trained = ~np.isnan(now)
    flipped = trained & (state.last_correct >= 0.5) & (now < 0.5)
    state.forgets = state.forgets + flipped
    state.last_correct = np.where(trained, now, state.last_correct)


def _costs(cfg, state: RunState, metrics: dict, num_examples: int) -> dict:
    """The metric and cost keys shared by every epoch report and the final summary."""
    return {
        K.METRIC: metrics["name"],
        K.SCORE: metrics["score"],
        K.METRICS: metrics["all"],
        K.TRAIN_TIME: state.train_time_s,
        K.SCORING_TIME: state.scoring_time_s,
        K.TOTAL_TIME: state.train_time_s + state.scoring_time_s,
        K.WALL_TIME: state.wall_time_s,
        K.EXAMPLES_TRAINED: state.examples_trained,
        K.FULL_DATA_EXAMPLES: num_examples * cfg.train.epochs,
    }


def _epoch_report(cfg, state: RunState, epoch, loss, kept_fraction, metrics, num_examples) -> dict:
    return {K.EPOCH: epoch + 1, K.LOSS: loss, K.KEPT_FRACTION: kept_fraction,
            **_costs(cfg, state, metrics, num_examples)}


def _summary(cfg: Config, state: RunState, metrics: dict, num_examples: int) -> dict:
    return {
        **_costs(cfg, state, metrics, num_examples),
        K.IDEAL_FRACTION: PruningSchedule.from_config(cfg).ideal_fraction(num_examples),
        K.EPOCHS: cfg.train.epochs,
        K.PRUNING_EVENTS: state.events,
        "num_train_examples": num_examples,
        "restarts": state.restarts,
        "history": state.history,
        K.CONFIG: cfg.to_dict(),
    }


def _report_with_checkpoint(report, state, core, optimizer, scheduler, worker, summary=None) -> None:
    """Report on every worker (a barrier); rank 0 attaches the checkpoint."""
    import json

    import ray.train

    if worker.rank != 0:
        ray.train.report(report, checkpoint=None)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        torch.save(core.state_dict(), path / MODEL_FILE)
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, path / OPTIMIZER_FILE)
        state.save(path)
        if summary is not None:
            (path / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=float))
        ray.train.report(report, checkpoint=ray.train.Checkpoint.from_directory(folder))


def _maybe_inject_fault(fault: dict | None, epoch: int, worker: WorkerContext) -> None:
    """Test hook: kill the last worker once at the start of the given epoch."""
    if not fault or epoch != fault.get("epoch") or worker.rank != worker.world_size - 1:
        return
    marker = Path(fault["marker"])
    if marker.exists():
        return
    marker.write_text(str(epoch))
    os.kill(os.getpid(), signal.SIGKILL)
