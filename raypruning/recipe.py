"""The training recipe: what one Ray Train worker does, top to bottom.

setup (data, model, optimizer, resume) -> for each epoch: [pruning event] ->
train the kept ids -> evaluate -> report with a checkpoint; the last report
carries the run's summary.

Every worker runs `train_loop_per_worker`; they share work through DDP
gradients, the score-table all-reduce and an all-gather of evaluation
predictions, and nothing else. The loop's state lives on one `Recipe` object;
the pruning event (`raypruning.pruning_event`), scoring, selection and
bookkeeping live in their own modules. About 400 lines: the loop and its three
modes (hard, soft, full) read best in one place.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import datasets
import numpy as np
import torch

from raypruning import keys as K
from raypruning.batching import plan_batches, steps_per_epoch
from raypruning.config import Config, from_dict
from raypruning.console import quiet_worker_console
from raypruning.data.encode import encode_task
from raypruning.data.sources import load_task_data
from raypruning.evaluation import evaluate
from raypruning.forgetting import update_counts
from raypruning.models import build_model, load_tokenizer
from raypruning.pruning_event import PruningEvent, run_event
from raypruning.run_state import MODEL_FILE, OPTIMIZER_FILE, SUMMARY_FILE, RunState
from raypruning.schedule import PruningSchedule
from raypruning.score_table import Worker, all_reduce_scores
from raypruning.scoring import FORWARD_SCORES, Examples, Precision, batch_scores, correct, training_loss
from raypruning.seeds import SeedStream, derive_seed, generator
from raypruning.soft import SoftSelection, update_table


def train_loop_per_worker(loop_config: dict) -> None:
    """Ray Train entry point. loop_config: {"config": Config as dict,
    optional "warm_start": a checkpoint folder to branch from (`Recipe.branch`), optional
    "warmup_out": {"dir": folder, "epochs": [...]} (`Recipe.keep_warmup`)}."""
    import ray.train
    import ray.train.torch

    quiet_worker_console()
    cfg = from_dict(loop_config["config"], source="<run>")
    ctx = ray.train.get_context()
    recipe = Recipe(cfg, Worker(ctx.get_world_rank(), ctx.get_world_size(), ray.train.torch.get_device()))
    recipe.keep_warmup = loop_config.get("warmup_out")
    checkpoint = ray.train.get_checkpoint()
    # Ray Train V2 has no resume_from_checkpoint: a run's own checkpoint (a restart) wins over
    # the warm start, which only a fresh run takes.
    if checkpoint is None and loop_config.get("warm_start"):
        from raypruning.study.warmup import local_checkpoint

        with local_checkpoint(loop_config["warm_start"]) as folder:
            recipe.branch(folder)
        for entry in recipe.state.history:  # trackers see the warmup epochs as the run alone reports them
            ray.train.report(dict(entry), checkpoint=None)
    else:
        recipe.resume(checkpoint)
    for epoch in recipe.remaining_epochs():
        if recipe.schedule.is_event(epoch):
            recipe.prune(epoch)
        loss = recipe.train(epoch)
        metrics = recipe.evaluate()
        recipe.report(epoch, loss, metrics)


class StepTimer:
    """Seconds spent in timed sections: CUDA events on a GPU, read once per epoch so that timing
    adds no synchronisation per step; a wall clock elsewhere."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.seconds = 0.0
        self._events: list = []

    @contextlib.contextmanager
    def section(self):
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            yield
            end.record()
            self._events.append((start, end))
        else:
            start = time.perf_counter()
            yield
            self.seconds += time.perf_counter() - start

    def total(self) -> float:
        """Every section's seconds so far (on CUDA this waits for the device once)."""
        if self._events:
            self._events[-1][1].synchronize()
            self.seconds += sum(s.elapsed_time(e) for s, e in self._events) / 1000.0
            self._events = []
        return self.seconds


@dataclass
class TrainedEpoch:
    loss: float  # mean training loss
    step_time: float  # seconds in training steps
    score_time: float  # seconds spent keeping training-pass scores
    ids: np.ndarray | None  # ids this worker trained (when something was tracked)
    correct: np.ndarray | None  # their correctness, for forgetting events
    scores: np.ndarray | None  # their score from the training forward pass


class Recipe:
    """One worker's run: config, data, model, optimizer, schedule and `RunState`, on self."""

    def __init__(self, cfg: Config, worker: Worker):
        import ray.train.torch

        self._wall_start = time.perf_counter()
        self.cfg = cfg
        self.worker = worker
        self.task, tokenizer, encoded = _load_and_encode(cfg)
        self.train_set = Examples.of(encoded["train"].to_list(), self.task.kind, tokenizer.pad_token_id)
        self.eval_rows = encoded[cfg.data.eval_split].to_list()
        # Reported, never selected on: after the last epoch, and after every epoch of a full-data
        # run, whose per-epoch history is the study's fewer-epochs curve.
        self.test_rows = encoded[self.task.test_split].to_list() if self.task.test_split else None
        self.schedule = PruningSchedule.from_config(cfg)

        cuda = worker.device.type == "cuda"
        if cuda:  # TF32 matmuls: float32 weights, tensor-core speed
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        model = build_model(cfg.model, self.task.kind, self.task.num_labels, len(self.task.slot_labels),
                            vocab_size=len(tokenizer), seed=cfg.train.seed)
        if cfg.train.compile:
            model.encoder.compile()  # in place: state-dict keys, and so checkpoints, stay as they are
        self.model = ray.train.torch.prepare_model(model)  # on the device; DDP-wrapped with several workers
        self.core = self.model.module if hasattr(self.model, "module") else self.model
        self.optimizer = torch.optim.AdamW(self.core.parameters(), lr=cfg.train.lr,
                                           weight_decay=cfg.train.weight_decay, fused=cuda or None)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _lr_lambda(cfg, self._total_steps()))
        self.precision = Precision.of(cfg.train.precision, worker.device)
        self.grad_scaler = torch.amp.GradScaler("cuda", enabled=self.precision.enabled
                                                and self.precision.dtype == torch.float16)
        self.state = RunState()
        self._wall_offset = 0.0
        self.keep_warmup: dict | None = None  # {"dir", "epochs"}: also save the state after these epochs there
        # Training-pass scores kept for the warmup copy only (`_scores_for_warmup`), with their seconds.
        self._warmup_train_scores: tuple[np.ndarray, float] | None = None

    @property
    def num_examples(self) -> int:
        return len(self.train_set)

    def _total_steps(self) -> int:
        """Optimizer steps of the whole run on this worker (the LR schedule's length)."""
        return steps_per_epoch(self.schedule.examples_per_epoch(self.num_examples), self.cfg.train.batch_size,
                               self.worker.world_size)

    # ---- setup

    def resume(self, checkpoint) -> None:
        """Continue from a Ray Train checkpoint (None: a fresh run)."""
        if checkpoint is None:
            return
        with checkpoint.as_directory() as folder:
            self._load(Path(folder))
        self.state.restarts += 1
        self._wall_offset = self.state.wall_time_s

    def branch(self, folder: Path) -> None:
        """Start from the full-data reference's checkpoint after its first tau epochs (a study's
        shared warmup): the run continues as it would have alone, its warmup's time counted in
        total_time_s (the standalone cost) and kept apart as shared_time_s."""
        self._load(folder)
        s = self.state
        s.shared_time_s = s.train_time_s + s.scoring_time_s
        s.restarts = 0
        if self.schedule.prunes:  # alone, a pruned run reports the test split after its last epoch only
            s.history = [{**h, K.TEST_SCORE: None} for h in s.history]
        self._wall_offset = s.wall_time_s

    def _load(self, folder: Path) -> None:
        device = self.worker.device
        self.state = RunState.load(folder)
        self.core.load_state_dict(torch.load(folder / MODEL_FILE, map_location=device))
        saved = torch.load(folder / OPTIMIZER_FILE, map_location=device)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])

    def remaining_epochs(self) -> range:
        return range(self.state.next_epoch, self.cfg.train.epochs)

    # ---- the pruning event

    def prune(self, epoch: int) -> PruningEvent | SoftSelection:
        """Score, share, smooth and select; the kept ids hold until the next event.
        Soft pruning selects from the training-pass score table instead (no scoring pass)."""
        start = time.perf_counter()
        if self.schedule.soft:
            event = self._soft_selection(epoch)
        else:
            event = run_event(self.cfg, self.core, self.train_set, self.state, epoch, self.worker)
        self.state.scoring_time_s += time.perf_counter() - start
        event.record_into(self.state)
        return event

    def _soft_selection(self, epoch: int) -> SoftSelection:
        """This epoch's soft selection; the same on every worker (same table, same seeded draw)."""
        p = self.cfg.pruning
        rng = generator(self.cfg.train.seed, SeedStream.SOFT, epoch)
        return SoftSelection.choose(epoch, self.state.soft_scores, self.num_examples, self.cfg.train.epochs,
                                    p.prune_ratio, p.anneal_fraction, rng)

    def kept_ids(self) -> np.ndarray:
        return np.arange(self.num_examples) if self.state.kept_ids is None else np.asarray(self.state.kept_ids)

    # ---- training

    def train(self, epoch: int) -> float:
        """One epoch over the kept ids, with the bookkeeping later events need. Returns the mean loss."""
        p = self.cfg.pruning
        kept = self.kept_ids()
        reuse = ((p.reuse_train_scores or self.schedule.soft) and self.schedule.scores_from_training(epoch)
                 and p.score in FORWARD_SCORES)
        for_warmup = not reuse and self._scores_for_warmup(epoch)
        trained = self._train_epoch(epoch, kept, track_correct=p.score == "forgetting",
                                    track_scores=reuse or for_warmup)
        self.state.train_time_s += trained.step_time
        self.state.examples_trained += len(kept)
        if trained.correct is not None:
            now = all_reduce_scores(trained.ids, trained.correct.astype(np.float64), self.num_examples,
                                    self.worker.device)  # NaN: not trained this epoch
            self.state.last_correct, self.state.forgets = update_counts(self.state.last_correct,
                                                                        self.state.forgets, now)
        self.state.train_scores = None
        if trained.scores is not None:
            start = time.perf_counter()
            table = all_reduce_scores(trained.ids, trained.scores, self.num_examples, self.worker.device)
            seconds = trained.score_time + time.perf_counter() - start
            if for_warmup:  # for the trials that branch here; this run's own state and times leave them out
                self._warmup_train_scores = (table, seconds)
            else:
                self.state.train_scores = table
                if self.schedule.soft:
                    self.state.soft_scores = update_table(self.state.soft_scores, table)
                self.state.scoring_time_s += seconds
        return trained.loss

    def _scores_for_warmup(self, epoch: int) -> bool:
        """Whether to keep this epoch's training-pass scores for the trials that branch after it
        (a study's shared warmup): with pruning.reuse_train_scores their first event reuses them,
        as each trial alone would have kept them in its last warmup epoch (never the first epoch:
        `PruningSchedule.scores_from_training`)."""
        p = self.cfg.pruning
        return (bool(self.keep_warmup) and p.reuse_train_scores and p.score in FORWARD_SCORES
                and 1 <= epoch and epoch + 1 < self.cfg.train.epochs and epoch + 1 in self.keep_warmup["epochs"])

    def _train_epoch(self, epoch: int, kept: np.ndarray, track_correct: bool, track_scores: bool) -> TrainedEpoch:
        cfg, worker, kind = self.cfg, self.worker, self.train_set.kind
        # Dropout draws from torch's default generator: seed it per (epoch, rank) so that a
        # resumed run trains exactly like an uninterrupted one.
        torch.manual_seed(derive_seed(cfg.train.seed, SeedStream.DROPOUT, epoch, worker.rank))
        self.model.train()
        # Every rank draws the same plan and trains its slice of each global batch.
        plan = plan_batches(kept, self.train_set.lengths, cfg.train.batch_size, worker.world_size,
                            generator(cfg.train.seed, SeedStream.BATCHES, epoch), cfg.train.batching)
        slots_per_example = self._slot_tokens_per_example(kept)
        # Everything per step stays on the device (loss sum, ids, correctness, scores) and is read
        # once after the epoch, so the host never waits for a step to finish.
        steps, scoring = StepTimer(worker.device), StepTimer(worker.device)
        total_loss = torch.zeros((), dtype=torch.float64, device=worker.device)
        seen_ids, seen_correct, seen_scores = [], [], []
        for global_batch in plan:
            batch = self.train_set.batch(global_batch.shard(worker.rank, worker.world_size), worker.device,
                                         width=global_batch.width)
            with steps.section():
                outputs, loss = self._step(batch, None if slots_per_example is None
                                           else slots_per_example * len(batch["id"]))
            total_loss += loss.detach()
            if track_correct or track_scores:
                seen_ids.append(batch["id"])
            if track_correct:
                seen_correct.append(correct(outputs, batch, kind))
            if track_scores:
                with scoring.section(), torch.no_grad():
                    p = cfg.pruning
                    seen_scores.append(batch_scores(outputs, batch, kind, p.score, p.joint_combine).double())
        return TrainedEpoch(float(total_loss) / max(1, len(plan)), steps.total(), scoring.total(),
                            _joined(seen_ids), _joined(seen_correct), _joined(seen_scores))

    def _slot_tokens_per_example(self, kept: np.ndarray) -> float | None:
        """With train.slot_loss=epoch on a joint task, the mean labelled slot tokens of the epoch's
        examples: a batch's slot loss is divided by its examples times this, not by its own tokens."""
        slots = self.train_set.slot_tokens
        if slots is None or self.cfg.train.slot_loss != "epoch":
            return None
        return max(float(slots[kept].mean()), 1.0)

    def _step(self, batch: dict, slot_tokens: float | None = None) -> tuple[dict, torch.Tensor]:
        """One optimizer step on a batch. Returns the model outputs and the loss.
        slot_tokens: the slot loss's denominator (None: the batch's labelled slot tokens)."""
        with self.precision.autocast(self.worker.device):
            outputs = self.model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
            loss = training_loss(outputs, batch, self.train_set.kind, self._loss_weights(batch), slot_tokens)
        self.optimizer.zero_grad(set_to_none=True)
        self.grad_scaler.scale(loss).backward()
        if self.cfg.train.max_grad_norm > 0:
            self.grad_scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.max_grad_norm)
        self.grad_scaler.step(self.optimizer)
        self.grad_scaler.update()
        self.scheduler.step()
        return outputs, loss

    def _loss_weights(self, batch: dict) -> torch.Tensor | None:
        """Soft pruning's per-example loss weights for a batch (None: every weight is 1)."""
        if self.state.loss_weights is None:
            return None
        ids = batch["id"].cpu().numpy()
        return torch.as_tensor(self.state.loss_weights[ids], dtype=torch.float32, device=self.worker.device)

    # ---- evaluation and reports

    def evaluate(self, rows: list | None = None) -> dict:
        """Metrics on the evaluation split (or on the given rows), outside the timed training."""
        w = self.worker
        return evaluate(self.core, self.eval_rows if rows is None else rows, self.task, self.train_set.pad_id,
                        self.cfg.train.eval_batch_size, w.device, w.rank, w.world_size, self.precision)

    def test_score(self, epoch: int) -> float | None:
        """The test split's score after the last epoch, and after every epoch of a full-data run."""
        last = epoch + 1 == self.cfg.train.epochs
        if self.test_rows is None or not (last or not self.schedule.prunes):
            return None
        return self.evaluate(self.test_rows)["score"]

    def report(self, epoch: int, loss: float, metrics: dict) -> None:
        """Report the epoch on every worker; rank 0 attaches a checkpoint when one is due
        (`PruningSchedule.checkpoint_after`), and after the last epoch the run's summary."""
        state = self.state
        state.next_epoch = epoch + 1
        state.wall_time_s = self._wall_offset + time.perf_counter() - self._wall_start
        report = {K.EPOCH: epoch + 1, K.LOSS: loss, K.KEPT_FRACTION: len(self.kept_ids()) / self.num_examples,
                  **self._costs(metrics)}
        test = self.test_score(epoch)
        state.history.append({k: v for k, v in report.items() if k != K.METRICS}
                             | {K.METRICS: metrics["all"], K.TEST_SCORE: test})
        done = epoch + 1 == self.cfg.train.epochs
        if done:
            report[K.DONE] = True
        checkpoint = self.schedule.checkpoint_after(epoch, self.cfg.train.checkpoint_every)
        self._report(report, checkpoint, self._summary(metrics, test) if done else None)

    def _costs(self, metrics: dict) -> dict:
        """The metric and cost keys shared by every epoch report and the final summary."""
        s = self.state
        return {
            K.METRIC: metrics["name"],
            K.SCORE: metrics["score"],
            K.METRICS: metrics["all"],
            K.TRAIN_TIME: s.train_time_s,
            K.SCORING_TIME: s.scoring_time_s,
            K.TOTAL_TIME: s.train_time_s + s.scoring_time_s,
            K.COST: s.train_time_s + s.scoring_time_s - s.shared_time_s,
            K.WALL_TIME: s.wall_time_s,
            K.EXAMPLES_TRAINED: s.examples_trained,
            K.FULL_DATA_EXAMPLES: self.num_examples * self.cfg.train.epochs,
        }

    def _summary(self, metrics: dict, test_score: float | None) -> dict:
        return {
            **self._costs(metrics),
            K.TEST_SCORE: test_score,
            "test_split": self.task.test_split,
            K.IDEAL_FRACTION: self._ideal_fraction(),
            K.EPOCHS: self.cfg.train.epochs,
            K.PRUNING_EVENTS: self.state.events,
            "num_train_examples": self.num_examples,
            "restarts": self.state.restarts,
            K.HISTORY: self.state.history,
            K.CONFIG: self.cfg.to_dict(),
        }

    def _ideal_fraction(self) -> float:
        """The schedule's training work relative to full data; soft: from each epoch's below-mean count."""
        if self.schedule.soft and self.schedule.prunes:
            below = {e["epoch"]: e["below_mean"] for e in self.state.events if e["selection"] == "soft"}
            return self.schedule.soft_ideal_fraction(self.num_examples, below)
        return self.schedule.ideal_fraction(self.num_examples)

    def _report(self, report: dict, checkpoint: bool, summary: dict | None) -> None:
        """ray.train.report on every worker (a barrier); rank 0 attaches the checkpoint when one is due."""
        import ray.train

        if self.worker.rank == 0:
            self._save_warmup()
        if self.worker.rank != 0 or not checkpoint:
            ray.train.report(report, checkpoint=None)
            return
        with tempfile.TemporaryDirectory() as folder:
            self._save(Path(folder))
            if summary is not None:
                (Path(folder) / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=float))
            ray.train.report(report, checkpoint=ray.train.Checkpoint.from_directory(folder))

    def _save(self, path: Path, state: RunState | None = None) -> None:
        torch.save(self.core.state_dict(), path / MODEL_FILE)
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()},
                   path / OPTIMIZER_FILE)
        (state or self.state).save(path)

    def _save_warmup(self) -> None:
        """After an epoch that trials warm up for, save the state into <dir>/epoch<n> as well
        (`raypruning.study.warmup.publish`: readers never see part of it)."""
        from raypruning.study.warmup import publish

        done = self.state.next_epoch
        if not self.keep_warmup or done not in self.keep_warmup["epochs"]:
            return
        kept, self._warmup_train_scores = self._warmup_train_scores, None
        state = self.state
        if kept is not None:  # the state of a trial alone after its warmup: its scores, and their time
            state = replace(state, train_scores=kept[0], scoring_time_s=state.scoring_time_s + kept[1])
        publish(str(self.keep_warmup["dir"]), f"epoch{done}", lambda folder: self._save(folder, state))


def _joined(parts: list[torch.Tensor]) -> np.ndarray | None:
    return torch.cat(parts).cpu().numpy() if parts else None


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


