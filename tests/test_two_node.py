"""A real two-node Ray cluster on this machine: a submitted study, and a spread run.

The module starts a head node and a worker node with ``ray start --block``
(loopback only, ports picked free at test time so that it does not collide
with other Ray instances on the machine, a temp dir of its own per node, token
auth off) and stops both at the end by the process ids it started. Where Ray
Train's workers ran is read back from the Ray state API: the nodes share one
IP, so they are told apart by node id.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RAY = str(BIN / "ray")
RAYPRUNING = [sys.executable, "-m", "raypruning"]
START_TIMEOUT_S = 300
STUDY_TIMEOUT_S = 900
TRAIN_TIMEOUT_S = 600

SMALL = ["data.synthetic.num_train=240", "data.synthetic.num_eval=60", "train.epochs=3", "train.max_length=40"]
STUDY = [*SMALL, "search.num_samples=2", "search.space.warmup_epochs={int: [0, 1]}",
         "search.space.period_epochs={int: [1, 2]}", "search.space.keep_fraction={uniform: [0.3, 0.8]}"]
# Two workers with one CPU each; STRICT_SPREAD puts one on each node.
SPREAD = ["scaling.num_workers=2", "scaling.cpus_per_worker=1", "scaling.placement_strategy=STRICT_SPREAD"]

# Run in a subprocess so that this test process's own Ray settings (a local
# instance may have switched it to token auth) do not leak into the query.
STATE_SCRIPT = """
import json, sys
from ray.util.state import list_actors, list_nodes
address = sys.argv[1]
nodes = [n.node_id for n in list_nodes(address=address, limit=1000) if n.state == "ALIVE"]
actors = [{"actor_id": a.actor_id, "node_id": a.node_id, "pg": a.placement_group_id, "job_id": a.job_id,
           "state": a.state}
          for a in list_actors(address=address, filters=[("class_name", "=", "RayTrainWorker")], detail=True,
                               limit=10000, raise_on_missing_output=False)]
print("STATE " + json.dumps({"nodes": nodes, "actors": actors}))
"""


# ---------------------------------------------------------------- ports and processes


class _Ports:
    """Free ports outside the ephemeral range, never the same one twice."""

    LOW, HIGH = 10000, 32000  # below Linux's ephemeral range (32768-60999)

    def __init__(self):
        self.taken: set[int] = set()
        self.rng = random.Random()

    @staticmethod
    def _free(port: int) -> bool:
        for host in ("127.0.0.1", "0.0.0.0"):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((host, port))
                except OSError:
                    return False
        return True

    def block(self, n: int) -> list[int]:
        for _ in range(1000):
            start = self.rng.randrange(self.LOW, self.HIGH - n)
            ports = list(range(start, start + n))
            if not self.taken.intersection(ports) and all(self._free(p) for p in ports):
                self.taken.update(ports)
                return ports
        raise RuntimeError(f"no {n} free consecutive ports")

    def one(self) -> int:
        return self.block(1)[0]


def _node_port_args(ports: _Ports) -> list[str]:
    """Every per-node port that defaults to a fixed number, set to a free one."""
    workers = ports.block(200)
    return [
        f"--node-manager-port={ports.one()}",
        f"--object-manager-port={ports.one()}",
        f"--dashboard-agent-listen-port={ports.one()}",
        f"--dashboard-agent-grpc-port={ports.one()}",
        f"--runtime-env-agent-port={ports.one()}",
        f"--metrics-export-port={ports.one()}",
        f"--min-worker-port={workers[0]}",
        f"--max-worker-port={workers[-1]}",
    ]


def _env(ray_tmpdir: Path, **extra: str) -> dict[str, str]:
    """The environment of the nodes and of every client: no token auth, this venv first on PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
    env.update(
        RAY_AUTH_MODE="disabled",
        RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S="600",
        RAY_USAGE_STATS_ENABLED="0",
        RAY_TMPDIR=str(ray_tmpdir),  # ray.init() looks for ray_current_cluster there, not in /tmp/ray
        PYTHONUNBUFFERED="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # the job's `python` is this venv's
    )
    env.update(extra)
    return env


def _session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[4])  # fields after comm: state ppid pgrp session


def _kill_sessions(sessions: set[int], marker: str) -> None:
    """SIGKILL what is left of the process sessions this module started (and anything naming its temp dir)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        mine = _session_of(pid) in sessions
        if not mine:
            try:
                mine = marker in (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
        if mine:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _stop(procs: list[subprocess.Popen], marker: str, grace_s: float = 60) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes on SIGTERM
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    _kill_sessions({p.pid for p in procs}, marker)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _tail(path: Path, n: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _out(result) -> str:
    text = (result.stdout or "") + (result.stderr or "")
    return "\n".join(text.splitlines()[-80:])


# ---------------------------------------------------------------- the cluster


@dataclass
class Cluster:
    gcs: str  # 127.0.0.1:PORT, for ray.init / `raypruning train --address`
    dashboard: str  # http://127.0.0.1:PORT, for the Jobs and state APIs
    env: dict
    root: Path

    def state(self) -> dict:
        """Alive node ids and every RayTrainWorker actor (dead ones too) with its node and placement group."""
        result = subprocess.run([sys.executable, "-c", STATE_SCRIPT, self.dashboard], env=self.env,
                                capture_output=True, text=True, timeout=120, check=False)
        line = next((ln for ln in result.stdout.splitlines() if ln.startswith("STATE ")), None)
        assert result.returncode == 0 and line, f"state query failed:\n{_out(result)}"
        return json.loads(line[len("STATE "):])


def _start_node(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def _wait(what: str, ready, procs: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "not asked yet"
    while True:
        for proc, log in zip(procs, logs):
            if proc.poll() is not None:
                raise RuntimeError(f"`ray start` exited with {proc.returncode} before {what}:\n{_tail(log)}")
        try:
            if ready():
                return
            last = "not ready"
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = repr(exc)
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {START_TIMEOUT_S} s (last: {last}):\n"
                               + "\n".join(_tail(lg) for lg in logs))
        time.sleep(2.0)


@pytest.fixture(scope="module")
def cluster():
    import requests

    # Short: Ray's unix socket paths live under it and are limited to ~107 characters.
    root = Path(tempfile.mkdtemp(prefix="rp2n"))
    env = _env(root)
    ports = _Ports()
    gcs_port, dash_port, client_port = ports.one(), ports.one(), ports.one()
    gcs, dashboard = f"127.0.0.1:{gcs_port}", f"http://127.0.0.1:{dash_port}"
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=2", "--object-store-memory=200000000",
              "--disable-usage-stats"]
    head_cmd = [RAY, "start", "--head", *common, f"--port={gcs_port}", "--dashboard-host=127.0.0.1",
                f"--dashboard-port={dash_port}", f"--ray-client-server-port={client_port}",
                f"--temp-dir={root / 't'}", *_node_port_args(ports)]
    # Its own temp dir, as on a separate machine: nodes sharing one session folder share
    # runtime_resources, and the worker node unpacking the job's working_dir there
    # replaces the folder that the job's driver (on the head) runs in.
    worker_cmd = [RAY, "start", f"--address={gcs}", *common, f"--temp-dir={root / 'w'}",
                  *_node_port_args(ports)]
    # Ray Train's PlacementGroupCleaner (which frees a trial's workers when Tune stops the
    # trial) finds its cluster through the state API; with several Ray instances on one
    # machine and no address in its environment it fails and the placement groups of
    # finished trials stay reserved, starving the next trial. Point it at this cluster.
    node_env = {**env, "RAY_API_SERVER_ADDRESS": dashboard}
    logs = [root / "head.log", root / "worker.log"]
    procs: list[subprocess.Popen] = []
    c = Cluster(gcs=gcs, dashboard=dashboard, env=env, root=root)
    try:
        procs.append(_start_node(head_cmd, node_env, logs[0]))
        _wait("Ray dashboard", lambda: requests.get(f"{dashboard}/api/version", timeout=5).status_code == 200,
              procs, logs[:1])
        procs.append(_start_node(worker_cmd, node_env, logs[1]))
        _wait("second node", lambda: len(c.state()["nodes"]) == 2, procs, logs)
        yield c
    finally:
        _stop(list(reversed(procs)), str(root))
        shutil.rmtree(root, ignore_errors=True)


def _nodes_by_group(actors: list[dict]) -> dict[str, set[str]]:
    """Node ids per placement group (one per Ray Train worker group) of these actors."""
    by_pg: dict[str, set[str]] = {}
    for actor in actors:
        assert actor["node_id"], f"a RayTrainWorker without a node: {actor}"
        by_pg.setdefault(actor["pg"], set()).add(actor["node_id"])
    return by_pg


# ---------------------------------------------------------------- tests


def test_submitted_study_completes_on_two_nodes(cluster, tmp_path, capsys):
    from raypruning.cli import main

    storage = tmp_path / "studies"  # absolute: the job runs in another working dir
    overrides = [*STUDY, *SPREAD, f"study.storage_path={storage}", "study.name=twonode"]
    result = subprocess.run([*RAYPRUNING, "submit", "studies/quickstart.yaml", *overrides,
                             "--address", cluster.dashboard, "--follow"],
                            cwd=REPO, env=cluster.env, capture_output=True, text=True, timeout=STUDY_TIMEOUT_S,
                            check=False)
    assert result.returncode == 0, f"raypruning submit --follow exited {result.returncode}:\n{_out(result)}"
    assert "SUCCEEDED" in result.stdout

    folder = storage / "twonode"
    df = pd.read_parquet(folder / "trials.parquet")
    assert len(df) == 3, df  # 2 sampled + the reference
    assert int(df["is_reference"].sum()) == 1
    assert all(math.isfinite(s) for s in df["score"]), df["score"]
    assert all(math.isfinite(t) and t > 0 for t in df["total_time_s"]), df["total_time_s"]

    capsys.readouterr()
    assert main(["best", str(folder), "--max-drop", "100", "--json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["trial"]["trial_id"] in set(df["trial_id"])
    assert "config" in best

    # Every trial's worker group spans both nodes: each placement group holds one worker per node.
    state = cluster.state()
    nodes = set(state["nodes"])
    assert len(nodes) == 2, state["nodes"]
    by_pg = _nodes_by_group(state["actors"])
    assert len(by_pg) >= 3, f"expected a worker group per trial, got {by_pg}"
    for pg, where in by_pg.items():
        assert where == nodes, f"placement group {pg}: RayTrainWorkers on {where}, cluster nodes {nodes}"


def test_spread_run_matches_single_node(cluster, tmp_path):
    run = ["studies/quickstart.yaml", *SMALL, "pruning.keep_fraction=0.5", "pruning.warmup_epochs=1",
           "scaling.num_workers=2", "scaling.cpus_per_worker=1"]
    before = {a["actor_id"] for a in cluster.state()["actors"]}

    # The single-node run starts its own local Ray instance (PACK), in its own temp dir, with no address.
    local_tmp = Path(tempfile.mkdtemp(prefix="rp1n"))
    local_env = _env(local_tmp)
    spread_out, local_out = tmp_path / "spread", tmp_path / "local"
    logs = {name: tmp_path / f"{name}.log" for name in ("spread", "local")}
    with open(logs["spread"], "wb") as fs, open(logs["local"], "wb") as fl:
        spread = subprocess.Popen([*RAYPRUNING, "train", *run, "scaling.placement_strategy=STRICT_SPREAD",
                                   "--output", str(spread_out), "--address", cluster.gcs],
                                  cwd=REPO, env=cluster.env, stdout=fs, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        local = subprocess.Popen([*RAYPRUNING, "train", *run, "--output", str(local_out), "--no-ray-dashboard"],
                                 cwd=REPO, env=local_env, stdout=fl, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + TRAIN_TIMEOUT_S
            codes = {}
            for name, proc in (("spread", spread), ("local", local)):
                try:
                    codes[name] = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    codes[name] = "timeout"
        finally:
            for proc in (spread, local):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=30)
            _kill_sessions({local.pid}, str(local_tmp))  # what is left of the local Ray instance
            shutil.rmtree(local_tmp, ignore_errors=True)
    for name, code in codes.items():
        assert code == 0, f"raypruning train ({name}) ended with {code}:\n{_tail(logs[name], 80)}"

    a = pd.read_parquet(spread_out / "scores.parquet")
    b = pd.read_parquet(local_out / "scores.parquet")
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
    state = cluster.state()
    nodes = set(state["nodes"])
    new = [actor for actor in state["actors"] if actor["actor_id"] not in before]
    by_pg = _nodes_by_group(new)
    assert by_pg, "no RayTrainWorker of the spread run in the state API"
    for pg, where in by_pg.items():
        assert where == nodes, f"placement group {pg}: RayTrainWorkers on {where}, cluster nodes {nodes}"
