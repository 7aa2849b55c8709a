"""Smoke test of the trade-off benchmark: `benchmarks/tradeoff.py --quick` end to end.

Seven short Ray Train runs (full data, then dynamic EL2N, static EL2N and
random dynamic pruning at keep 0.5 and 0.2) on the synthetic task with the
tiny model; each run pays the Ray worker-group start, so this is a slow test.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "tradeoff.py"
REQUIRED = ("dataset", "method", "keep_fraction", "warmup_epochs", "period_epochs", "seeds", "score", "score_std",
            "score_delta", "time_saving", "realised_fraction", "ideal_fraction", "scoring_share", "wall_time_s",
            "command", "machine", "exact_match", "intent_accuracy", "slot_f1")


@pytest.mark.slow
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
        assert math.isclose(row["time_saving"], 1.0 - row["realised_fraction"], abs_tol=1e-9)
        assert row["seeds"] == [0]
        assert {"platform", "cpu_count", "torch"} <= set(row["machine"])
    got = {(r["method"], r["keep_fraction"]) for r in rows}
    expected = {("full", 1.0)} | {(m, k) for m in ("dynamic-el2n", "static-el2n", "dynamic-random")
                                  for k in (0.5, 0.2)}
    assert got == expected and len(rows) == len(expected)
    ref = next(r for r in rows if r["method"] == "full")
    assert ref["time_saving"] == 0.0 and ref["score_delta"] == 0.0
    assert ref["ideal_fraction"] == 1.0 and ref["scoring_share"] == 0.0
    for r in rows:
        if r["method"] != "full":
            # tau = 1 warmup epoch of E = 3, then f of the data: (1 + 2f) / 3 (exact counts round f*N).
            assert math.isclose(r["ideal_fraction"], (1 + 2 * r["keep_fraction"]) / 3, abs_tol=0.01)
            assert r["scoring_share"] > 0.0 or r["method"] == "dynamic-random"
    for r in rows:  # the EL2N options reach the EL2N runs, and are recorded there only
        el2n = r["method"].endswith("el2n")
        assert (r["reuse_train_scores"], r["explore"]) == ((True, 0.1) if el2n else (None, None)), r["method"]
        if r["method"] == "dynamic-el2n":  # events at epochs 1 and 2: the second re-scores only the pruned
            events = r["per_seed"]["0"]["pruning_events"]
            assert [e["rescored"] for e in events] == [r["num_train_examples"],
                                                       r["num_train_examples"] - events[0]["kept"]]
    assert (out / "tradeoff.png").is_file()
