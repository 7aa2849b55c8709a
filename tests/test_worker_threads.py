"""How many CPUs a benchmark run's worker gets: tradeoff.py's default, and worker_threads.py's
settings and refusals (its timed runs are a benchmark, not a test)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "worker_threads.py"


def _module(name: str):
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_run_at_a_time_gets_the_whole_machine_and_parallel_runs_one_cpu_each(monkeypatch):
    tradeoff = _module("tradeoff")
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert tradeoff.parse_args(["--datasets", "atis"]).cpus_per_worker == 8.0
    assert tradeoff.parse_args(["--datasets", "atis", "--workers", "2"]).cpus_per_worker == 4.0
    assert tradeoff.parse_args(["--datasets", "atis", "--parallel", "3"]).cpus_per_worker == 1.0
    assert tradeoff.parse_args(["--quick"]).cpus_per_worker == 1.0  # four runs at once
    assert tradeoff.parse_args(["--datasets", "atis", "--cpus-per-worker", "3"]).cpus_per_worker == 3.0


def test_the_timed_runs_are_the_trade_offs_atis_reference_with_the_cpu_count_set(tmp_path):
    from raypruning.config import load_config

    cfg = load_config(None, _module("worker_threads").overrides(tmp_path, cpus=2, epochs=3, seed=1))
    assert cfg.scaling.cpus_per_worker == 2 and cfg.scaling.num_workers == 1 and not cfg.scaling.use_gpu
    assert cfg.pruning.mode == "full" and cfg.train.epochs == 3 and cfg.train.seed == 1
    assert (cfg.data.format, Path(cfg.data.path)) == ("jointbert", tmp_path / "atis")
    assert (cfg.model.name, cfg.model.num_layers, cfg.train.lr) == ("minilm", 2, 3e-4)


@pytest.mark.parametrize("argv,words", [
    (["--cpus", f"1,{(os.cpu_count() or 1) + 1}"], "this machine has"),
    (["--cpus", "1,two"], "expected a comma list"),
    (["--data-root", "no-such-root"], "no-such-root/atis: no such folder"),
])
def test_bad_arguments_exit_2_with_one_line_before_ray(tmp_path, argv, words):
    done = subprocess.run([sys.executable, str(SCRIPT), *argv, "--out", str(tmp_path / "w.json")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and words in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "w.json").exists()
