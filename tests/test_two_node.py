"""A real two-node Ray cluster on this machine: a submitted study, and a spread run.

The cluster (tests/cluster_helpers.py) is a head node and a worker node started
with ``ray start --block`` on loopback. Where Ray Train's workers ran is read
back from the Ray state API: the nodes share one IP, so they are told apart by
node id.
"""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pandas as pd
import pytest

from cluster_helpers import RAYPRUNING, REPO, SMALL, nodes_by_group, out

pytestmark = pytest.mark.slow

STUDY_TIMEOUT_S = 900
STUDY = [*SMALL, "search.num_samples=1", "search.space.warmup_epochs={int: [0, 1]}",
         "search.space.period_epochs={int: [1, 2]}", "search.space.keep_fraction={uniform: [0.3, 0.8]}"]
# Two workers with one CPU each; STRICT_SPREAD puts one on each node.
SPREAD = ["scaling.num_workers=2", "scaling.cpus_per_worker=1", "scaling.placement_strategy=STRICT_SPREAD"]


# ---------------------------------------------------------------- tests


def test_submitted_study_completes_on_two_nodes(cluster, tmp_path, capsys):
    from raypruning.cli import main

    storage = tmp_path / "studies"  # absolute: the job runs in another working dir
    overrides = [*STUDY, *SPREAD, f"study.storage_path={storage}", "study.name=twonode"]
    result = subprocess.run([*RAYPRUNING, "submit", "studies/quickstart.yaml", *overrides,
                             "--address", cluster.dashboard, "--follow"],
                            cwd=REPO, env=cluster.env, capture_output=True, text=True, timeout=STUDY_TIMEOUT_S,
                            check=False)
    assert result.returncode == 0, f"raypruning submit --follow exited {result.returncode}:\n{out(result)}"
    assert "SUCCEEDED" in result.stdout

    folder = storage / "twonode"
    df = pd.read_parquet(folder / "trials.parquet")
    df = df[df["method"] != "full-epochs"]  # the fewer-epochs rows read from the reference's history
    assert len(df) == 2, df  # 1 sampled + the reference
    assert int(df["is_reference"].sum()) == 1
    assert all(math.isfinite(s) for s in df["score"]), df["score"]
    assert all(math.isfinite(t) and t > 0 for t in df["total_time_s"]), df["total_time_s"]

    capsys.readouterr()
    assert main(["best", str(folder), "--max-drop", "100", "--json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["trial"]["trial_id"] in set(pd.read_parquet(folder / "trials.parquet")["trial_id"])
    assert "config" in best

    # Every trial's worker group spans both nodes: each placement group holds one worker per node.
    state = cluster.state()
    nodes = set(state["nodes"])
    assert len(nodes) == 2, state["nodes"]
    by_pg = nodes_by_group(state["actors"])
    assert len(by_pg) >= 2, f"expected a worker group per trial, got {by_pg}"
    for pg, where in by_pg.items():
        assert where == nodes, f"placement group {pg}: RayTrainWorkers on {where}, cluster nodes {nodes}"


def test_spread_run_matches_single_node(spread_and_local_runs):
    runs = spread_and_local_runs
    a = pd.read_parquet(runs.spread / "scores.parquet")
    b = pd.read_parquet(runs.local / "scores.parquet")
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

    # The spread run really spread: its one worker group had a worker on each node.
    by_pg = nodes_by_group(runs.new_actors)
    assert by_pg, "no RayTrainWorker of the spread run in the state API"
    for pg, where in by_pg.items():
        assert where == runs.nodes, f"placement group {pg}: RayTrainWorkers on {where}, cluster nodes {runs.nodes}"
