"""What a study's driver keeps off the console (raypruning.console)."""

import os
import subprocess
import sys

import pytest

from raypruning.console import VERBOSE_ENV, _DropShutdownNoise, quiet_driver_console


def test_tunes_slow_operation_threshold_reaches_tune_after_it_is_imported(monkeypatch):
    """Tune reads TUNE_WARN_THRESHOLD_S once, on import; a study imports it before quieting the
    console, so the threshold must reach the already-imported class ("operation took 0.5 s" lines
    came between a study's own lines on a busy machine)."""
    from ray.tune.utils.util import warn_if_slow

    for name in ("TUNE_WARN_THRESHOLD_S", "RAY_AIR_NEW_OUTPUT", VERBOSE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(warn_if_slow, "DEFAULT_THRESHOLD", 0.5)
    quiet_driver_console()
    assert warn_if_slow("process_trial_result").threshold == 10.0
    monkeypatch.setenv("TUNE_WARN_THRESHOLD_S", "2.5")  # the user's own value wins
    quiet_driver_console()
    assert warn_if_slow("process_trial_result").threshold == 2.5


# What an actor's interpreter printed, word for word, as Ray's SIGTERM ended a finished trial's
# queue actor during a study (it came between the study's own lines).
SHUTDOWN_NOISE = [
    "Exception ignored in: <module 'threading' from '/usr/lib/python3.11/threading.py'>",
    "Traceback (most recent call last):",
    '  File "/usr/lib/python3.11/threading.py", line 1590, in _shutdown',
    "    lock.acquire()",
    '  File "/site-packages/ray/_private/worker.py", line 1063, in sigterm_handler',
    "    raise_sys_exit_with_custom_error_message(",
    '  File "python/ray/_raylet.pyx", line 712, in ray._raylet.raise_sys_exit_with_custom_error_message',
    "SystemExit: 1",
]
A_TRIAL_ERROR = ["Traceback (most recent call last):", '  File "recipe.py", line 3, in loop', "ValueError: kept"]


def test_shutdown_noise_is_dropped_even_split_over_batches_and_other_lines_are_kept():
    echoed = []
    drop = _DropShutdownNoise(lambda data: echoed.append((data["pid"], data["lines"])))
    drop({"pid": 7, "lines": ["epoch 1 done", *SHUTDOWN_NOISE[:4]]})
    drop({"pid": 8, "lines": ["    indented line of another process"]})  # between the halves
    drop({"pid": 7, "lines": SHUTDOWN_NOISE[4:]})
    drop({"pid": 7, "lines": ["  after the noise, indented", *A_TRIAL_ERROR]})
    drop({"pid": 8, "lines": SHUTDOWN_NOISE})  # all of a batch is noise: nothing echoed
    assert echoed == [(7, ["epoch 1 done"]), (8, ["    indented line of another process"]),
                      (7, ["  after the noise, indented", *A_TRIAL_ERROR])]


# An actor prints the shutdown noise, then a line and a traceback of its own; the driver started
# Ray the way every raypruning command does (run.ensure_ray) and echoes the actor's output.
ACTOR_PRINTS_NOISE = """
import sys, time
import ray
from raypruning.run import ensure_ray

ensure_ray(num_cpus=1)

@ray.remote
class Loud:
    def speak(self, lines):
        print("\\n".join(lines), file=sys.stderr, flush=True)

ray.get(Loud.remote().speak.remote(sys.argv[1:]))
time.sleep(5)  # Ray's log monitor forwards the actor's lines within a second
ray.shutdown()
"""


@pytest.mark.slow  # starts a Ray instance in a subprocess
def test_commands_keep_actors_shutdown_noise_off_the_console():
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", VERBOSE_ENV)}
    result = subprocess.run([sys.executable, "-c", ACTOR_PRINTS_NOISE, *SHUTDOWN_NOISE, "after the noise",
                             *A_TRIAL_ERROR], capture_output=True, text=True, timeout=180, env=env, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "after the noise" in result.stderr and "ValueError: kept" in result.stderr, result.stderr[-2000:]
    assert "Exception ignored" not in result.stderr and "sigterm_handler" not in result.stderr, result.stderr[-2000:]
