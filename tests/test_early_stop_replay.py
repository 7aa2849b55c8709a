"""benchmarks/early_stop_replay.py on a hand-made study folder: the reports it replays, the trials
the rule stops, the cost saved, and a front trial that a too small margin would drop."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from raypruning import keys as K
from raypruning.config import load_config
from raypruning.study.layout import StudyMeta

REPO = Path(__file__).resolve().parents[1]
REFERENCE = {"pruning.warmup_epochs": 1, "pruning.period_epochs": 1, "pruning.keep_fraction": 1.0}


def _replay_module():
    spec = importlib.util.spec_from_file_location("early_stop_replay", REPO / "benchmarks" / "early_stop_replay.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _trial(folder: Path, trial_id: str, config: dict, epochs: list[tuple[float, float]], start: int) -> None:
    """A Tune trial folder: one line per epoch report (score, total_time_s), then the seed report."""
    lines, cost = [], 0.0
    for epoch, (score, total) in enumerate(epochs, start=1):
        cost = total
        lines.append({K.EPOCH: epoch, K.SCORE: score, K.TOTAL_TIME: total, K.COST: total, "trial_id": trial_id,
                      "config": config, "timestamp": start + epoch})
    lines.append({K.SCORE: epochs[-1][0], K.TOTAL_TIME: cost, K.DONE: True, K.SEED_RUNS: "[]",
                  "trial_id": trial_id, "config": config, "timestamp": start + len(epochs) + 1})
    path = folder / "tune" / f"trial_driver_{trial_id}"
    path.mkdir(parents=True)
    (path / "result.json").write_text("\n".join(json.dumps(line) for line in lines) + "\n")


@pytest.fixture
def study(tmp_path) -> Path:
    """4 epochs. The reference: 10 s an epoch, 60, 70, 80, 90. A cheap good trial finishes first
    at (20 s, 80). Then "slow" falls 15 behind after epoch 2 and ends at 50; "late" falls 15
    behind too but ends at 88 for 19 s, on the front: only a margin of 10 or more keeps it."""
    folder = tmp_path / "toy"
    base = load_config(None, ["train.epochs=4", "study.epoch_baseline=off"]).to_dict()
    objectives = {"score": "max", "total_time_s": "min"}
    (folder / "tune").mkdir(parents=True)
    (folder / "study.json").write_text(StudyMeta(base, REFERENCE, objectives, "sqlite:///x").to_json())
    trials = {
        "ref": (REFERENCE, [(60, 10), (70, 20), (80, 30), (90, 40)], 0),
        "good": ({**REFERENCE, "pruning.keep_fraction": 0.5}, [(60, 10), (70, 14), (75, 17), (80, 20)], 10),
        "slow": ({**REFERENCE, "pruning.keep_fraction": 0.4}, [(60, 10), (55, 14), (52, 17), (50, 20)], 20),
        "late": ({**REFERENCE, "pruning.keep_fraction": 0.3}, [(60, 10), (55, 13), (60, 16), (88, 19)], 30),
    }
    rows = []
    for trial_id, (config, epochs, start) in trials.items():
        _trial(folder, trial_id, config, epochs, start)
        rows.append({K.TRIAL_ID: trial_id, K.SCORE: float(epochs[-1][0]), K.TOTAL_TIME: float(epochs[-1][1]),
                     K.COST: float(epochs[-1][1]), K.IS_REFERENCE: trial_id == "ref",
                     K.PARETO: trial_id in ("ref", "good", "late"), K.STATUS: K.STATUS_DONE})
    pd.DataFrame(rows).to_parquet(folder / K.TRIALS_FILE)
    return folder


def test_the_replay_stops_what_the_rule_stops_and_counts_what_it_saves(study, tmp_path):
    replay = _replay_module()
    small, large = replay.replay(study, 2.0), replay.replay(study, 10.0)
    # margin 2, after epoch 2: both 15 behind, credited 90 - 15 + 2 = 77. "slow" can cost no
    # less than 14 + 2 * 4 = 22 s, and "good" (20 s, 80) dominates it; "late" can cost 13 + 2 * 3
    # = 19 s, less than any finished point, and is kept (then too at epoch 3).
    assert [s[K.TRIAL_ID] for s in small["stopped_trials"]] == ["slow"]
    slow = small["stopped_trials"][0]
    assert slow["stopped_after_epoch"] == 2 and slow["gap"] == 15.0 and slow["saved_cost_s"] == 6.0
    assert small["saved_full_runs"] == pytest.approx(6 / 40) and small["front_trials_stopped"] == []
    # margin 10: "slow" is credited 85 after epoch 2 and kept; after epoch 3 it is 28 behind,
    # credited 72 at 17 + 3 = 20 s, and "good" dominates it there.
    assert [(s[K.TRIAL_ID], s["stopped_after_epoch"], s["saved_cost_s"]) for s in large["stopped_trials"]] == [
        ("slow", 3, 3.0)]


def test_a_front_trial_the_rule_would_drop_is_named_and_fails_the_script(study, tmp_path):
    replay = _replay_module()
    # "late" with 4 s epochs: 22 s at best after epoch 2, dominated by "good" at margin 2 (not
    # at 20), though it ends on the front.
    path = next((study / "tune").glob("*late/result.json"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line, total in zip(lines, (10, 14, 18, 22, 22)):
        line[K.TOTAL_TIME] = line[K.COST] = total
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = replay.replay(study, 2.0)
    assert result["front_trials_stopped"] == ["late"]
    out = tmp_path / "replay.json"
    assert replay.main([str(study), "--margins", "2,20", "--out", str(out)]) == 1
    record = json.loads(out.read_text())
    assert record["command"].count("<studies>/toy") == 1 and str(tmp_path) not in record["command"]
    assert [r["front_trials_stopped"] for r in record["studies"][0]["replays"]] == [["late"], []]
