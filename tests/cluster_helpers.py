"""A real two-node Ray cluster on this machine, and the process helpers around it.

`cluster` starts a head node and a worker node with ``ray start --block``
(loopback only, ports picked free at test time so that it does not collide
with other Ray instances on the machine, a temp dir of its own per node, token
auth off) and stops both at the end by the process ids it started. It is
session-scoped and shared by tests/test_two_node.py and tests/test_faults.py;
conftest.py runs the tests that use it last, so that it is up only while they
run, and the one that kills its worker node after the others.

`two_node_study` submits, through the Jobs API, a study whose one sampled
trial is TWO_WORKER_RUN with each worker group spread over both nodes, and
runs TWO_WORKER_RUN at the same time on the session's local single-node
instance, once per session: test_two_node checks the study and compares its
trial's run with the local one. test_faults also runs its PostgreSQL studies
on the cluster, and kills its worker node under a run.

`kill_sessions` also cleans up after any process started with
``start_new_session=True`` (a killed study driver leaves Ray processes behind).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RAY = str(BIN / "ray")
RAYPRUNING = [sys.executable, "-m", "raypruning"]
START_TIMEOUT_S = 300
STUDY_TIMEOUT_S = 900

# The run of two_node_study: two workers with one CPU each, one pruning event per epoch after the first.
TWO_WORKER_RUN = ["studies/quickstart.yaml", "data.synthetic.num_train=480", "data.synthetic.num_eval=60",
                  "train.epochs=4", "train.max_length=40", "pruning.keep_fraction=0.5",
                  "pruning.warmup_epochs=1", "scaling.num_workers=2", "scaling.cpus_per_worker=1"]


# ---------------------------------------------------------------- ports and processes


class Ports:
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


def node_port_args(ports: Ports) -> list[str]:
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


def ray_env(ray_tmpdir: Path, **extra: str) -> dict[str, str]:
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


def session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[4])  # fields after comm: state ppid pgrp session


def kill_sessions(sessions: set[int], marker: str) -> None:
    """SIGKILL what is left of the given process sessions (and anything naming marker, a temp dir)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        mine = session_of(pid) in sessions
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


def stop(procs: list[subprocess.Popen], marker: str, grace_s: float = 60) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its node's processes on SIGTERM
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    kill_sessions({p.pid for p in procs}, marker)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def tail(path: Path, n: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def out(result) -> str:
    text = (result.stdout or "") + (result.stderr or "")
    return "\n".join(text.splitlines()[-80:])


# ---------------------------------------------------------------- the cluster


@dataclass
class Cluster:
    gcs: str  # 127.0.0.1:PORT, for ray.init / `raypruning train --address`
    dashboard: str  # http://127.0.0.1:PORT, for the Jobs and state APIs
    env: dict
    root: Path
    procs: dict = field(default_factory=dict)  # "head" / "worker" -> the `ray start --block` process

    def state(self) -> dict:
        """Alive node ids and every RayTrainWorker actor (dead ones too) with its node and placement
        group, from the state API's HTTP endpoints (a Ray client in this process could pick up the
        local instance's settings, and one in a subprocess costs seconds of imports per query)."""
        nodes = [n["node_id"] for n in self._listing("nodes") if n["state"] == "ALIVE"]
        actors = [{"actor_id": a["actor_id"], "node_id": a["node_id"], "pg": a["placement_group_id"],
                   "job_id": a["job_id"], "state": a["state"]}
                  for a in self._listing("actors", detail="true", filter_keys="class_name", filter_predicates="=",
                                         filter_values="RayTrainWorker")]
        return {"nodes": nodes, "actors": actors}

    def _listing(self, resource: str, **params: str) -> list[dict]:
        import requests

        response = requests.get(f"{self.dashboard}/api/v0/{resource}", params={"limit": 10000, "timeout": 60, **params},
                                timeout=120)
        body = response.json() if "json" in response.headers.get("Content-Type", "") else {}
        assert response.status_code == 200 and body.get("result"), f"state query failed: {response.text[:2000]}"
        return body["data"]["result"]["result"]

    def kill_worker_node(self) -> None:
        """SIGKILL the worker node: its `ray start`, raylet, agents and workers (its own session and temp dir)."""
        proc = self.procs["worker"]
        kill_sessions({proc.pid}, str(self.root / "w"))
        proc.wait(timeout=30)


def start_node(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def wait_until(what: str, ready, procs: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "not asked yet"
    while True:
        for proc, log in zip(procs, logs):
            if proc.poll() is not None:
                raise RuntimeError(f"`ray start` exited with {proc.returncode} before {what}:\n{tail(log)}")
        try:
            if ready():
                return
            last = "not ready"
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = repr(exc)
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {START_TIMEOUT_S} s (last: {last}):\n"
                               + "\n".join(tail(lg) for lg in logs))
        time.sleep(0.5)


@pytest.fixture(scope="session")
def cluster():
    import requests

    # Short: Ray's unix socket paths live under it and are limited to ~107 characters.
    root = Path(tempfile.mkdtemp(prefix="rp2n"))
    env = ray_env(root)
    ports = Ports()
    gcs_port, dash_port, client_port = ports.one(), ports.one(), ports.one()
    gcs, dashboard = f"127.0.0.1:{gcs_port}", f"http://127.0.0.1:{dash_port}"
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=2", "--object-store-memory=200000000",
              "--disable-usage-stats"]
    head_cmd = [RAY, "start", "--head", *common, f"--port={gcs_port}", "--dashboard-host=127.0.0.1",
                f"--dashboard-port={dash_port}", f"--ray-client-server-port={client_port}",
                f"--temp-dir={root / 't'}", *node_port_args(ports)]
    # Its own temp dir, as on a separate machine: nodes sharing one session folder share
    # runtime_resources, and the worker node unpacking the job's working_dir there
    # replaces the folder that the job's driver (on the head) runs in.
    worker_cmd = [RAY, "start", f"--address={gcs}", *common, f"--temp-dir={root / 'w'}",
                  *node_port_args(ports)]
    # Ray Train's PlacementGroupCleaner (which frees a trial's workers when Tune stops the
    # trial) finds its cluster through the state API; with several Ray instances on one
    # machine and no address in its environment it fails and the placement groups of
    # finished trials stay reserved, starving the next trial. Point it at this cluster.
    # The killed-node test waits for the head to declare the worker node dead before the run
    # can restart: Ray checks a node every 3 s and gives up after 5 misses. A SIGKILLed raylet
    # refuses the check at once, so 3 misses 1 s apart say the same sooner; a live but busy one
    # still has each check's 10 s to answer.
    node_env = {**env, "RAY_API_SERVER_ADDRESS": dashboard, "RAY_health_check_period_ms": "1000",
                "RAY_health_check_failure_threshold": "3"}
    logs = [root / "head.log", root / "worker.log"]
    c = Cluster(gcs=gcs, dashboard=dashboard, env=env, root=root)
    try:
        c.procs["head"] = start_node(head_cmd, node_env, logs[0])
        wait_until("Ray dashboard", lambda: requests.get(f"{dashboard}/api/version", timeout=5).status_code == 200,
                   [c.procs["head"]], logs[:1])
        c.procs["worker"] = start_node(worker_cmd, node_env, logs[1])
        wait_until("second node", lambda: len(c.state()["nodes"]) == 2, [c.procs["head"], c.procs["worker"]], logs)
        yield c
    finally:
        # A head node whose worker node was killed takes about 30 s to stop on SIGTERM; nothing of
        # the throwaway cluster needs a clean stop, so what is left after 2 s is SIGKILLed.
        stop(list(reversed(c.procs.values())), str(root), grace_s=2)
        shutil.rmtree(root, ignore_errors=True)


def nodes_by_group(actors: list[dict]) -> dict[str, set[str]]:
    """Node ids per placement group (one per Ray Train worker group) of these actors."""
    by_pg: dict[str, set[str]] = {}
    for actor in actors:
        assert actor["node_id"], f"a RayTrainWorker without a node: {actor}"
        by_pg.setdefault(actor["pg"], set()).add(actor["node_id"])
    return by_pg


# ---------------------------------------------------------------- a submitted study, and the same run local

# TWO_WORKER_RUN as a study: the reference (keep 1.0), then the grid's other point (keep 0.5), then
# a dynamic-random baseline at that setting, with each trial's two workers on two nodes
# (STRICT_SPREAD: one per node) and every trial's model kept.
TWO_NODE_STUDY = [*TWO_WORKER_RUN[1:], "search.space={keep_fraction: {choice: [0.5, 1.0]}}", "search.sampler=grid",
                  "search.num_samples=1", "scaling.placement_strategy=STRICT_SPREAD", "study.keep_models=all",
                  "study.baselines=[dynamic-random]", "study.name=twonode"]


@dataclass
class TwoNodeStudy:
    folder: Path  # the submitted study's folder
    submitted: subprocess.CompletedProcess  # `raypruning submit --follow`
    local: Path  # `raypruning train --output` of TWO_WORKER_RUN on a local single-node instance
    new_actors: list  # the study's RayTrainWorkers, read right after it ended
    nodes: set  # the cluster's alive nodes then


@pytest.fixture(scope="session")
def two_node_study(cluster, ray_local, tmp_path_factory) -> TwoNodeStudy:
    """The study submitted to the cluster and, at the same time, TWO_WORKER_RUN in this process on
    the session's local single-node instance (tests/conftest.py: ray_local)."""
    from raypruning.config import load_config
    from raypruning.run import run_training

    tmp = tmp_path_factory.mktemp("two-node")
    storage = tmp / "studies"  # absolute: the job runs in another working dir
    before = {a["actor_id"] for a in cluster.state()["actors"]}
    log = tmp / "submit.log"
    cmd = [*RAYPRUNING, "submit", TWO_WORKER_RUN[0], *TWO_NODE_STUDY, f"study.storage_path={storage}",
           "--address", cluster.dashboard, "--follow"]
    with open(log, "w+") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=cluster.env, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True)
        try:
            run_training(load_config(REPO / TWO_WORKER_RUN[0], TWO_WORKER_RUN[1:]), tmp / "local")
            code = proc.wait(timeout=STUDY_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    state = cluster.state()
    submitted = subprocess.CompletedProcess(cmd, code, log.read_text(errors="replace"), "")
    return TwoNodeStudy(storage / "twonode", submitted, tmp / "local",
                        [a for a in state["actors"] if a["actor_id"] not in before], set(state["nodes"]))
