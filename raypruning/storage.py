"""Where a study lives: a local folder, or a URI (s3://, gs://, file://) that outlives the cluster.

Ray Tune and Ray Train write their experiment and checkpoints straight to the
study's storage (they speak pyarrow filesystems). The study's own small files
(study.json, config.yaml, trials.parquet, the SQLite Optuna storage, plots) are
written to a local working folder and, for a URI, copied up after every
change; `best`, `pareto` and `dashboard` copy them down again. Credentials come
from the environment, as pyarrow's filesystems read them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from raypruning.errors import InputError


def is_uri(path: str) -> bool:
    return "://" in str(path)


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
        import pyarrow.fs

        fs, path = pyarrow.fs.FileSystem.from_uri(self.child(name))
        return fs.get_file_info(path).type != pyarrow.fs.FileType.NotFound

    def push(self) -> None:
        """Copy the local small files up to the remote study folder."""
        if not self.remote:
            return
        import pyarrow.fs

        fs, base = pyarrow.fs.FileSystem.from_uri(self.remote)
        fs.create_dir(base, recursive=True)
        for path in self.local.iterdir():
            if path.is_file():
                pyarrow.fs.copy_files(str(path), f"{base}/{path.name}", destination_filesystem=fs)


def locate(storage_path: str, name: str) -> StudyLocation:
    """The location of study `name` under storage_path (a folder or a URI)."""
    if is_uri(storage_path):
        local = Path(tempfile.gettempdir()) / "raypruning-studies" / name
        local.mkdir(parents=True, exist_ok=True)
        return StudyLocation(local, f"{storage_path.rstrip('/')}/{name}")
    return StudyLocation((Path(storage_path).expanduser() / name).resolve(), None)


def fetch(uri: str) -> Path:
    """Copy a remote study folder's small files into a fresh local folder and return it."""
    import pyarrow.fs

    try:
        fs, base = pyarrow.fs.FileSystem.from_uri(uri)
        infos = fs.get_file_info(pyarrow.fs.FileSelector(base, recursive=False))
    except (OSError, ValueError) as exc:
        raise InputError(f"{uri}: cannot read the study there ({exc})") from None
    local = Path(tempfile.mkdtemp(prefix="raypruning-study-"))
    for info in infos:
        if info.type == pyarrow.fs.FileType.File:
            pyarrow.fs.copy_files(info.path, str(local / info.base_name), source_filesystem=fs)
    return local
