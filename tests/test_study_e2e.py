"""A small study end to end on a local Ray instance, its queries, and bad input."""

import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from raypruning.cli import main

REPO = Path(__file__).resolve().parents[1]
DESIGN_COLUMNS = ["trial_id", "warmup_epochs", "period_epochs", "keep_fraction", "score", "total_time_s",
                  "wall_time_s", "examples_trained", "is_reference", "time_saving", "score_delta", "pareto"]
SMALL = ["data.synthetic.num_train=240", "data.synthetic.num_eval=60", "train.epochs=3", "train.max_length=40",
         "search.space.warmup_epochs={int: [0, 2]}", "search.space.period_epochs={int: [1, 2]}",
         "search.space.keep_fraction={uniform: [0.2, 0.9]}"]


def _study_args(tmp_path: Path, name: str, samples: int) -> list[str]:
    return ["studies/quickstart.yaml", *SMALL, f"search.num_samples={samples}",
            f"study.storage_path={tmp_path}", f"study.name={name}"]


def _nondominated(scores: np.ndarray, times: np.ndarray) -> list[bool]:
    """Independent O(n^2) check: no other row at least as good on both and better on one."""
    out = []
    for i in range(len(scores)):
        dominated = any(scores[j] >= scores[i] and times[j] <= times[i] and (scores[j] > scores[i] or times[j] < times[i])
                        for j in range(len(scores)) if j != i)
        out.append(not dominated)
    return out


@pytest.fixture(scope="module")
def small_study(ray_local, tmp_path_factory):
    from raypruning.study import run_study

    tmp = tmp_path_factory.mktemp("studies")
    os.chdir(REPO)
    args = _study_args(tmp, "small", 3) + ["study.baselines=[dynamic-random]"]
    table = run_study(args[0], args[1:])
    return tmp / "small", table


def test_trials_table(small_study):
    folder, _ = small_study
    df = pd.read_parquet(folder / "trials.parquet")
    baselines = df[df["method"] == "dynamic-random"]
    searched = df[df["method"] != "dynamic-random"]
    assert len(searched) == 4  # 3 sampled + the reference
    assert 1 <= len(baselines) <= 3
    front_keeps = set(searched[searched["pareto"] & ~searched["is_reference"]]["keep_fraction"].round(6))
    assert set(baselines["keep_fraction"].round(6)) <= front_keeps or len(front_keeps) == 0
    for col in DESIGN_COLUMNS:
        assert col in df.columns, col
    ref = df[df["is_reference"]]
    assert len(ref) == 1 and ref["keep_fraction"].iloc[0] == 1.0
    assert ref["time_saving"].iloc[0] == pytest.approx(0.0) and ref["score_delta"].iloc[0] == pytest.approx(0.0)
    assert df["pareto"].tolist() == _nondominated(df["score"].to_numpy(), df["total_time_s"].to_numpy())
    pruned = df[~df["is_reference"]]
    assert (pruned["examples_trained"] <= ref["examples_trained"].iloc[0]).all()


def test_optuna_storage_and_tensorboard(small_study):
    folder, _ = small_study
    study = optuna.load_study(study_name="small", storage=f"sqlite:///{folder / 'optuna.db'}")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4  # baselines are not sampled: they stay out of the Optuna study
    assert glob.glob(str(folder / "tune" / "**" / "events.out.tfevents.*"), recursive=True)


def test_best_and_pareto_commands(small_study, capsys):
    folder, _ = small_study
    df = pd.read_parquet(folder / "trials.parquet")
    assert main(["best", str(folder), "--max-drop", "100", "--json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["trial"]["total_time_s"] == pytest.approx(df["total_time_s"].min())
    assert main(["pareto", str(folder), "--json", "--plot", str(folder / "front.png")]) == 0
    front = json.loads(capsys.readouterr().out)
    assert sorted(r["trial_id"] for r in front["front"]) == sorted(df[df["pareto"]]["trial_id"])
    assert front["hypervolume"] >= 0 and (folder / "front.png").stat().st_size > 0
    assert main(["best", str(folder), "--max-drop", "1"]) in (0, 1)
    text = capsys.readouterr().out
    assert "pruning:" in text or "no trial fits" in text


@pytest.mark.parametrize("extra,needle", [
    (["study.optuna_storage=postgresql://nobody@127.0.0.1:1/none"], "study.optuna_storage"),
    (["search.space={colour: {choice: [1, 2]}}"], "search.space.colour"),
    (["search.space={}"], "search.space"),
    (["study.objectives=[score, joules]"], "study.objectives"),
])
def test_bad_study_input_exits_2_and_creates_nothing(tmp_path, capsys, extra, needle):
    os.chdir(REPO)
    code = main(["study", *_study_args(tmp_path, "bad", 1), *extra])
    err = capsys.readouterr().err
    assert code == 2 and needle in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_interrupted_study_resumes_without_duplicates(tmp_path):
    args = [sys.executable, "-m", "raypruning", "study", *_study_args(tmp_path, "resumable", 4)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    table = tmp_path / "resumable" / "trials.parquet"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if table.exists() and len(pd.read_parquet(table)) >= 2:
            break
        time.sleep(1)
    assert proc.poll() is None, "the study ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=300)
    done_before = len(pd.read_parquet(table))
    assert done_before < 5
    resumed = subprocess.run([*args, "--resume"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    df = pd.read_parquet(table)
    assert len(df) == 5 and df["trial_id"].is_unique and df["is_reference"].sum() == 1
    assert not df.duplicated(subset=["warmup_epochs", "period_epochs", "keep_fraction"]).any()
