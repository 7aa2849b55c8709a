"""One finetuning run on Ray Train: build the TorchTrainer, fit, write the run's files.

The driver side of `raypruning train` and of every study trial. The workers
run `raypruning.recipe.train_loop_per_worker`; this module only decides
resources and storage, and turns the final checkpoint into ``summary.json``
and ``scores.parquet`` in the output folder.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from raypruning.config import Config, with_absolute_data_path
from raypruning.console import drop_worker_shutdown_noise, ray_env_vars
from raypruning.errors import InputError
from raypruning.run_state import SCORES_FILE, SUMMARY_FILE

# Ray Train's controller moves a run from one state to the next (workers started, training,
# finished) only when it polls its workers, every 2 s by default; on short runs, such as a
# study's trials, those waits are a large share of the fixed cost of a run
# (benchmarks/train_startup.py). A poll is one cheap call per worker.
TRAIN_POLL_INTERVAL_S = "0.5"
# A busy machine can take over a minute to start worker processes; Ray Train's default 60 s
# start timeout then fails trials that would have run.
TRAIN_WORKER_START_TIMEOUT_S = "600"


def ray_train_timing() -> dict[str, str]:
    """Ray Train's poll interval and worker start timeout for this job, unless set by the user."""
    return {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": os.environ.get("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S",
                                                                TRAIN_POLL_INTERVAL_S),
            "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": os.environ.get("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S",
                                                                     TRAIN_WORKER_START_TIMEOUT_S)}


def ensure_ray(address: str | None = None, include_dashboard: bool = False, num_cpus: int | None = None,
               worker_logs: bool = True) -> str:
    """Connect to the cluster at address / RAY_ADDRESS, or start a local instance.

    worker_logs: echo the workers' output on this process's console (benchmarks turn it off).
    Returns a short description of where Ray runs.
    """
    import ray

    if ray.is_initialized():
        return "already connected"
    address = address or os.environ.get("RAY_ADDRESS")
    env = {"env_vars": {"PYTHONUNBUFFERED": "1", **ray_train_timing(), **ray_env_vars()}}
    if address:
        _check_answers(address)
        try:
            ray.init(address=address, runtime_env=env, log_to_driver=worker_logs)
        except Exception as exc:  # noqa: BLE001 - any connection failure is the user's address
            raise InputError(f"--address {address}: cannot connect to a Ray cluster ({exc})") from None
        where = f"cluster at {address}"
    else:
        # Ray Train's placement-group cleaner finds the state API by auto-detection, which
        # fails when another Ray instance runs on the same machine; name ours explicitly.
        dashboard_port = _free_port()
        env["env_vars"]["RAY_API_SERVER_ADDRESS"] = f"http://127.0.0.1:{dashboard_port}"
        ray.init(include_dashboard=include_dashboard, dashboard_host="127.0.0.1", dashboard_port=dashboard_port,
                 num_cpus=num_cpus, runtime_env=env, log_to_driver=worker_logs, configure_logging=True,
                 logging_level="warning")
        where = "local Ray instance" + (f" (dashboard http://127.0.0.1:{dashboard_port})" if include_dashboard else "")
    drop_worker_shutdown_noise()
    return where


ADDRESS_TIMEOUT_S = 10.0


def _check_answers(address: str) -> None:
    """InputError unless something listens at a host:port (or ray://host:port) address.

    ray.init retries a dead address for minutes; a closed port is better said at once.
    'auto' (the local session file) is left to ray.init.
    """
    import socket

    if address == "auto" or address.startswith(("http://", "https://")):
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--address {address}: expected host:port (or ray://host:port)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=ADDRESS_TIMEOUT_S).close()
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise InputError(f"--address {address}: no Ray cluster answers there ({reason})") from None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_resources(cfg: Config, local: bool) -> None:
    """Refuse a run that the cluster cannot place: Ray would wait for the CPUs (or GPUs) forever.

    A remote cluster may autoscale, so there it is a warning, not an error.
    """
    import ray

    total = ray.cluster_resources()
    need = {"CPU": cfg.scaling.num_workers * cfg.scaling.cpus_per_worker}
    if cfg.scaling.use_gpu:
        need["GPU"] = cfg.scaling.num_workers
    short = [f"{amount:g} {kind} (it has {total.get(kind, 0):g})" for kind, amount in need.items()
             if total.get(kind, 0) + 1e-9 < amount]
    if not short:
        return
    message = (f"key 'scaling.num_workers': {cfg.scaling.num_workers} worker(s) need {', '.join(short)} "
               f"on this cluster; lower scaling.num_workers or scaling.cpus_per_worker")
    if local:
        raise InputError(message)
    print(f"warning: {message}; waiting for the cluster to grow", flush=True)


def worker_resources(cfg: Config) -> dict:
    resources = {"CPU": cfg.scaling.cpus_per_worker}
    if cfg.scaling.use_gpu:
        resources["GPU"] = 1
    return resources


def build_trainer(cfg: Config, storage_path: str, name: str, callbacks: list | None = None,
                  warm_start: str | None = None, warmup_out: dict | None = None):
    """The TorchTrainer of one run; same (storage_path, name) resumes from its last checkpoint.

    warm_start: a checkpoint folder that a fresh run starts from (a study's shared warmup).
    warmup_out: {"dir": folder, "epochs": [...]}: rank 0 also saves its state after those
        epochs into <dir>/epoch<n>, for trials to branch from.
    """
    import ray.train
    from ray.train.torch import TorchTrainer

    from raypruning.recipe import train_loop_per_worker

    loop_config = {"config": cfg.to_dict()}
    if warm_start:
        loop_config["warm_start"] = str(warm_start)
    if warmup_out:
        loop_config["warmup_out"] = {"dir": str(warmup_out["dir"]), "epochs": [int(e) for e in warmup_out["epochs"]]}
    return TorchTrainer(
        train_loop_per_worker,
        train_loop_config=loop_config,
        scaling_config=ray.train.ScalingConfig(num_workers=cfg.scaling.num_workers, use_gpu=cfg.scaling.use_gpu,
                                               resources_per_worker=worker_resources(cfg),
                                               placement_strategy=cfg.scaling.placement_strategy),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=storage_path,
            failure_config=ray.train.FailureConfig(max_failures=cfg.train.max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2),
            callbacks=callbacks or [],
            # Ray Train logs every report and checkpoint at INFO; progress comes from our callbacks.
            logging_config=ray.train.LoggingConfig(log_level="WARNING"),
        ),
    )


def read_summary(checkpoint) -> dict:
    """The summary.json that a run's last checkpoint carries."""
    if checkpoint is None:
        raise RuntimeError("the run finished without a checkpoint")
    with checkpoint.as_directory() as folder:
        return json.loads((Path(folder) / SUMMARY_FILE).read_text())


def run_training(cfg: Config, output_dir: str | Path, name: str = "run", callbacks: list | None = None) -> dict:
    """Fit one run and write summary.json and scores.parquet into output_dir.

    Returns:
        The summary dictionary (docs/architecture.md lists its keys).
    """
    output = Path(output_dir).resolve()
    output.mkdir(parents=True, exist_ok=True)
    trainer = build_trainer(with_absolute_data_path(cfg), str(output / "ray"), name, callbacks)
    result = trainer.fit()
    if result.error is not None:
        raise result.error
    if result.checkpoint is None:
        raise RuntimeError("the run finished without a checkpoint")
    summary = read_summary(result.checkpoint)
    with result.checkpoint.as_directory() as folder:
        shutil.copyfile(Path(folder) / SCORES_FILE, output / SCORES_FILE)
    (output / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return summary
