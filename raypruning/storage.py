"""Where a study lives: a local folder, or a URI (s3://, gs://, file://) that outlives the cluster.

Ray Tune and Ray Train write their experiment and checkpoints straight to the
study's storage (they speak pyarrow filesystems). The study's own small files
(study.json, config.yaml, trials.parquet, the SQLite Optuna storage, plots) are
written to a local working folder and, for a URI, copied up after every
change; `best`, `pareto` and `dashboard` copy them down again. Credentials come
from the environment, as pyarrow's filesystems read them.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from raypruning.errors import InputError

STORAGE_TIMEOUT_S = 15.0  # a remote store that does not answer within this is reported, not waited on
STORAGE_TIMEOUT_ENV = "RAYPRUNING_STORAGE_TIMEOUT_S"  # seconds, to wait longer (or less) than that
T = TypeVar("T")


def is_uri(path: str) -> bool:
    return "://" in str(path)


def storage_timeout_s() -> float:
    """STORAGE_TIMEOUT_S, or the positive number of seconds in $RAYPRUNING_STORAGE_TIMEOUT_S."""
    raw = os.environ.get(STORAGE_TIMEOUT_ENV)
    if raw is None:
        return STORAGE_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not (math.isfinite(seconds) and seconds > 0):
        raise InputError(f"${STORAGE_TIMEOUT_ENV}: expected a number of seconds > 0, got {raw!r}")
    return seconds


def within(seconds: float, what: str, call: Callable[[], T]) -> T:
    """call() in a daemon thread, or InputError naming `what` when it does not answer in time.

    Storage clients (pyarrow's S3/GCS filesystems, database drivers) can wait for minutes
    on an unreachable endpoint; a user is better served by one line after a few seconds.
    OSError and ValueError from the call become InputError too.
    """
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name=f"raypruning-{what[:20]}")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise InputError(f"{what}: no answer within {seconds:g} s")
    if "error" in outcome:
        exc = outcome["error"]
        if isinstance(exc, (OSError, ValueError)):
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"{what}: {reason}") from None
        raise exc
    return outcome["value"]


def filesystem(path: str):
    """(pyarrow filesystem, path in it) of a local path or a URI."""
    import pyarrow.fs

    return pyarrow.fs.FileSystem.from_uri(path) if is_uri(path) else (pyarrow.fs.LocalFileSystem(), str(path))


def path_exists(path: str) -> bool:
    """Whether a file or folder is at a local path or a URI (no timeout: see `within`)."""
    import pyarrow.fs

    fs, inside = filesystem(path)
    return fs.get_file_info(inside).type != pyarrow.fs.FileType.NotFound


def upload(files: list[Path], folder: str) -> None:
    """Copy local files into a folder (a URI or a path), in the order given, making the folder."""
    import pyarrow.fs

    fs, base = filesystem(folder)
    fs.create_dir(base, recursive=True)
    for path in files:
        pyarrow.fs.copy_files(str(path), f"{base}/{path.name}", destination_filesystem=fs)


@dataclass(frozen=True)
class StudyLocation:
    local: Path  # the study's small files while it runs (the study folder itself when local)
    remote: str | None  # the study folder's URI, or None for a local study

    @property
    def root(self) -> str:
        """What Tune and Train take as the study folder."""
        return self.remote or str(self.local)

    def child(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def exists(self, name: str) -> bool:
        if not self.remote:
            return (self.local / name).exists()
        return within(storage_timeout_s(), f"study storage {self.remote}", lambda: path_exists(self.child(name)))

    def check(self) -> None:
        """InputError unless the study folder can be made: a reachable remote store, or a local
        path whose existing part is a folder. Creates nothing."""
        if self.remote:
            import pyarrow.fs

            def reach() -> None:
                fs, path = pyarrow.fs.FileSystem.from_uri(self.remote)
                fs.get_file_info(path.rsplit("/", 1)[0] or path)

            within(storage_timeout_s(), f"key 'study.storage_path': {self.remote}", reach)
            return
        for folder in [self.local, *self.local.parents]:
            if folder.exists():
                if not folder.is_dir():
                    raise InputError(f"key 'study.storage_path': {folder} is a file, not a folder")
                return

    def push(self) -> None:
        """Copy the local small files up to the remote study folder."""
        if self.remote:
            upload([path for path in self.local.iterdir() if path.is_file()], self.remote)


def locate(storage_path: str, name: str) -> StudyLocation:
    """The location of study `name` under storage_path (a folder or a URI)."""
    if is_uri(storage_path):
        remote = f"{storage_path.rstrip('/')}/{name}"
        # One cache folder per URI (two buckets may hold studies of the same name); made when
        # the study starts, not here, so that a study refused by validation leaves nothing.
        digest = hashlib.sha256(remote.encode()).hexdigest()[:12]
        local = Path(tempfile.gettempdir()) / "raypruning-studies" / f"{name}-{digest}"
        return StudyLocation(local, remote)
    return StudyLocation((Path(storage_path).expanduser() / name).resolve(), None)


def fetch(uri: str) -> Path:
    """Copy a remote study folder's small files into a fresh local folder and return it."""
    import pyarrow.fs

    def copy_down() -> Path:
        fs, base = pyarrow.fs.FileSystem.from_uri(uri)
        infos = fs.get_file_info(pyarrow.fs.FileSelector(base, recursive=False))
        local = Path(tempfile.mkdtemp(prefix="raypruning-study-"))
        for info in infos:
            if info.type == pyarrow.fs.FileType.File:
                pyarrow.fs.copy_files(info.path, str(local / info.base_name), source_filesystem=fs)
        return local

    return within(storage_timeout_s(), f"{uri}: cannot read the study there", copy_down)
