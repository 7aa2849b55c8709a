"""A tidy console: one progress line per epoch or trial, Ray's detail in Ray's log files.

Two sources flood a run's console. Ray Train patches `print` in its workers
into a logger, which defeats dill's capture of a `dis.dis` call made while
the datasets library hashes a table, so every worker prints a bytecode
disassembly; and Ray Train logs every report, checkpoint path included, at
INFO through a logger its own level filter misses. `--verbose` (the
RAYPRUNING_VERBOSE variable, which reaches the workers) keeps both.
"""

from __future__ import annotations

import logging
import os

VERBOSE_ENV = "RAYPRUNING_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def ray_env_vars() -> dict[str, str]:
    """Environment for Ray workers (runtime_env env_vars)."""
    if verbose():
        return {VERBOSE_ENV: "1"}
    # Ray Train's documented switch for its print patch (ray.train.v2 constants).
    return {"RAY_TRAIN_ENABLE_PRINT_PATCH": "0"}


class _DropReportEchoes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Reporting training result")


def quiet_worker_console() -> None:
    """In a Ray Train worker: keep report echoes out of the console handlers only, so that
    Ray's log files (file handlers) still hold them."""
    if verbose():
        return
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.addFilter(_DropReportEchoes())


def quiet_driver_console() -> None:
    """In the process that runs a study: Tune's experiment banner and result paths, Optuna's
    per-trial INFO lines and experimental-API warnings, and MLflow's store set-up lines
    stay off the console; the study prints its own progress line per trial."""
    if verbose():
        return
    import warnings

    import optuna

    # Tune's legacy reporter honours verbose=0 (its newer one prints a banner regardless).
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    threshold = os.environ.setdefault("TUNE_WARN_THRESHOLD_S", "10")  # "operation took 0.9 s" lines on a busy machine
    # Tune reads it once, as ray.tune is imported, which a study's own modules have done by now.
    from ray.tune.utils.util import warn_if_slow

    warn_if_slow.DEFAULT_THRESHOLD = float(threshold)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message=r"Fixed parameter .* is out of range", module="optuna")
    logging.getLogger("mlflow").setLevel(logging.WARNING)


# How an actor's interpreter reports the SIGTERM that Ray sends it (a finished trial's actors,
# or all of them at shutdown) when the signal lands while it waits for its threads to end.
SHUTDOWN_NOISE_HEADER = "Exception ignored in: <module 'threading'"


class _DropShutdownNoise:
    """Wraps Ray's handler that echoes worker output on the driver's console: drops the
    "Exception ignored in: <module 'threading'>" traceback an actor prints as SIGTERM ends it
    (harmless, and it came between a study's lines), keeps every other line. A block may arrive
    split over several batches, so the state is kept per process."""

    def __init__(self, echo):
        self.echo = echo
        self._in_block: dict[object, bool] = {}  # pid -> inside a block, past its Traceback line

    def __call__(self, data: dict) -> None:
        pid = data.get("pid")
        kept = [line for line in data.get("lines", []) if not self._is_noise(pid, line)]
        if kept:
            self.echo({**data, "lines": kept})

    def _is_noise(self, pid, line: str) -> bool:
        if line.startswith(SHUTDOWN_NOISE_HEADER):
            self._in_block[pid] = False
            return True
        if pid not in self._in_block:
            return False
        if line.startswith("Traceback (most recent call last)"):
            self._in_block[pid] = True
        elif not (self._in_block[pid] and line.startswith(" ")):
            del self._in_block[pid]  # the exception's own line ends the block ("SystemExit: 1")
        return True


def drop_worker_shutdown_noise() -> None:
    """Keep the tracebacks of actors ended by SIGTERM off this console (see _DropShutdownNoise).
    Ray has no public hook for the echo; without the private one nothing changes."""
    if verbose():
        return
    try:
        from ray._private.worker import global_worker_stdstream_dispatcher as dispatcher
    except ImportError:
        return
    with dispatcher._lock:
        dispatcher.handlers = [(name, _DropShutdownNoise(echo)
                                if name == "ray_print_logs" and not isinstance(echo, _DropShutdownNoise) else echo)
                               for name, echo in dispatcher.handlers]


def silence_worker_logs() -> None:
    """Stop echoing the Ray workers' output on this console; Ray's log files keep it. Used once a
    study stops on a storage fault: Tune then ends its trial actors with SIGTERM, and their dying
    words (a SystemExit traceback now and then) would follow the one line that names the cause.
    Ray has no public switch for this after ray.init; without the private one nothing changes."""
    if verbose():
        return
    try:
        from ray._private.worker import global_worker_stdstream_dispatcher
    except ImportError:
        return
    global_worker_stdstream_dispatcher.remove_handler("ray_print_logs")
