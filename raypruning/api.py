"""The Python entry points, for notebooks and scripts: the same jobs as the CLI.

    import raypruning
    cfg = raypruning.Config.load("studies/quickstart.yaml", ["train.epochs=4"])
    summary = raypruning.train(cfg.replace(**{"pruning.keep_fraction": 0.5}), output="runs/f05")
    table = raypruning.study(cfg)
    front = raypruning.load_study("raypruning_results/quickstart")

Without Ray, in your own loop: `raypruning.datadiet.DataDiet` and the
`transformers` callback `raypruning.hf_callback.DataDietCallback`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from raypruning.config import Config

if TYPE_CHECKING:
    import pandas as pd


def train(cfg: Config, output: str | os.PathLike, address: str | None = None) -> dict:
    """One finetuning run on Ray Train, validated first; writes summary.json and scores.parquet
    into `output` and returns the summary. Ray: `address`, RAY_ADDRESS, or a local instance."""
    from raypruning.config import to_yaml
    from raypruning.data.sources import load_task_data
    from raypruning.run import check_resources, ensure_ray, run_training
    from raypruning.validate import model_problems, raise_problems

    raise_problems(model_problems(cfg.model, "<python>"))
    load_task_data(cfg.data)
    ensure_ray(address)
    check_resources(cfg, local=not (address or os.environ.get("RAY_ADDRESS")))
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(to_yaml(cfg))
    return run_training(cfg, folder)


def study(cfg: Config, resume: bool = False, address: str | None = None) -> "pd.DataFrame":
    """Run (or resume) a study of the config's search space; returns its trials table, or
    raises `raypruning.errors.StudyIncomplete` when trials failed or were interrupted (the
    tables on disk then hold the finished ones; resume=True runs the rest)."""
    from raypruning.study.driver import run_study

    return run_study(cfg, resume=resume, address=address)
