"""Shared helpers of the benchmark scripts: paths, machine description, one run.

Every benchmark runs its configurations in ONE process on one local Ray
instance, interleaved, and reports speed only as ratios between runs of that
same invocation (the machines these run on are shared and noisy).
"""

from __future__ import annotations

import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
RESULTS = BENCH / "results"
# The data stays in ../shared/data next to the repository; it is never copied in.
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "data"

if str(REPO) not in sys.path:  # run as `python benchmarks/x.py` from anywhere
    sys.path.insert(0, str(REPO))


def command_line() -> str:
    """The command that produced a result, relative to the repository root when possible."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_s = str(script.relative_to(REPO))
    except ValueError:
        script_s = str(script)
    return " ".join(["python", shlex.quote(script_s)] + [shlex.quote(a) for a in sys.argv[1:]])


def machine_info() -> dict:
    import torch

    try:
        import ray

        ray_version = ray.__version__
    except Exception:  # noqa: BLE001
        ray_version = None
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "ray": ray_version,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        info["load_avg_1m_at_start"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], 0.0
    return statistics.mean(values), statistics.stdev(values)


def start_ray(num_cpus: int | None = None, verbose: bool = False) -> None:
    """A local Ray instance (or RAY_ADDRESS). Worker logs stay off the console unless verbose:
    Ray Train prints every report, which buries the benchmark's own table."""
    from raypruning.run import ensure_ray

    ensure_ray(include_dashboard=False, num_cpus=num_cpus, worker_logs=verbose)


def run_one(overrides: list[str], workdir: str | Path | None = None) -> dict:
    """One Ray Train run with the given dotted overrides (on the default config).

    Returns the run's summary dict plus ``driver_time_s``: seconds around
    `run_training` in this process, i.e. including the Ray worker-group start
    that the workers' own ``wall_time_s`` excludes.
    """
    from raypruning.config import load_config
    from raypruning.run import run_training

    cfg = load_config(None, overrides)
    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="rp_bench_")
        workdir = own_tmp.name
    try:
        start = time.perf_counter()
        summary = run_training(cfg, workdir)
        summary["driver_time_s"] = time.perf_counter() - start
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()
    return summary


def slim(summary: dict) -> dict:
    """The numbers of a summary that the benchmark files keep (no config; of the history, the scores)."""
    keys = ("metric", "score", "metrics", "test_score", "test_split", "train_time_s", "scoring_time_s",
            "total_time_s", "wall_time_s", "driver_time_s", "examples_trained", "full_data_examples",
            "ideal_fraction", "pruning_events", "num_train_examples")
    out = {k: summary.get(k) for k in keys if k in summary}
    history = summary.get("history", [])
    # The learning curve shows whether a run had converged by its last epoch.
    out["score_by_epoch"] = [h.get("score") for h in history]
    # A full-data run's test score and cumulative cost after every epoch: the fewer-epochs curve
    # that pruned runs are compared with at equal cost (pruned runs have a test score only at the end).
    out["test_score_by_epoch"] = [h.get("test_score") for h in history]
    out["total_time_by_epoch"] = [h.get("total_time_s") for h in history]
    out["train_time_by_epoch"] = [h.get("train_time_s") for h in history]
    return out
