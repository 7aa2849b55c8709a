"""Smoke test of the trade-off benchmark: `benchmarks/tradeoff.py --quick` end to end.

Ten short Ray Train runs (full data, then dynamic EL2N with and without
exploration, static EL2N and random dynamic pruning at keep 0.5 and 0.2, and
soft pruning at r = 0.5) on the synthetic task with the
tiny model; each run pays the Ray worker-group start, so this is a slow test.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from raypruning.pruning_event import MIN_CALIBRATION

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "tradeoff.py"
REQUIRED = ("dataset", "method", "keep_fraction", "warmup_epochs", "period_epochs", "seeds", "score", "score_std",
            "score_delta", "time_saving", "realised_fraction", "ideal_fraction", "scoring_share", "wall_time_s",
            "command", "machine", "exact_match", "intent_accuracy", "slot_f1")


@pytest.mark.slow
@pytest.mark.extended  # about 4 minutes of Ray Train runs: left out of the default run
@pytest.mark.timeout(420)
def test_tradeoff_quick(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--reuse-train-scores",
                           "--explore", "0.1"], cwd=REPO,
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads((out / "synthetic.json").read_text())
    assert isinstance(rows, list)
    for row in rows:
        missing = [k for k in REQUIRED if k not in row]
        assert not missing, f"{row['method']}: missing {missing}"
        assert row["dataset"] == "synthetic"
        assert 0.0 < row["ideal_fraction"] <= 1.0
        assert 0.0 <= row["score"] <= 100.0
        assert 0.0 <= row["scoring_share"] < 1.0
        assert row["realised_fraction"] > 0 and math.isfinite(row["realised_fraction"])
        assert row["wall_time_s"] > 0
        assert row["seeds"] == [0]
        assert {"platform", "cpu_count", "torch"} <= set(row["machine"])
    got = {(r["method"], r["keep_fraction"]) for r in rows}
    expected = {("full", 1.0), ("soft", None)} | {(m, k) for m in ("dynamic-el2n", "static-el2n", "dynamic-random",
                                                                   "dynamic-el2n-explore") for k in (0.5, 0.2)}
    assert got == expected and len(rows) == len(expected)
    ref = next(r for r in rows if r["method"] == "full")
    assert ref["time_saving"] == 0.0 and ref["score_delta"] == 0.0
    assert ref["ideal_fraction"] == 1.0 and ref["scoring_share"] == 0.0
    soft = next(r for r in rows if r["method"] == "soft")
    # E = 3, anneal ceil(0.125 * 3) = 1: only epoch 1 prunes, skipping half of its below-mean examples.
    events = soft["per_seed"]["0"]["pruning_events"]
    assert soft["prune_ratio"] == 0.5 and [e["selection"] for e in events] == ["all", "soft", "all"]
    n = soft["num_train_examples"]
    assert soft["ideal_fraction"] == (3 * n - events[1]["below_mean"] // 2) / (3 * n)
    assert 1 - 1 / 6 <= soft["ideal_fraction"] < 1 and soft["examples_fraction"] == soft["ideal_fraction"]
    for r in rows:
        if r["method"] not in ("full", "soft"):
            # tau = 1 warmup epoch of E = 3, then f of the data: (1 + 2f) / 3 (exact counts round f*N).
            assert math.isclose(r["ideal_fraction"], (1 + 2 * r["keep_fraction"]) / 3, abs_tol=0.01)
            assert r["scoring_share"] > 0.0 or r["method"] == "dynamic-random"
    for r in rows:  # the EL2N options reach the EL2N runs, and are recorded there only
        want = {"dynamic-el2n-explore": (True, 0.1), "dynamic-el2n": (True, 0.0), "static-el2n": (True, 0.0)}
        assert (r["reuse_train_scores"], r["explore"]) == want.get(r["method"], (None, None)), r["method"]
        if r["method"] == "dynamic-el2n":  # events at epochs 1 and 2: the second re-scores the pruned
            events = r["per_seed"]["0"]["pruning_events"]  # and a calibration sample of the kept
            sample = min(events[0]["kept"], max(MIN_CALIBRATION, math.ceil(0.1 * events[0]["kept"])))
            assert [e["rescored"] for e in events] == [r["num_train_examples"],
                                                       r["num_train_examples"] - events[0]["kept"] + sample]
    assert (out / "tradeoff.png").is_file()
    # The report names a verdict for each goal and each dynamic EL2N variant, and tabulates every method.
    sys.path.insert(0, str(REPO / "benchmarks"))
    import write_results

    verdicts = write_results.goal_lines("synthetic", rows)
    by = {(r["method"], r["keep_fraction"]): r for r in rows}
    for method, name in (("dynamic-el2n", "dynamic EL2N"), ("dynamic-el2n-explore", "dynamic EL2N (explore 0.1)")):
        for keep, drop, saving in write_results.GOALS:
            row = by[(method, keep)]
            expected = row["score_delta"] >= -drop and row["time_saving"] >= saving  # judged here, independently
            hits = [line for line in verdicts if f"{name} at keep {keep} " in line]
            assert len(hits) == 1 and _verdict(hits[0]) == expected, (name, keep, verdicts)
        d, st, rnd = by[(method, 0.2)], by[("static-el2n", 0.2)], by[("dynamic-random", 0.2)]
        hits = [line for line in verdicts if f"{name} beats static EL2N" in line]
        assert len(hits) == 1 and _verdict(hits[0]) == (d["score"] > st["score"] and d["score"] > rnd["score"])
    write_results.write_markdown(out, tmp_path / "RESULTS.md")
    assert "| dynamic-el2n-explore | 0.2 |" in (tmp_path / "RESULTS.md").read_text()
    assert "| soft | r=0.5 |" in (tmp_path / "RESULTS.md").read_text()


def _verdict(line: str) -> bool:
    """True for **MET**, False for **NOT MET**; anything else fails the test."""
    met, not_met = "**MET**" in line, "**NOT MET**" in line
    assert met != not_met, line
    return met
