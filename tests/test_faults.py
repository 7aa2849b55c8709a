"""Faults a study must survive, or stop on with one clear line (docs/failure-modes.md).

- the study driver SIGKILLed mid-trial, then ``--resume``: every trial once, the same front;
- two studies writing into one real PostgreSQL database at once, and a resume against it;
- the disk filling up under a study: one line naming the file, the tables written before readable;
- a worker node of the two-node cluster killed mid-run: the run restarts and ends as an unkilled one.

The PostgreSQL pair runs on the two-node cluster of tests/cluster_helpers.py, as studies on a
shared cluster do. Its uninterrupted study also stands for a study's console: its output has
the study's own progress lines and none of Ray's per-report echoes.

Everything is real: a PostgreSQL server started here, tmpfs mounts, Ray processes killed with
SIGKILL. The PostgreSQL and mount tests need root (CI runs as root) or skip, saying why.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from cluster_helpers import (RAYPRUNING, REPO, Cluster, kill_sessions, nodes_by_group, out, ray_env, session_of,
                             tail)
from conftest import SOFT_EPOCHS, SOFT_RUN, kept_ids_by_event
from raypruning import keys as K
from raypruning.cli import main
from raypruning.errors import InputError
from raypruning.selection import num_kept
from raypruning.study.layout import TUNE_DIR
from raypruning.study.storage_faults import StorageWatch
from raypruning.study.trials import write_trials

pytestmark = pytest.mark.slow

STUDY_TIMEOUT_S = 600
N_TRAIN, EPOCHS = 120, 2
# The reference, then one sampled trial. Random proposals from a fixed seed and a deterministic
# cost (examples_trained) make a study's front independent of timing. Early stopping is on so that
# a resume shows it picking up the reports from before the interruption (with E = 2 there is no
# pruning event at which to stop a trial, so the tables stay comparable).
STUDY = ["studies/quickstart.yaml", "data.synthetic.task=sentence", f"data.synthetic.num_train={N_TRAIN}",
         "data.synthetic.num_eval=40", f"train.epochs={EPOCHS}", "train.max_length=32", "pruning.warmup_epochs=1",
         "pruning.period_epochs=1", "search.space={keep_fraction: {uniform: [0.3, 0.7]}}", "search.sampler=random",
         "search.seed=0", "search.num_samples=1", "search.max_concurrent=1",
         "study.objectives=[score, examples_trained]", "study.early_stop=true"]
TRIALS = 2


def _searched(df: pd.DataFrame) -> pd.DataFrame:
    """The sampled trials and the reference, without the fewer-epochs rows read from its history."""
    return df[df[K.METHOD] != "full-epochs"]


class Study:
    """A `raypruning study` subprocess in its own session, on the given cluster or on a local
    Ray instance of its own with its own temp dir (so that what a SIGKILL leaves of it can be
    found and killed)."""

    def __init__(self, storage: Path, name: str, extra: list[str] = (), env: dict | None = None,
                 logs: Path | None = None, cluster: Cluster | None = None):
        self.folder = storage / name
        self.args = [*RAYPRUNING, "study", *STUDY, f"study.storage_path={storage}", f"study.name={name}", *extra]
        self.ray_tmp = Path(tempfile.mkdtemp(prefix="rpf"))  # short: Ray's socket paths live under it
        if cluster is None:
            self.env = ray_env(self.ray_tmp, **(env or {}))
        else:
            self.args += ["--address", cluster.gcs]
            self.env = {**cluster.env, **(env or {})}
        self.log = (logs or storage) / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, *flags: str) -> "Study":
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen([*self.args, *flags], cwd=REPO, env=self.env, stdout=fh,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def wait(self, timeout: float = STUDY_TIMEOUT_S) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.clean_up()

    def kill(self) -> None:
        """SIGKILL the driver, then what is left of its local Ray instance (on a cluster, Ray ends
        the dead driver's job and its actors)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        self.clean_up()

    def clean_up(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=60)
            kill_sessions({self.proc.pid}, str(self.ray_tmp))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(session_of(int(p.name)) == self.proc.pid
                                                      for p in Path("/proc").iterdir() if p.name.isdigit()):
                time.sleep(0.5)
        shutil.rmtree(self.ray_tmp, ignore_errors=True)

    def table(self) -> pd.DataFrame:
        return pd.read_parquet(self.folder / K.TRIALS_FILE)

    def output(self) -> str:
        return tail(self.log, 80)


def _wait_for(what: str, ready, study: Study, timeout: float = STUDY_TIMEOUT_S, poll_s: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        assert study.proc.poll() is None, f"the study ended ({study.proc.returncode}) before {what}:\n{study.output()}"
        time.sleep(poll_s)
    raise AssertionError(f"no {what} within {timeout} s:\n{study.output()}")


def _second_trial_checkpointed(folder: Path) -> str | None:
    """The id of a trial that is not in trials.parquet yet but has a Ray Train checkpoint and is in
    Tune's saved experiment state. Tune saves that state every few seconds, and a trial started
    since the last save is not in it: a kill then loses the trial, and --resume proposes again
    (docs/failure-modes.md), so the kill waits for the save to test the resume of a running trial."""
    table = folder / K.TRIALS_FILE
    if not table.exists():
        return None
    done = set(pd.read_parquet(table)[K.TRIAL_ID])
    saved = "".join(path.read_text(errors="replace") for path in (folder / TUNE_DIR).glob("experiment_state-*.json"))
    for run in sorted((folder / "runs").glob("trial-*")):
        trial_id = run.name[len("trial-"):]
        if trial_id not in done and trial_id in saved and any(run.glob("checkpoint_*")):
            return trial_id
    return None


def _expected_examples(keep: float) -> int:
    """examples_trained of a run: full data for the warmup epoch, then the kept share each epoch."""
    return N_TRAIN * EPOCHS if keep == 1.0 else N_TRAIN + num_kept(N_TRAIN, keep) * (EPOCHS - 1)


# ---------------------------------------------------------------- PostgreSQL


def _pg_bin() -> Path | None:
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / "initdb").exists() and (root / "pg_ctl").exists():
            return root
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on a free loopback port, data in a temp dir, password-free (trust) login.

    initdb refuses to run as root: as root the server runs as the `postgres` user. Always stopped.
    Yields the server's URL without a database name.
    """
    pytest.importorskip("psycopg", reason="psycopg (the `postgres` extra) is not installed")
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl); scripts/setup.sh installs them as root")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="rppg"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    log = root / "server.log"

    def run(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120, check=False)

    started = False
    try:
        made = run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                   "--no-sync")
        assert made.returncode == 0, f"initdb failed:\n{out(made)}"
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        up = run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60", "start")
        started = True
        assert up.returncode == 0, f"pg_ctl start failed:\n{out(up)}\n{tail(log)}"
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        if started:
            down = run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
            pid_file = data / "postmaster.pid"
            if down.returncode != 0 and pid_file.exists():
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def shared_database_studies(postgres, cluster, tmp_path_factory):
    """Two studies of the same search at once, into one PostgreSQL database, on the session's
    two-node cluster (tests/cluster_helpers.py), as on a shared cluster: `calm` runs through;
    `killed` is SIGKILLed once its second trial has a checkpoint, then resumed at once.

    The URL reaches the studies as a `$NAME` reference (README), with a password that the
    trust login ignores, so that the test can see it kept out of the study's files.
    """
    storage = tmp_path_factory.mktemp("pg-studies")
    url = f"{postgres.replace('postgres@', 'postgres:s3cret@')}/postgres"
    # Tune saves its experiment state every second (default: 10 s or more), so that a second trial is in it
    # while it still runs: the kill below waits for that (_second_trial_checkpointed).
    env = {"RAYPRUNING_OPTUNA_STORAGE": url, "TUNE_GLOBAL_CHECKPOINT_S": "1"}
    extra = ["study.optuna_storage=$RAYPRUNING_OPTUNA_STORAGE"]
    calm = Study(storage, "calm", extra, env, cluster=cluster)
    killed = Study(storage, "killed", extra, env, cluster=cluster)
    try:
        calm.start()
        killed.start()
        in_flight = _wait_for("a checkpointed second trial", lambda: _second_trial_checkpointed(killed.folder), killed)
        killed.kill()
        before = killed.table()
        assert in_flight not in set(before[K.TRIAL_ID]), "the killed trial finished before the kill"
        killed.start("--resume")  # while calm may still be writing into the same database
        assert calm.wait() == 0, f"the uninterrupted study failed:\n{calm.output()}"
        assert killed.wait() == 0, f"the resumed study failed:\n{killed.output()}"
    finally:
        calm.clean_up()
        killed.clean_up()
    return {"url": url, "calm": calm, "killed": killed, "in_flight": in_flight, "before": before}


def test_killed_driver_resumes_to_the_uninterrupted_front(shared_database_studies):
    """SIGKILL of the study driver mid-trial, then --resume: every trial once, none lost, and
    the same front as the same study run uninterrupted.

    The uninterrupted study is `calm`, run beside it (same search, same seed): random
    proposals from a fixed seed and the objectives [score, examples_trained] depend on
    neither timing nor the kill, so the two tables must agree row for row.
    """
    s = shared_database_studies
    got, want = _searched(s["killed"].table()), _searched(s["calm"].table())
    assert len(s["before"][s["before"][K.METHOD] != "full-epochs"]) < TRIALS  # it really was interrupted
    assert len(got) == TRIALS and got[K.TRIAL_ID].is_unique and int(got[K.IS_REFERENCE].sum()) == 1
    assert s["in_flight"] in set(got[K.TRIAL_ID]), "the trial running at the kill was not resumed"
    assert got[K.KEEP].is_unique
    assert sorted(got[K.KEEP]) == sorted(want[K.KEEP])  # the same proposals
    for keep, examples in zip(got[K.KEEP], got[K.EXAMPLES_TRAINED]):
        assert examples == _expected_examples(keep), keep  # no epoch lost or trained twice
    by_keep = lambda df: df.set_index(K.KEEP)[[K.SCORE, K.EXAMPLES_TRAINED, K.PARETO]].sort_index()  # noqa: E731
    pd.testing.assert_frame_equal(by_keep(got), by_keep(want))  # the same objectives, so the same front
    front = lambda df: sorted(df[df[K.PARETO]][[K.METHOD, K.EPOCHS, K.KEEP]].itertuples(index=False))  # noqa: E731
    assert front(s["killed"].table()) == front(s["calm"].table()) and front(s["calm"].table())
    replayed = re.search(r"took the reports of (\d+) trial\(s\) from before the interruption",
                         s["killed"].log.read_text(errors="replace"))
    assert replayed and int(replayed.group(1)) >= 1, "the resumed study did not pick up the earlier reports"


def test_two_studies_share_one_postgres_database(shared_database_studies):
    """Both studies are in the one database, each with exactly its trials, all COMPLETE, with
    the settings of its table; the password stays out of the study's files."""
    import optuna

    s = shared_database_studies
    storage = optuna.storages.RDBStorage(s["url"])
    assert sorted(optuna.get_all_study_names(storage)) == ["calm", "killed"]
    for name in ("calm", "killed"):
        trials = optuna.load_study(study_name=name, storage=storage).trials
        assert {t.state.name for t in trials} == {"COMPLETE"}, name
        # The sampled trials carry their parameters; the fewer-epochs rows join them without.
        sampled = [t for t in trials if t.params]
        assert len(sampled) == TRIALS and len(trials) == s[name].table()[K.TRIAL_ID].nunique(), name
        table = _searched(s[name].table())
        assert sorted(t.params["pruning.keep_fraction"] for t in sampled) == sorted(table[K.KEEP]), name
        for f in ("study.json", "config.yaml"):
            assert "s3cret" not in (s[name].folder / f).read_text(), f
        assert "127.0.0.1" in json.loads((s[name].folder / "study.json").read_text())["optuna_storage"]
    storage.remove_session()


# What a study prints besides its own lines: Ray's per-report echoes, Tune's experiment banner,
# Optuna's study-created line, and the bytecode disassembly the datasets library's hashing used
# to leak from every worker.
CONSOLE_NOISE = ("Reporting training result", "LOAD_GLOBAL", "RETURN_VALUE", "Configuration for experiment",
                 "A new study created")


def test_an_uninterrupted_study_console_has_progress_and_no_noise(shared_database_studies):
    text = shared_database_studies["calm"].log.read_text(errors="replace")
    assert text.count("[study] ") >= 4 and "Pareto front:" in text, text[-3000:]  # its own lines are there
    found = [needle for needle in CONSOLE_NOISE if needle in text]
    assert not found, f"noise on the console: {found}\n{text[-3000:]}"


# ---------------------------------------------------------------- storage faults


@pytest.fixture
def tiny_fs():
    """A fresh tmpfs of the given size, unmounted at the end (root only)."""
    mounts = []

    def mount(size: str) -> Path:
        point = Path(tempfile.mkdtemp(prefix="rpfs"))
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(point)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            point.rmdir()
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        if subprocess.run(["umount", str(point)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
        point.rmdir()


def _fill(folder: Path) -> None:
    """Write until the filesystem is full, down to its last block."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)


def _table(n: int) -> pd.DataFrame:
    return pd.DataFrame({K.TRIAL_ID: [f"t{i}" for i in range(n)], K.SCORE: [float(i) for i in range(n)],
                         K.KEEP: [0.5] * n, "notes": ["x" * 4000] * n})


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_write_trials_on_a_broken_disk_is_one_line_and_keeps_the_old_table(tiny_fs, fault):
    folder = tiny_fs("4m")
    path = folder / K.TRIALS_FILE
    write_trials(_table(2), path)
    if fault == "full":
        _fill(folder)
    else:
        done = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    with pytest.raises(InputError) as caught:
        write_trials(_table(50), path)
    (line,) = caught.value.problems
    cause = "No space left on device" if fault == "full" else "Read-only file system"
    assert str(path) in line and cause in line, line
    assert pd.read_parquet(path)[K.TRIAL_ID].tolist() == ["t0", "t1"]  # the previous table, intact
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_the_storage_watch_sees_a_broken_folder_and_stops_tune(tiny_fs, fault):
    """What the study driver relies on to stop with one line (the study below fills its disk;
    a read-only remount is seen the same way)."""
    folder = tiny_fs("4m")
    watch = StorageWatch(folder)
    stopper = watch.stopper()
    assert watch.probe(force=True) is None and not stopper.stop_all()
    if fault == "full":
        _fill(folder)
    else:
        done = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    want = errno.ENOSPC if fault == "full" else errno.EROFS
    assert watch.probe(force=True) == want and stopper.stop_all()
    assert watch.error().startswith(f"{folder}: {os.strerror(want)}"), watch.error()


def test_tunes_records_of_a_storage_fault_stay_off_the_console(tmp_path, caplog):
    """Ray Tune logs a traceback for each failed sync of the experiment state; on a full disk the
    watch drops them, notes the fault, and from then on drops the stop's aftermath too."""
    sync_log = logging.getLogger("ray.tune.execution.experiment_state")
    watch = StorageWatch(tmp_path)
    caplog.set_level(logging.INFO)
    with watch:
        sync_log.warning("a record before any fault")
        try:
            raise OSError("[Errno 28] Error writing bytes to file. Detail: [errno 28] No space left on device")
        except OSError:
            sync_log.error("Saving experiment state to storage failed with exception: ", exc_info=True)
        logging.getLogger("ray.tune.tune").error("Trials did not complete: [trial_driver_0]")
    sync_log.error("a record after the watch")
    assert [r.getMessage() for r in caplog.records] == ["a record before any fault", "a record after the watch"]
    assert watch.code == errno.ENOSPC


def test_disk_full_mid_study_stops_with_one_line(tiny_fs, tmp_path, capsys):
    """The study folder on a small tmpfs, filled once the first trial is in trials.parquet:
    the study ends with exit code 2 and one error line naming a file and the cause, and the
    files written before stay readable (`raypruning best` still answers)."""
    storage = tiny_fs("300m")
    study = Study(storage, "full", logs=tmp_path)
    try:
        study.start()
        _wait_for("the first trial in trials.parquet", lambda: (study.folder / K.TRIALS_FILE).exists(), study)
        _fill(storage)
        filled_at = study.log.stat().st_size
        code = study.wait()
        text = study.log.read_text(errors="replace")
    finally:
        study.clean_up()
    errors = [ln for ln in text.splitlines() if ln.startswith("error: ")]
    assert code == 2, f"exit code {code}:\n{study.output()}"
    assert len(errors) == 1 and "No space left on device" in errors[0] and str(study.folder) in errors[0], \
        errors or study.output()
    # Neither Tune's failed syncs nor a trial dying on the full disk reach the console: the cause is
    # named once, and nothing printed after the fill is a traceback.
    assert [ln for ln in text.splitlines() if "No space left on device" in ln] == errors, study.output()
    assert b"Traceback" not in study.log.read_bytes()[filled_at:], study.output()
    assert len(study.table()) >= 1
    assert json.loads((study.folder / "study.json").read_text())["objectives"]
    capsys.readouterr()
    assert main(["best", str(study.folder), "--max-drop", "100", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trial"][K.TRIAL_ID] in set(study.table()[K.TRIAL_ID])


# ---------------------------------------------------------------- a worker node dies


@pytest.mark.breaks_cluster
def test_killed_worker_node_run_matches_the_unkilled_run(cluster, soft_run, tmp_path):
    """The session's soft-pruning run (tests/conftest.py: two workers, a random draw of the
    kept ids every pruned epoch) again, spread over both nodes (SPREAD: one worker per node
    while both live); the worker node is SIGKILLed once the first epoch is checkpointed. With
    train.max_failures=1 the run restarts both workers on the head node from that checkpoint
    (model, optimizer, score table and the draws' random state) and ends with the kept ids of
    every epoch and the score of the unkilled run on one node."""
    output = tmp_path / "killed-node"
    log = tmp_path / "killed-node.log"
    before = {a["actor_id"] for a in cluster.state()["actors"]}
    with open(log, "wb") as fh:
        proc = subprocess.Popen([*RAYPRUNING, "train", *SOFT_RUN, "scaling.placement_strategy=SPREAD",
                                 "train.max_failures=1", "--output", str(output), "--address", cluster.gcs],
                                cwd=REPO, env=cluster.env, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not any((output / "ray").glob("*/checkpoint_*")):
            assert proc.poll() is None, f"the run ended ({proc.returncode}) before its first checkpoint:\n{tail(log)}"
            assert time.monotonic() < deadline, f"no checkpoint within 600 s:\n{tail(log)}"
            time.sleep(0.05)
        cluster.kill_worker_node()  # at once: the run has SOFT_EPOCHS - 1 epochs left to train
        code = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert code == 0, f"raypruning train ended with {code}:\n{tail(log, 80)}"
    # Its first worker group (its actors are kept in the state API, dead) had a worker on each node.
    groups = nodes_by_group([a for a in cluster.state()["actors"] if a["actor_id"] not in before])
    assert any(len(nodes) == 2 for nodes in groups.values()), f"the run was not spread: {groups}"
    summary = json.loads((output / "summary.json").read_text())
    assert summary["restarts"] == 1, f"the run ended without a restart:\n{tail(log, 80)}"
    assert [h[K.EPOCH] for h in summary["history"]] == list(range(1, SOFT_EPOCHS + 1))  # none lost or repeated
    got = kept_ids_by_event(pd.read_parquet(output / "scores.parquet"))
    want = kept_ids_by_event(pd.read_parquet(soft_run.folder / "scores.parquet"))
    assert sorted(want) == list(range(SOFT_EPOCHS)) and all(want.values())
    assert got == want
    unkilled = soft_run.summary
    assert summary[K.SCORE] == pytest.approx(unkilled[K.SCORE])
    assert summary[K.EXAMPLES_TRAINED] == unkilled[K.EXAMPLES_TRAINED]
