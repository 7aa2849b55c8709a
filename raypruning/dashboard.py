"""`raypruning dashboard`: open a study's dashboards, or print how.

optuna-dashboard reads the study's Optuna storage, TensorBoard reads the Tune
experiment's event files, and the Ray dashboard belongs to the running
cluster. Every server binds to 127.0.0.1: reach a remote one through an SSH
tunnel or a port-forward, never a public address.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from raypruning.study.layout import TUNE_DIR, read_meta, resolve_study


def dashboard_commands(folder: Path, port: int = 8080, tb_port: int = 6006) -> dict[str, list[str]]:
    storage = read_meta(folder).optuna_storage
    if "***" in storage or not storage.startswith(("sqlite", "postgresql", "mysql")):
        storage = "$RAYPRUNING_OPTUNA_STORAGE"  # a server URL lives in the environment, never in files
    bindir = Path(sys.executable).parent
    optuna_bin = shutil.which("optuna-dashboard") or str(bindir / "optuna-dashboard")
    tb_bin = shutil.which("tensorboard") or str(bindir / "tensorboard")
    return {
        "optuna-dashboard": [optuna_bin, storage, "--host", "127.0.0.1", "--port", str(port)],
        "tensorboard": [tb_bin, "--logdir", str(folder / TUNE_DIR), "--host", "127.0.0.1", "--port", str(tb_port)],
    }


def dashboard_command(study: str, print_only: bool = False, port: int = 8080, tb_port: int = 6006) -> int:
    from raypruning.submit import ray_dashboard_address

    folder = resolve_study(study)
    commands = dashboard_commands(folder, port, tb_port)
    ray_address = ray_dashboard_address()
    print(f"optuna-dashboard: http://127.0.0.1:{port}   ({shlex.join(commands['optuna-dashboard'])})")
    print(f"TensorBoard:      http://127.0.0.1:{tb_port}   ({shlex.join(commands['tensorboard'])})")
    print(f"Ray dashboard:    {ray_address or 'no Ray cluster is running (set RAY_ADDRESS to name one)'}")
    if print_only:
        return 0
    procs = [subprocess.Popen(cmd) for cmd in commands.values()]
    print("serving; Ctrl-C stops both", flush=True)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            p.terminate()
    return 0
