"""Which trial checkpoints a finished study keeps for `raypruning export` (study.keep_models)."""

from __future__ import annotations

import pandas as pd

from raypruning import keys as K
from raypruning import pareto
from raypruning.keys import Method
from raypruning.storage import filesystem


def models_to_keep(table: pd.DataFrame, objs: dict, keep: str) -> set[str] | None:
    """Trial ids whose run folders `keep_models` keeps (None: all of them)."""
    if keep == "all":
        return None
    if keep == "none":
        return set()
    settings = pareto.per_setting(table)
    has_model = (settings[K.METHOD] != Method.FULL_EPOCHS.value).to_numpy()
    kept = set(settings[settings[K.PARETO] & has_model][K.TRIAL_ID].astype(str))
    best = pareto.best_within_drop(settings, 1.0, pareto.time_column(objs), among=has_model)
    return kept | ({str(best[K.TRIAL_ID])} if best is not None else set())


def drop_models(runs: str, table: pd.DataFrame, objs: dict, keep: str) -> int:
    """Remove the run folders (checkpoints) of trials `keep_models` does not keep. Returns how many."""
    import pyarrow.fs

    kept = models_to_keep(table, objs, keep)
    if kept is None:
        return 0
    fs, base = filesystem(runs)
    removed = 0
    for info in fs.get_file_info(pyarrow.fs.FileSelector(base, allow_not_found=True)):
        trial_id = info.base_name.removeprefix("trial-").split("-seed")[0]
        if info.type == pyarrow.fs.FileType.Directory and info.base_name.startswith("trial-") and trial_id not in kept:
            fs.delete_dir(info.path)
            removed += 1
    return removed
