"""`benchmarks/tradeoff.py --resume`: a record of several seeds spans invocations, one whole seed at a time.

The runs are stand-ins (`run_one` replaced by a function that makes a summary from
the overrides), so these tests check the bookkeeping: which runs an invocation
makes, what a seed's chunk holds, and that rows built from chunks equal rows
built in one go. `tests/test_benchmarks_quick.py` runs the real thing.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _benchmark():
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location("tradeoff", REPO / "benchmarks" / "tradeoff.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(bench, out: Path, *extra: str):
    return bench.parse_args(["--datasets", "synthetic", "--seeds", "0,1", "--keep", "0.5", "--prune-ratio", "",
                             "--epochs", "2", "--out", str(out), "--no-report", *extra])


class Runs:
    """Stand-in runs: each summary is a function of its overrides, and every call is logged.
    `fail_at` makes the n-th call raise, as an interrupted invocation would stop."""

    def __init__(self, fail_at: int | None = None):
        self.calls: list[tuple[int, str]] = []
        self.fail_at = fail_at

    def __call__(self, overrides: list[str]) -> dict:
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise KeyboardInterrupt("interrupted")
        seed = int(next(o for o in overrides if o.startswith("train.seed="))[len("train.seed="):])
        keep = next((float(o.split("=")[1]) for o in overrides if o.startswith("pruning.keep_fraction=")), 1.0)
        self.calls.append((seed, next(o for o in overrides if o.startswith("pruning.mode="))))
        time = 100.0 * keep + seed + len(self.calls) / 100  # differs per call: a rerun would show
        score = 80.0 + 10 * keep + seed
        return {"metric": "exact_match", "score": score, "test_score": score - 1, "metrics": {"exact_match": score},
                "train_time_s": time, "scoring_time_s": 0.0, "total_time_s": time, "wall_time_s": time + 5,
                "driver_time_s": time + 9, "examples_trained": int(100 * keep), "full_data_examples": 100,
                "ideal_fraction": keep, "num_train_examples": 50,
                "history": [{"score": score - 5, "test_score": score - 6, "total_time_s": time / 2},
                            {"score": score, "test_score": score - 1, "total_time_s": time}]}


def test_an_interrupted_seed_runs_again_whole_and_finished_seeds_are_reused(tmp_path, monkeypatch):
    bench = _benchmark()
    jobs_per_seed = len(bench.plan(_args(bench, tmp_path))) + 1  # and the bracketing reference
    first = Runs(fail_at=jobs_per_seed + 2)  # seed 0 finishes, seed 1 stops after 2 runs
    monkeypatch.setattr(bench, "run_one", first)
    with pytest.raises(KeyboardInterrupt):
        bench.run_dataset(_args(bench, tmp_path), "synthetic", {"cpu_count": 2})
    chunks = sorted(p.name for p in (tmp_path / "seeds").iterdir())
    assert chunks == ["synthetic-seed0.json"]  # nothing of the interrupted seed
    chunk = json.loads((tmp_path / "seeds" / "synthetic-seed0.json").read_text())
    assert sorted(chunk["runs"]) == sorted(bench.job_key(*job) for job in bench.plan(_args(bench, tmp_path)))
    assert chunk["repeat"] is not None and chunk["settings"]["bracket"] is True

    second = Runs()
    monkeypatch.setattr(bench, "run_one", second)
    rows = bench.run_dataset(_args(bench, tmp_path, "--resume"), "synthetic", {"cpu_count": 2})
    assert [seed for seed, _ in second.calls] == [1] * jobs_per_seed  # seed 1 again, whole; seed 0 not rerun
    assert all(r["seeds"] == [0, 1] for r in rows)
    full = next(r for r in rows if r["method"] == "full")
    assert full["per_seed"]["0"] == chunk["runs"]["full@1"]
    assert set(full["seed_runs"]) == {"0", "1"}
    pruned = next(r for r in rows if r["method"] == "dynamic-el2n")  # seed 0's delta from its chunk's runs
    assert pruned["per_seed"]["0"] == chunk["runs"]["dynamic-el2n@0.5"]
    assert pruned["score_delta"] == pytest.approx(-5.0) and pruned["seeds"] == [0, 1]


def test_without_resume_every_seed_runs(tmp_path, monkeypatch):
    bench = _benchmark()
    monkeypatch.setattr(bench, "run_one", Runs())
    bench.run_dataset(_args(bench, tmp_path), "synthetic", {})
    runs = Runs()
    monkeypatch.setattr(bench, "run_one", runs)
    bench.run_dataset(_args(bench, tmp_path), "synthetic", {})
    assert {seed for seed, _ in runs.calls} == {0, 1}


def test_a_chunk_of_other_settings_is_refused_by_name(tmp_path, monkeypatch):
    bench = _benchmark()
    monkeypatch.setattr(bench, "run_one", Runs())
    bench.run_dataset(_args(bench, tmp_path), "synthetic", {})
    monkeypatch.setattr(bench, "run_one", Runs())
    differs = (r"synthetic-seed0\.json was run with other settings \(jobs: dynamic-el2n\S*@0\.5: "
               r"the chunk has \[.pruning\.warmup_epochs=1.\], this invocation \[.pruning\.warmup_epochs=2.\]")
    with pytest.raises(SystemExit, match=differs):
        bench.run_dataset(_args(bench, tmp_path, "--resume", "--warmup", "2"), "synthetic", {})
