"""Launch a study on a running Ray cluster through the Ray Jobs API.

``raypruning submit studies/atis.yaml --address http://127.0.0.1:8265 --follow``
validates the study here, then ships the study file (as the job's working
directory) and this checkout of the ``raypruning`` package (as a py_module, so
the cluster runs the code you have, not whatever it had installed) and runs
``python -m raypruning study FILE [key=value ...]`` as the job's driver on the
head node. The cluster must already have the dependencies (torch,
transformers, ...) installed; see cluster/README.md.

Credentials never travel with the job: the job's runtime_env is visible to
anyone who can read the dashboard, so environment variables that look like
secrets (names with TOKEN/SECRET/PASSWORD/KEY..., URLs with a password) are
held back and must be set on the cluster itself. The Ray token that
authenticates this client is read by Ray from RAY_AUTH_TOKEN /
~/.ray/auth_token here and is only ever sent as a request header.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Callable

from raypruning.config import load_config
from raypruning.errors import InputError

# Only these local variables are forwarded to the job, minus anything that looks secret.
ENV_PREFIX = "RAYPRUNING_"
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|PRIVATE|AUTH", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"://[^/\s@:]*:[^/\s@]+@")  # scheme://user:password@host
# key=$NAME (or key=${NAME}): the value is read on the cluster, so a secret never travels.
_ENV_REF = re.compile(r"([^=\s]+)=\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))")
# Variables that make the client talk to another cluster than --address says.
_ADDRESS_VARS = ("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS")
PROBE_TIMEOUT_S = 10.0
AGENT_WAIT_S = 60.0  # a head that has just started takes a few seconds to accept jobs


def submit_study(
    config_path: str,
    address: str,
    overrides: list[str],
    follow: bool = False,
    extra_pip: list[str] | None = None,
    out: Callable[[str], object] = print,
) -> int:
    """Submit ``raypruning study CONFIG`` as a Ray job on the cluster at ``address``.

    Args:
        config_path: the study YAML; validated here before anything is contacted.
        address: the Jobs API / dashboard URL, e.g. ``http://127.0.0.1:8265``.
        overrides: dotted ``key=value`` overrides, passed on to the job (a value
            written ``$NAME`` is read from the cluster's environment; see job_entrypoint).
        follow: stream the job's logs until it ends.
        extra_pip: packages the job installs on top of the cluster's environment.
        out: where progress lines go.

    Returns:
        0 when submitted (or, with ``follow``, when the job SUCCEEDED), else 1.

    Raises:
        InputError: a bad config, or no Ray cluster (or a refused token) at ``address``.
    """
    overrides = list(overrides or [])
    cfg = load_config(config_path, overrides)
    url = _normalise_address(address)
    _probe_or_raise(address, url)
    client = _client(address, url)

    env_vars, held_back = _job_env_vars(os.environ)
    for name in held_back:
        out(f"note: {name} is not sent with the job (it looks like a credential); set it on the cluster")
    for note in _path_notes(cfg):
        out(f"note: {note}")

    import raypruning

    study_file = Path(config_path)
    entrypoint = job_entrypoint(study_file.name, overrides)
    for item in overrides:
        if _ENV_REF.fullmatch(item):
            out(f"note: {item} is expanded on the cluster, from the environment Ray runs the job in")
    with tempfile.TemporaryDirectory(prefix="raypruning-submit-") as workdir:
        # The working dir holds only the study file: nothing else from the
        # caller's current directory (data, results, secrets) gets uploaded.
        shutil.copy2(study_file, Path(workdir) / study_file.name)
        runtime_env: dict = {
            "working_dir": workdir,
            "py_modules": [str(Path(raypruning.__file__).resolve().parent)],
            "env_vars": env_vars,
        }
        if extra_pip:
            runtime_env["pip"] = list(extra_pip)
        job_id = _submit_job(
            client,
            out,
            entrypoint=entrypoint,
            runtime_env=runtime_env,
            metadata={"raypruning_study": cfg.study.name, "raypruning_config": study_file.name},
        )

    study_dir = f"{cfg.study.storage_path.rstrip('/')}/{cfg.study.name}"
    out(f"Submitted study '{cfg.study.name}' as Ray job {job_id} on {url}")
    out(f"  entrypoint: {entrypoint}")
    out(f"  logs:       ray job logs --address {url} --follow {job_id}")
    out(f"  status:     ray job status --address {url} {job_id}")
    out(f"  stop:       ray job stop --address {url} {job_id}")
    out(f"  dashboard:  raypruning dashboard {study_dir}   (Ray dashboard: {url})")
    if not follow:
        return 0
    status = _follow(client, job_id, out)
    if status is None:
        out(f"stopped following; the job keeps running (ray job stop --address {url} {job_id} ends it)")
        return 1
    out(f"Ray job {job_id} {status}")
    return 0 if status == "SUCCEEDED" else 1


def job_entrypoint(study_file_name: str, overrides: list[str]) -> str:
    """The job's shell command: ``python -m raypruning study FILE [key=value ...]``.

    Every argument is shell-quoted, except that an override whose whole value
    is ``$NAME`` becomes ``key="${NAME:?...}"``: the shell that runs the job
    fills it in from the cluster's environment (and fails loudly when the
    variable is missing there). That is how a secret such as a PostgreSQL URL
    for ``study.optuna_storage`` reaches the study without being in the job.
    """
    parts = [shlex.quote(p) for p in ("python", "-m", "raypruning", "study", study_file_name)]
    for item in overrides:
        ref = _ENV_REF.fullmatch(item)
        if ref:
            name = ref.group(2) or ref.group(3)
            parts.append(f'{shlex.quote(ref.group(1))}="${{{name}:?{name} is not set on the cluster}}"')
        else:
            parts.append(shlex.quote(item))
    return " ".join(parts)


def ray_dashboard_address() -> str | None:
    """The Ray dashboard URL of a running cluster this process can see, or None.

    Looks at a connected Ray session first, then RAY_API_SERVER_ADDRESS /
    RAY_ADDRESS. Never starts a cluster; an address that does not answer gives None.
    """
    import ray

    if ray.is_initialized():
        # With a session already up, ray.init returns its context and connects nothing new.
        return _with_scheme(ray.init(ignore_reinit_error=True).dashboard_url)
    address = next((os.environ[v] for v in _ADDRESS_VARS if os.environ.get(v)), None)
    if not address:
        return None
    if address.startswith(("http://", "https://")):
        url = address.rstrip("/")
        return url if _probe(url) is None else None
    if "://" in address:
        return None  # a ray:// client address does not say where the dashboard is
    return _dashboard_from_gcs(address)


# ---------------------------------------------------------------- helpers


def _normalise_address(address: str) -> str:
    if not address:
        raise InputError("--address: give the Ray dashboard URL, e.g. http://127.0.0.1:8265")
    url = address.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    if not url.startswith(("http://", "https://")):
        raise InputError(
            f"--address {address}: give the Ray dashboard's HTTP address (e.g. http://127.0.0.1:8265), "
            "not a Ray Client or GCS address"
        )
    return url


def _probe(url: str) -> str | None:
    """Why nothing Ray-like answers at url (None when a Ray dashboard does).

    The Ray client itself has no timeout; this check keeps an unreachable or
    black-holed address from hanging for minutes.
    """
    import requests

    try:
        r = requests.get(f"{url}/api/version", timeout=PROBE_TIMEOUT_S)
    except requests.exceptions.Timeout:
        return f"no answer within {PROBE_TIMEOUT_S:g} s"
    except requests.exceptions.RequestException as exc:
        errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
        return errno.group(1).strip() if errno else type(exc).__name__
    if r.status_code in (401, 403):
        return None  # a Ray dashboard with token auth: the client reports the token problem
    try:
        ok = r.status_code == 200 and "ray_version" in r.json()
    except ValueError:
        ok = False
    return None if ok else f"HTTP {r.status_code} from {url}/api/version is not the Ray Jobs API"


def _probe_or_raise(address: str, url: str) -> None:
    reason = _probe(url)
    if reason is not None:
        raise InputError(f"--address {address}: no Ray cluster answers there ({reason})")


@contextlib.contextmanager
def _without_env(names: tuple[str, ...]):
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _client(address: str, url: str):
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    # JobSubmissionClient lets RAY_ADDRESS override its address argument;
    # --address must win, so hide those variables while it resolves.
    try:
        with _without_env(_ADDRESS_VARS):
            return JobSubmissionClient(url)
    except AuthenticationError as exc:
        raise InputError(
            f"--address {address}: the cluster wants its Ray token ({exc.message.splitlines()[0]}); "
            "export RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or put the token in ~/.ray/auth_token)"
        ) from None
    except ConnectionError as exc:
        raise InputError(f"--address {address}: no Ray cluster answers there ({exc})") from None


def _submit_job(client, out, **job) -> str:
    """client.submit_job, waiting while a cluster that has just started readies its job agent."""
    deadline = time.monotonic() + AGENT_WAIT_S
    told = False
    while True:
        try:
            return client.submit_job(**job)
        except RuntimeError as exc:
            if "No available agent" not in str(exc) or time.monotonic() > deadline:
                raise
            if not told:
                out(f"note: the cluster's job agent is not up yet; retrying for up to {AGENT_WAIT_S:g} s")
                told = True
            time.sleep(2.0)


def _job_env_vars(environ) -> tuple[dict[str, str], list[str]]:
    """RAYPRUNING_* variables to forward, and the names held back as credentials.

    Nothing else goes in: Ray already runs the driver with PYTHONUNBUFFERED=1,
    and a key that the driver's own ``ray.init(runtime_env=...)`` also sets
    would conflict with the job's runtime_env and stop the driver connecting.
    """
    send: dict[str, str] = {}
    held: list[str] = []
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        if _SECRET_NAME.search(name) or _SECRET_VALUE.search(value):
            held.append(name)
        else:
            send[name] = value
    return send, held


def _path_notes(cfg) -> list[str]:
    """Local relative paths in the config mean nothing on the cluster: say so."""
    notes = []
    storage = cfg.study.storage_path
    if "://" not in storage and not os.path.isabs(storage):
        notes.append(
            f"study.storage_path '{storage}' is relative: results land in the job's temporary "
            "directory on the head node and go with the cluster; use a shared path or an "
            "s3:// / gs:// URI (e.g. study.storage_path=s3://bucket/raypruning)"
        )
    data_path = cfg.data.path
    if data_path and "://" not in data_path and not os.path.isabs(data_path):
        notes.append(
            f"data.path '{data_path}' is relative: the job's working directory holds only the "
            "study file, so the data must be on the cluster at that path; prefer an absolute "
            "shared path"
        )
    return notes


def _follow(client, job_id: str, out) -> str | None:
    """Print the job's logs as they come; return its final status (None on Ctrl-C)."""
    printed = 0
    pending = ""

    def emit(text: str) -> None:
        nonlocal printed, pending
        printed += len(text)
        *lines, pending = (pending + text).split("\n")
        for line in lines:
            out(line)

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            emit(chunk)

    try:
        try:
            asyncio.run(tail())
        except Exception as exc:  # the log stream dropped; fall back to polling
            out(f"note: log stream ended early ({type(exc).__name__}); polling every second")
        while True:
            status = client.get_job_status(job_id)
            emit(client.get_job_logs(job_id)[printed:])
            if status.is_terminal():
                break
            time.sleep(1.0)
    except KeyboardInterrupt:
        return None
    if pending:
        out(pending)
    return str(status.value)


def _with_scheme(url: str | None) -> str | None:
    if not url:
        return None
    return url if "://" in url else f"http://{url}"


def _dashboard_from_gcs(address: str) -> str | None:
    """Dashboard URL of the cluster whose GCS is at address (host:port or 'auto')."""
    import ray

    # Private (checked against Ray 2.60), but the only way to resolve 'auto' (the local
    # session file) without connecting; ray.init to a dead address retries for minutes.
    from ray._private.services import canonicalize_bootstrap_address

    try:
        host_port = canonicalize_bootstrap_address(address)
        if not host_port:
            return None
        host, _, port = host_port.rpartition(":")
        socket.create_connection((host.strip("[]"), int(port)), timeout=2.0).close()
    except (OSError, ValueError, ConnectionError):
        return None
    try:
        ctx = ray.init(address=host_port, log_to_driver=False, logging_level="ERROR")
        return _with_scheme(ctx.dashboard_url)
    except Exception:
        return None
    finally:
        if ray.is_initialized():
            ray.shutdown()
