"""Warmup sharing: pruning trials branch from the reference's checkpoint after their warmup.

A pruning trial with warmup tau trains epochs 0..tau-1 on all the data, as the
full-data reference with the same seed does: same initial weights, same batch
plans, same dropout seeds. So the reference keeps its checkpoint after each
epoch a trial may warm up for (``<study>/warmup/seed<k>/epoch<tau>/``) and
each such trial starts from it, ending with the result it would have alone.

That holds only when the warmup really is the same, so a trial runs alone when:
the learning rate depends on the run's length (a decaying schedule or LR
warmup: the step counts differ), the trial needs state that the reference
does not keep (forgetting counts, training-pass scores, soft pruning), or it
differs from the reference anywhere outside the pruning keys.

The warmup folder is under the study's storage path, so trials on every node
read it: a shared folder, or a URI (object storage), where a checkpoint is
uploaded file by file and counts as written once its READY file is there
(`publish`); a branching run's workers copy it down (`local_checkpoint`).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from raypruning.config import Config
from raypruning.schedule import PruningSchedule
from raypruning.search_space import full_key
from raypruning.storage import filesystem, is_uri, path_exists, upload

WARMUP_DIR = "warmup"
DONE_MARK = "done"  # the reference run of this seed ended: every checkpoint it will write is there
FAILED_MARK = "failed"  # it failed: trials waiting for it run alone
POLL_S = 2.0
READY = "READY"  # written last into a checkpoint uploaded to a URI: the upload is complete


@dataclass(frozen=True)
class SharePlan:
    """What every trial of a study needs to share the reference's warmup."""

    root: str  # the study's warmup folder: a path every node can read, or a URI
    reference: dict  # the reference point's searched values: the trial that writes the checkpoints
    epochs: tuple[int, ...]  # the warmup lengths the reference keeps a checkpoint for

    def seed_folder(self, seed: int) -> str:
        return f"{self.root.rstrip('/')}/seed{seed}"

    def is_reference(self, overrides: dict, baseline: bool) -> bool:
        return not baseline and all(overrides.get(k) == v for k, v in self.reference.items())

    def wait(self, seed: int, tau: int, poll_s: float = POLL_S) -> str | None:
        """The reference's checkpoint after tau epochs, once written; None when the reference
        ended (or failed) without it. Waits while the reference of this seed runs."""
        seed_dir = self.seed_folder(seed)
        while True:
            if is_published(seed_dir, f"epoch{tau}"):
                return f"{seed_dir}/epoch{tau}"
            if path_exists(f"{seed_dir}/{DONE_MARK}") or path_exists(f"{seed_dir}/{FAILED_MARK}"):
                return None
            time.sleep(poll_s)

    def mark(self, seed: int, name: str) -> None:
        fs, folder = filesystem(self.seed_folder(seed))
        fs.create_dir(folder, recursive=True)
        with fs.open_output_stream(f"{folder}/{name}"):
            pass


def is_published(folder: str, name: str) -> bool:
    """Whether the checkpoint <folder>/<name> is complete: a local folder appears whole (renamed
    into place), a URI's once its READY file is uploaded."""
    return path_exists(f"{folder}/{name}/{READY}") if is_uri(folder) else (Path(folder) / name).is_dir()


def publish(folder: str, name: str, save: Callable[[Path], None]) -> None:
    """Write a checkpoint (`save` fills an empty local folder) as <folder>/<name>, so that
    readers never see part of it. An existing one is kept: any writer's copy is the same state."""
    if is_published(folder, name):
        return
    if is_uri(folder):
        with tempfile.TemporaryDirectory() as staging:
            save(Path(staging))
            (Path(staging) / READY).write_text("")
            upload(sorted(Path(staging).iterdir(), key=lambda p: p.name == READY), f"{folder}/{name}")  # READY last
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=folder))
    save(partial)
    try:
        partial.rename(Path(folder) / name)
    except OSError:  # another writer got there first
        shutil.rmtree(partial, ignore_errors=True)


@contextlib.contextmanager
def local_checkpoint(checkpoint: str) -> Iterator[Path]:
    """A published checkpoint as a local folder: itself, or a copy of a URI's while in use."""
    if not is_uri(checkpoint):
        yield Path(checkpoint)
        return
    import pyarrow.fs

    fs, base = filesystem(checkpoint)
    with tempfile.TemporaryDirectory() as local:
        pyarrow.fs.copy_files(base, local, source_filesystem=fs)
        yield Path(local)


def remove_warmups(root: str) -> None:
    """Delete the study's warmup folder (every trial that branches from it is done)."""
    fs, base = filesystem(root)
    with contextlib.suppress(OSError):  # already gone
        fs.delete_dir(base)


def warmup_epochs(cfg: Config) -> tuple[int, ...]:
    """The warmup lengths a trial of the study can have that leave something to branch (1..E-1)."""
    spec = next((v for k, v in cfg.search.space.items() if full_key(k) == "pruning.warmup_epochs"), None)
    if spec is None:
        values = [cfg.pruning.warmup_epochs]
    else:
        kind, args = next(iter(spec.items()))
        values = list(args) if kind == "choice" else list(range(int(args[0]), int(args[1]) + 1))
    return tuple(sorted({int(v) for v in values if 1 <= int(v) < cfg.train.epochs}))


def schedule_problem(cfg: Config) -> str | None:
    """Why no trial of a study with this base config can share the warmup (None: some can)."""
    t = cfg.train
    if t.lr_schedule != "constant" or t.warmup_ratio > 0:
        return (f"train.lr_schedule={t.lr_schedule}, train.warmup_ratio={t.warmup_ratio:g}: the learning rate "
                f"depends on the run's length, so a pruning trial's warmup differs from the reference's")
    return None


def has_warmup(trial: Config) -> bool:
    """Whether the trial prunes after a full-data warmup of at least one epoch (something to branch from)."""
    p = trial.pruning
    return p.mode != "soft" and p.warmup_epochs >= 1 and PruningSchedule.from_config(trial).prunes


def share_problem(trial: Config, reference: Config) -> str | None:
    """Why this trial cannot branch from the reference's warmup exactly (None: it can, or it
    has no warmup to branch from)."""
    p = trial.pruning
    if p.mode == "soft":
        return "pruning.mode=soft selects from the training-pass scores of every epoch, which the reference does not keep"
    if not has_warmup(trial):
        return None
    base = schedule_problem(trial)
    if base:
        return base
    if p.score == "forgetting":
        return "pruning.score=forgetting counts forgetting events during the warmup, which the reference does not"
    if p.reuse_train_scores and not reference.pruning.reuse_train_scores:
        return ("pruning.reuse_train_scores reuses the training-pass scores of its last warmup epoch, which a "
                "reference without it does not keep")
    mine, theirs = trial.to_dict(), reference.to_dict()
    for section in mine:
        if section in ("pruning", "search", "study"):
            continue
        for key, value in mine[section].items():
            if theirs[section].get(key) != value:
                return f"{section}.{key} differs from the reference's, so its warmup trains differently"
    return None


def can_branch(trial: Config, reference: Config) -> bool:
    """Whether the trial has a warmup to branch from and may do so exactly."""
    return has_warmup(trial) and share_problem(trial, reference) is None
