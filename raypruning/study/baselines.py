"""What a study runs beside its search: baselines at the front's settings, and full data for fewer epochs.

Pure decisions on the trials table; the driver runs the trials they name.
"""

from __future__ import annotations

import pandas as pd

from raypruning import keys as K
from raypruning import pareto
from raypruning.config import Config
from raypruning.keys import Method
from raypruning.study.trials import BASELINE_KEY


def epoch_baseline(cfg: Config) -> str:
    """study.epoch_baseline with auto resolved: the curve is exact only with a constant learning rate."""
    if cfg.study.epoch_baseline is False:
        return "off"
    if cfg.study.epoch_baseline != "auto":
        return cfg.study.epoch_baseline
    return "curve" if cfg.train.lr_schedule == "constant" and cfg.train.warmup_ratio == 0 else "runs"


def baseline_points(cfg: Config, table: pd.DataFrame) -> list[dict]:
    """The second experiment's trials: each study.baselines method at the front's tau, T and f
    (so the front shows the method against its baselines), and with study.epoch_baseline
    `runs` full data for k = 1..E-1 epochs (the equal-compute alternative to pruning)."""
    settings = pareto.per_setting(table)
    front = settings[settings[K.PARETO] & (settings[K.METHOD] == Method.DYNAMIC_EL2N.value)]
    if front.empty:
        front = settings[pareto.is_pruned(settings)].nsmallest(1, K.TOTAL_TIME)
    chosen = front.drop_duplicates(K.KEEP).nsmallest(3, K.TOTAL_TIME)
    points = []
    for name in cfg.study.baselines:
        for _, row in chosen.iterrows():
            points.append({"pruning.warmup_epochs": int(row[K.WARMUP]), "pruning.period_epochs": int(row[K.PERIOD]),
                           "pruning.keep_fraction": float(row[K.KEEP]), **Method(name).overrides()})
    if epoch_baseline(cfg) == "runs":
        points += [{**Method.FULL_EPOCHS.overrides(), "pruning.warmup_epochs": 0, "train.epochs": k}
                   for k in range(1, cfg.train.epochs)]
    return [{BASELINE_KEY: point} for point in points]
