"""A real two-node Ray cluster on this machine: a submitted study whose trials (a baseline's
too) spread over both nodes, and its pruned trial's run against the same run on one node.

The cluster (tests/cluster_helpers.py) is a head node and a worker node started
with ``ray start --block`` on loopback. Where Ray Train's workers ran is read
back from the Ray state API: the nodes share one IP, so they are told apart by
node id.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from cluster_helpers import nodes_by_group, out
from raypruning.export import find_checkpoint
from raypruning.run_state import SCORES_FILE

pytestmark = pytest.mark.slow


def _searched(folder) -> pd.DataFrame:
    df = pd.read_parquet(folder / "trials.parquet")
    return df[df["method"] != "full-epochs"]  # the fewer-epochs rows read from the reference's history


def test_submitted_study_completes_on_two_nodes(two_node_study, capsys):
    from raypruning.cli import main

    study = two_node_study
    assert study.submitted.returncode == 0, f"raypruning submit --follow exited {study.submitted.returncode}:\n" \
                                            f"{out(study.submitted)}"
    assert "SUCCEEDED" in study.submitted.stdout
    df = _searched(study.folder)
    assert sorted(df["method"]) == ["dynamic", "dynamic-random", "reference"], df  # 1 sampled, its baseline
    assert int(df["is_reference"].sum()) == 1
    assert all(math.isfinite(s) for s in df["score"]), df["score"]
    assert all(math.isfinite(t) and t > 0 for t in df["total_time_s"]), df["total_time_s"]

    capsys.readouterr()
    assert main(["best", str(study.folder), "--max-drop", "100", "--json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["trial"]["trial_id"] in set(pd.read_parquet(study.folder / "trials.parquet")["trial_id"])
    assert "config" in best

    # Every trial's worker group spans both nodes: each placement group holds one worker per node.
    assert len(study.nodes) == 2, study.nodes
    by_pg = nodes_by_group(study.new_actors)
    assert len(by_pg) >= 3, f"expected a worker group per trial, got {by_pg}"
    for pg, where in by_pg.items():
        assert where == study.nodes, f"placement group {pg}: RayTrainWorkers on {where}, cluster nodes {study.nodes}"


def test_a_baseline_runs_at_the_sampled_setting(two_node_study):
    """study.baselines: after the search, a second experiment runs dynamic-random pruning at the
    pruned trial's setting, with the same examples trained."""
    df = _searched(two_node_study.folder)
    (trial,) = df[df["method"] == "dynamic"].itertuples()
    (baseline,) = df[df["method"] == "dynamic-random"].itertuples()
    assert (baseline.keep_fraction, baseline.warmup_epochs) == (trial.keep_fraction, trial.warmup_epochs)
    assert baseline.examples_trained == trial.examples_trained and not baseline.is_reference
    stored = pd.read_parquet(two_node_study.folder / "trials.parquet")
    assert sorted(stored["method"].unique()) == ["dynamic", "dynamic-random", "full-epochs", "reference"]


def test_spread_run_matches_single_node(two_node_study):
    """The study's pruned trial (its two workers on two nodes, branched from the reference's
    warmup) scores and keeps exactly what the same run does alone on one node."""
    study = two_node_study
    assert study.submitted.returncode == 0, out(study.submitted)
    df = _searched(study.folder)
    (trial_id,) = df.loc[df["method"] == "dynamic", "trial_id"]
    a = pd.read_parquet(find_checkpoint(study.folder / "runs" / f"trial-{trial_id}") / SCORES_FILE)
    b = pd.read_parquet(study.local / "scores.parquet")
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) > 0
    for col in ("event", "epoch", "example_id"):
        assert a[col].tolist() == b[col].tolist(), col
    np.testing.assert_allclose(a["score"].to_numpy(), b["score"].to_numpy(), rtol=1e-5)
    assert a["kept"].tolist() == b["kept"].tolist()
    for event in a["event"].unique():
        kept_a = set(a.loc[(a["event"] == event) & a["kept"], "example_id"])
        kept_b = set(b.loc[(b["event"] == event) & b["kept"], "example_id"])
        assert kept_a == kept_b and kept_a, event
    local = json.loads((study.local / "summary.json").read_text())
    row = df.set_index("trial_id").loc[trial_id]
    assert row["score"] == pytest.approx(local["score"]) and row["examples_trained"] == local["examples_trained"]
