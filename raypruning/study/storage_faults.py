"""A study folder whose disk fills up or turns read-only mid-study: one line, not a traceback.

Left alone, Ray Tune logs a traceback each time its background sync of the
experiment state fails, the running trial dies in its checkpoint upload (the
worker's traceback reaches the console), and `Tuner.fit` itself ends in an
EOFError reading that trial's empty error file. `StorageWatch` looks at the
folder's filesystem between Tune's steps (statvfs: no block left, or mounted
read-only) and stops the experiment as soon as it sees either, before a trial
fails on it; it keeps Tune's sync tracebacks for those errors off the console,
and `error` is the study's one line naming the folder and the cause.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import time
from pathlib import Path

from raypruning.console import silence_worker_logs

# Errors that mean the storage, not the study, broke.
FAULTS = (errno.ENOSPC, errno.EROFS, errno.EDQUOT)
PROBE_PERIOD_S = 0.5
# The loggers whose records of a failed write to the study folder are noise once the fault is named.
TUNE_LOGGERS = ("ray.train._internal.syncer", "ray.tune.execution.experiment_state",
                "ray.tune.execution.tune_controller", "ray.tune.tune", "ray.tune.analysis.experiment_analysis")
_ERRNO = re.compile(r"\[Errno (\d+)\]")


def fault_now(folder: str | os.PathLike) -> int | None:
    """The errno of a storage fault of the folder's filesystem now (ENOSPC: no block left to
    this process; EROFS: mounted read-only), or None."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return errno.EROFS
    free = st.f_bfree if os.geteuid() == 0 else st.f_bavail  # root may use the reserved blocks
    # Some FUSE filesystems report no size at all (zero blocks): unknown, not full.
    return errno.ENOSPC if st.f_blocks > 0 and free == 0 else None


def fault_in(text: str) -> int | None:
    """The errno of a storage fault named in an error's text (pyarrow's and Ray's errors carry it
    only there), or None."""
    for match in _ERRNO.finditer(text):
        if int(match.group(1)) in FAULTS:
            return int(match.group(1))
    for code in FAULTS:
        if os.strerror(code) in text:
            return code
    return None


def describe(code: int) -> str:
    return f"{os.strerror(code)} ({errno.errorcode.get(code, code)})"


class StorageWatch:
    """Watches a study folder while Tune runs; `callback()` and `stopper()` go to Tune's RunConfig."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.code: int | None = None
        self.where: Path = self.folder
        self._last_probe = 0.0
        self._filter = _QuietFaults(self)

    def note(self, code: int, where: Path | None = None) -> None:
        if self.code is None:
            self.code, self.where = code, where or self.folder
            silence_worker_logs()  # the stop's aftermath stays in Ray's logs, as Tune's does (_QuietFaults)

    def probe(self, force: bool = False) -> int | None:
        now = time.monotonic()
        if self.code is None and (force or now - self._last_probe >= PROBE_PERIOD_S):
            self._last_probe = now
            code = fault_now(self.folder)
            if code is not None:
                self.note(code)
        return self.code

    def error(self) -> str:
        return (f"{self.where}: {describe(self.code)} mid-study; the study stopped, the files written before "
                f"stay readable")

    def __enter__(self) -> "StorageWatch":
        for name in TUNE_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)
        return self

    def __exit__(self, *exc) -> None:
        for name in TUNE_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)

    def callback(self):
        from ray.tune import Callback

        watch = self

        class ProbeStorage(Callback):
            def on_step_begin(self, iteration, trials, **info):
                watch.probe()

        return ProbeStorage()

    def stopper(self):
        from ray.tune import Stopper

        watch = self

        class StopOnStorageFault(Stopper):
            def __call__(self, trial_id, result):
                return False

            def stop_all(self):
                return watch.code is not None

        return StopOnStorageFault()


class _QuietFaults(logging.Filter):
    """Drops Tune's records of a write that a storage fault broke (noting the fault) and, once a
    fault is noted, every later record of these loggers: the stop's aftermath, which the one line says."""

    def __init__(self, watch: StorageWatch):
        super().__init__()
        self.watch = watch

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f"\n{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        code = fault_in(text)
        if code is not None:
            self.watch.note(code)
            return False
        return self.watch.code is None
