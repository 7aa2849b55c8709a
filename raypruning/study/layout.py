"""Where a study's files are, and how its Optuna storage is reached.

Study folder (``<study.storage_path>/<study.name>``): ``study.json`` (config,
reference point, objectives), ``config.yaml``, ``optuna.db`` (default Optuna
storage), ``tune/`` (the restorable Tune experiment with TensorBoard events),
``baselines/`` (the Tune experiment of study.baselines), ``runs/`` (one Ray
Train run per trial), ``trials.parquet``, ``pareto.png`` and ``pareto.html``.
docs/architecture.md describes each file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from raypruning.config import Config, load_config
from raypruning.errors import InputError
from raypruning.storage import fetch, is_uri, storage_timeout_s, within
from raypruning.study.cost import StudyCost

STUDY_FILE = "study.json"
CONFIG_FILE = "config.yaml"
TUNE_DIR = "tune"
BASELINES_DIR = "baselines"
RUNS_DIR = "runs"
OPTUNA_FILE = "optuna.db"
PLOT_FILE = "pareto.png"


@dataclass(frozen=True)
class StudyMeta:
    """What study.json holds: the base config, the reference point and the objectives."""

    config: dict  # the study's base config (Config.to_dict())
    reference: dict  # dotted key -> the reference trial's searched value
    objectives: dict  # column -> "max" | "min"
    optuna_storage: str  # the storage URL, password hidden
    cost: StudyCost | None = None  # what the study spent, in full-data runs (written as trials finish)

    def to_json(self) -> str:
        cost = self.cost.to_dict() if self.cost is not None else {}
        return json.dumps({"config": self.config, "reference": self.reference, "objectives": self.objectives,
                           "optuna_storage": self.optuna_storage, **cost}, indent=2)


def read_meta(folder: Path) -> StudyMeta:
    """The study.json of a study folder, or InputError naming what is wrong with it."""
    path = folder / STUDY_FILE
    if not path.is_file():
        raise InputError(f"{folder}: not a study folder (no {STUDY_FILE})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    missing = [k for k in ("config", "reference", "objectives") if not isinstance(raw, dict) or k not in raw]
    if missing:
        raise InputError(f"{path}: missing {', '.join(missing)}; is this a raypruning study folder?")
    return StudyMeta(raw["config"], raw["reference"], raw["objectives"], raw.get("optuna_storage", ""),
                     StudyCost.from_dict(raw))


def resolve_study(study: str) -> Path:
    """A study folder path or URI (copied down), or a study name under the default storage folder."""
    if is_uri(study):
        return fetch(study)
    path = Path(study).expanduser()
    if path.is_dir():
        return path.resolve()
    default = Path(load_config(None).study.storage_path) / study
    if default.is_dir():
        return default.resolve()
    raise InputError(f"{study}: no study folder there (nor under {load_config(None).study.storage_path}/)")


def optuna_url(cfg: Config, folder: Path) -> str:
    """The Optuna storage URL; ``$NAME`` values come from the environment (keep passwords out of files)."""
    if cfg.study.optuna_storage:
        return os.path.expandvars(cfg.study.optuna_storage)
    return f"sqlite:///{folder / OPTUNA_FILE}"


def shown_url(url: str) -> str:
    """A storage URL safe to write into files and logs (password hidden); an unexpanded
    `$NAME` reference is shown as written, since the secret stays in the environment."""
    if url.lstrip().startswith("$"):
        return url
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL sqlalchemy can parse: show nothing of it
        return "<unparsable URL>"


def open_storage(url: str):
    """An Optuna RDB storage, or InputError naming the URL when it cannot be opened."""
    import optuna

    def connect():
        from sqlalchemy.exc import IntegrityError, ProgrammingError

        for attempt in range(3):
            try:
                return optuna.storages.RDBStorage(url)
            except (IntegrityError, ProgrammingError):
                # Two studies creating Optuna's tables in a fresh database at once: one of them
                # loses the race (a duplicate type or table); the tables exist on the next try.
                if attempt == 2:
                    raise
                time.sleep(1.0 + attempt)
            except Exception as exc:  # noqa: BLE001 - any failure means the URL is unusable
                reason = str(exc).splitlines()[0][:200]
                raise InputError(f"key 'study.optuna_storage': cannot open {shown_url(url)!r} ({reason})") from None

    return within(storage_timeout_s(), f"key 'study.optuna_storage': {shown_url(url)}", connect)
