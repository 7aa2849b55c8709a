"""Finished seeds of the trade-off benchmark, kept so that one record can span several invocations.

A chunk is one (dataset, seed): the seed's reference (both bracketing runs) and
the run of every method, all from ONE invocation, so that each time ratio
compares runs of one machine and one stretch of time. A chunk is written only
once all its runs have finished, and an interrupted seed runs again whole:
runs of one seed are never mixed across invocations. ``tradeoff.py --resume``
reads the chunks whose settings match and runs only the seeds that have none.

Chunks live in ``<out>/seeds/<dataset>-seed<k>.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

CHUNK_DIR = "seeds"


@dataclass
class SeedChunk:
    """One seed's runs of one dataset, with what they were run with."""

    dataset: str
    seed: int
    settings: dict  # what a run of this seed must have been run with for the chunk to count (chunk_settings)
    runs: dict  # job key (job_key) -> the run's slim summary
    repeat: dict | None  # the second, bracketing reference run (None without --bracket)
    command: str
    machine: dict
    started_at: str
    finished_at: str


def job_key(method: str, keep: float) -> str:
    """A job's name in a chunk file: method@keep (keep is the prune ratio for soft pruning)."""
    return f"{method}@{keep:g}"


def chunk_settings(base: list[str], jobs: dict[str, list[str]], bracket: bool) -> dict:
    """The settings a chunk must match: the shared overrides (data folder as a placeholder), each
    job's own overrides and whether the reference was bracketed."""
    return {"base": list(base), "jobs": {k: list(v) for k, v in sorted(jobs.items())}, "bracket": bracket}


def chunk_path(folder: Path, dataset: str, seed: int) -> Path:
    return Path(folder) / CHUNK_DIR / f"{dataset}-seed{seed}.json"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_chunk(folder: Path, dataset: str, seed: int, settings: dict) -> SeedChunk | None:
    """The seed's finished chunk, or None when there is none. A chunk run with other settings is
    an error that names the first difference: reusing it would mix two experiments."""
    path = chunk_path(folder, dataset, seed)
    if not path.is_file():
        return None
    chunk = SeedChunk(**json.loads(path.read_text()))
    if chunk.settings != settings:
        differs = first_difference(chunk.settings, settings)
        raise SystemExit(f"--resume: {path} was run with other settings ({differs}); "
                         f"delete it to run that seed again, or run with the options it was run with")
    return chunk


def first_difference(old: dict, new: dict) -> str:
    """The first setting that differs, in words."""
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            return f"{key}: {first_difference(a, b)}"
        if isinstance(a, list) and isinstance(b, list):
            only_old, only_new = sorted(set(a) - set(b)), sorted(set(b) - set(a))
            return f"{key}: the chunk has {only_old or 'nothing else'}, this invocation {only_new or 'nothing else'}"
        return f"{key}: the chunk has {a!r}, this invocation {b!r}"
    return "none"


def save_chunk(folder: Path, chunk: SeedChunk) -> Path:
    """Write a finished chunk whole (a temporary file renamed into place: never half a chunk)."""
    path = chunk_path(folder, chunk.dataset, chunk.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(chunk), indent=2) + "\n")
    os.replace(tmp, path)
    return path
