"""raypruning.submit without a cluster: input checks, the job it builds, following it.

The Jobs API client is replaced by a fake where a test needs an answering
cluster; a real multi-node run belongs to the end-to-end tests.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from raypruning import submit
from raypruning.errors import InputError

STUDY = "# raypruning submit study.yaml --address http://127.0.0.1:8265\nstudy:\n  name: unit\n"


@pytest.fixture
def study_file(tmp_path) -> Path:
    path = tmp_path / "unit.yaml"
    path.write_text(STUDY)
    return path


@pytest.fixture(autouse=True)
def _no_ray_address(monkeypatch):
    for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):
        monkeypatch.delenv(name, raising=False)


def test_unreachable_address_is_an_input_error_and_fast(study_file):
    t0 = time.monotonic()
    with pytest.raises(InputError) as err:
        submit.submit_study(str(study_file), "http://127.0.0.1:1", [], out=lambda line: None)
    assert time.monotonic() - t0 < 15
    message = str(err.value)
    assert message.startswith("--address http://127.0.0.1:1: no Ray cluster answers there (")
    assert "refused" in message.lower()


def test_bad_config_fails_before_contacting_anything(tmp_path, monkeypatch):
    def contacted(*args, **kwargs):
        raise AssertionError("submit_study contacted the cluster before validating the config")

    import requests
    import ray.job_submission

    monkeypatch.setattr(requests, "get", contacted)
    monkeypatch.setattr(ray.job_submission, "JobSubmissionClient", contacted)
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochs: -3\n  no_such_key: 1\n")
    with pytest.raises(InputError) as err:
        submit.submit_study(str(bad), "http://127.0.0.1:8265", [])
    assert "no_such_key" in str(err.value) and "train.epochs" in str(err.value)
    with pytest.raises(InputError):
        submit.submit_study(str(tmp_path / "missing.yaml"), "http://127.0.0.1:8265", [])
    good = tmp_path / "good.yaml"
    good.write_text(STUDY)
    with pytest.raises(InputError, match="pruning.mode"):  # a bad override is bad input too
        submit.submit_study(str(good), "http://127.0.0.1:8265", ["pruning.mode=sideways"])


def test_non_http_address_is_rejected(study_file):
    with pytest.raises(InputError, match="HTTP address"):
        submit.submit_study(str(study_file), "ray://head:10001", [])


def test_entrypoint_quotes_arguments_and_defers_env_references():
    cmd = submit.job_entrypoint(
        "atis study.yaml",
        ["train.epochs=2", "data.path=/data/a b", "study.optuna_storage=$RAYPRUNING_OPTUNA_STORAGE", "x=$(id)"],
    )
    assert cmd.startswith("python -m raypruning study 'atis study.yaml' train.epochs=2 'data.path=/data/a b' ")
    assert 'study.optuna_storage="${RAYPRUNING_OPTUNA_STORAGE:?' in cmd
    assert cmd.endswith("'x=$(id)'")


def test_entrypoint_env_reference_expands_in_a_posix_shell():
    import subprocess

    cmd = submit.job_entrypoint("s.yaml", ["study.optuna_storage=${DB_URL}"]).replace(
        "python -m raypruning study", "printf '%s\\n'"
    )
    env = {"PATH": os.environ["PATH"], "DB_URL": "postgresql://u:p@db/optuna"}
    done = subprocess.run(["sh", "-c", cmd], env=env, capture_output=True, text=True)
    assert done.stdout.splitlines() == ["s.yaml", "study.optuna_storage=postgresql://u:p@db/optuna"]
    missing = subprocess.run(["sh", "-c", cmd], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True)
    assert missing.returncode != 0 and "DB_URL is not set on the cluster" in missing.stderr


def test_job_env_vars_hold_back_credentials():
    send, held = submit._job_env_vars(
        {
            "RAYPRUNING_DATA_ROOT": "/mnt/shared/data",
            "RAYPRUNING_OPTUNA_STORAGE": "postgresql://user:secret@db:5432/optuna",
            "RAYPRUNING_HF_TOKEN": "hf_abc",
            "RAY_AUTH_TOKEN": "ray-secret",
            "HOME": "/root",
        }
    )
    assert send == {"RAYPRUNING_DATA_ROOT": "/mnt/shared/data"}
    assert held == ["RAYPRUNING_HF_TOKEN", "RAYPRUNING_OPTUNA_STORAGE"]


class FakeJobs:
    """Stands in for ray.job_submission.JobSubmissionClient."""

    instances: list["FakeJobs"] = []
    final_status = "SUCCEEDED"
    log = "Running entrypoint\nline 1\nline 2\npartial"

    def __init__(self, address):
        self.address = address
        self.ray_address_seen = os.environ.get("RAY_ADDRESS")
        self.submitted: dict = {}
        FakeJobs.instances.append(self)

    def submit_job(self, *, entrypoint, runtime_env, metadata):
        workdir = Path(runtime_env["working_dir"])
        self.submitted = {
            "entrypoint": entrypoint,
            "runtime_env": runtime_env,
            "metadata": metadata,
            "working_dir_files": sorted(p.name for p in workdir.iterdir()),
        }
        return "raysubmit_TEST"

    async def tail_job_logs(self, job_id):
        for chunk in ("Running entrypoint\nline", " 1\n", "line 2\n"):
            yield chunk

    def get_job_status(self, job_id):
        from ray.job_submission import JobStatus

        return JobStatus(self.final_status)

    def get_job_logs(self, job_id):
        return self.log


@pytest.fixture
def fake_cluster(monkeypatch):
    import ray.job_submission

    FakeJobs.instances = []
    monkeypatch.setattr(ray.job_submission, "JobSubmissionClient", FakeJobs)
    monkeypatch.setattr(submit, "_probe", lambda url: None)
    return FakeJobs


def test_submit_builds_the_job(study_file, fake_cluster, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "http://elsewhere:8265")  # --address must win over it
    monkeypatch.setenv("RAYPRUNING_OPTUNA_STORAGE", "postgresql://u:pw@db/x")
    monkeypatch.setenv("RAYPRUNING_FLAG", "1")
    lines: list[str] = []
    rc = submit.submit_study(str(study_file), "127.0.0.1:8265/", ["train.epochs=2"], out=lines.append)
    assert rc == 0
    (client,) = fake_cluster.instances
    assert client.address == "http://127.0.0.1:8265" and client.ray_address_seen is None
    assert os.environ["RAY_ADDRESS"] == "http://elsewhere:8265"  # restored afterwards
    job = client.submitted
    assert job["entrypoint"] == "python -m raypruning study unit.yaml train.epochs=2"
    assert job["working_dir_files"] == ["unit.yaml"]  # nothing else from this machine travels
    assert not Path(job["runtime_env"]["working_dir"]).exists()  # temporary, removed after upload
    (package,) = job["runtime_env"]["py_modules"]
    assert Path(package, "submit.py").is_file()
    env = job["runtime_env"]["env_vars"]
    assert env["RAYPRUNING_FLAG"] == "1" and "RAYPRUNING_OPTUNA_STORAGE" not in env
    assert not any("AUTH" in k for k in env)
    assert job["metadata"]["raypruning_study"] == "unit"
    text = "\n".join(lines)
    assert "raysubmit_TEST" in text
    assert "ray job logs --address http://127.0.0.1:8265 --follow raysubmit_TEST" in text
    assert "ray job status --address http://127.0.0.1:8265 raysubmit_TEST" in text
    assert "raypruning dashboard raypruning_results/unit" in text
    assert "RAYPRUNING_OPTUNA_STORAGE is not sent" in text
    assert "study.storage_path 'raypruning_results' is relative" in text


@pytest.mark.parametrize("status,rc", [("SUCCEEDED", 0), ("FAILED", 1), ("STOPPED", 1)])
def test_follow_streams_logs_and_returns_the_job_outcome(study_file, fake_cluster, monkeypatch, status, rc):
    monkeypatch.setattr(FakeJobs, "final_status", status)
    lines: list[str] = []
    assert submit.submit_study(str(study_file), "http://127.0.0.1:8265", [], follow=True, out=lines.append) == rc
    start = lines.index("Running entrypoint")
    # Streamed chunks become whole lines; what the stream missed comes from the full log.
    assert lines[start : start + 4] == ["Running entrypoint", "line 1", "line 2", "partial"]
    assert lines[-1] == f"Ray job raysubmit_TEST {status}"


def test_submit_waits_for_a_job_agent_that_is_still_starting(study_file, fake_cluster, monkeypatch):
    calls = []
    real_submit = FakeJobs.submit_job

    def flaky_submit(self, **job):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Request failed with status code 500: No available agent to submit job, ...")
        return real_submit(self, **job)

    monkeypatch.setattr(FakeJobs, "submit_job", flaky_submit)
    monkeypatch.setattr(submit.time, "sleep", lambda s: None)
    lines: list[str] = []
    assert submit.submit_study(str(study_file), "http://127.0.0.1:8265", [], out=lines.append) == 0
    assert len(calls) == 2 and any("job agent is not up yet" in line for line in lines)


def test_extra_pip_goes_to_the_runtime_env(study_file, fake_cluster):
    submit.submit_study(str(study_file), "http://127.0.0.1:8265", [], extra_pip=["psycopg2-binary"], out=print)
    assert fake_cluster.instances[0].submitted["runtime_env"]["pip"] == ["psycopg2-binary"]


def test_dashboard_address_without_a_cluster_is_none(monkeypatch):
    import ray

    if ray.is_initialized():
        pytest.skip("a Ray session is up in this test process")
    assert submit.ray_dashboard_address() is None
    monkeypatch.setenv("RAY_ADDRESS", "http://127.0.0.1:1")
    assert submit.ray_dashboard_address() is None
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # a GCS address nobody serves: no minutes-long retry
    t0 = time.monotonic()
    assert submit.ray_dashboard_address() is None
    assert time.monotonic() - t0 < 10
    assert not ray.is_initialized()
