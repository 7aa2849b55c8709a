"""benchmarks/study_cost.py's comparison of a cheap study's front with a plain one's, on
hand-made settings: times are compared as fractions of each study's own reference."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
OBJECTIVES = {"score": "max", "total_time_s": "min"}


def _module():
    spec = importlib.util.spec_from_file_location("study_cost", REPO / "benchmarks" / "study_cost.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _settings(rows: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"trial_id": t, "method": "reference" if t == "ref" else "dynamic", "score": s,
                          "total_time_s": time, "is_reference": t == "ref"} for t, (s, time) in rows.items()])


PLAIN = {"ref": (90.0, 100.0), "a": (88.0, 50.0), "b": (80.0, 20.0), "d": (70.0, 100.0)}


def test_a_study_that_ran_twice_as_slow_has_the_same_front():
    """The same settings at twice the seconds (a busier machine): the same time fractions."""
    slow = {t: (s, 2 * time) for t, (s, time) in PLAIN.items()}
    got = _module().compare(_settings(slow), _settings(PLAIN), OBJECTIVES)
    assert got["hypervolume_ratio"] == pytest.approx(1.0)
    assert got["hypervolume_reference_point"] == {"score": 70.0, "time_fraction": 1.0}


def test_a_front_point_the_cheap_study_missed_costs_its_area():
    """Against the point (70, 1.0): plain's front adds a (18 x 0.5) and b (10 x 0.3), 12 in all;
    without a, b alone adds 10 x 0.8 = 8."""
    cheap = {t: v for t, v in PLAIN.items() if t != "a"}
    got = _module().compare(_settings(cheap), _settings(PLAIN), OBJECTIVES)
    assert got["plain"]["hypervolume"] == pytest.approx(12.0) and got["cheap"]["hypervolume"] == pytest.approx(8.0)
    assert got["hypervolume_ratio"] == pytest.approx(8 / 12)
    assert [p["trial_id"] for p in got["plain"]["front"]] == ["ref", "a", "b"]
