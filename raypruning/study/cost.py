"""What a study spent, counted in full-data runs.

A study saves finetuning time only when its answer costs less than the runs it
saves, so it reports its own cost in units of its reference (full data, every
epoch): the sum of every run's `cost_s` (training + scoring the study actually
spent on it) over the reference's `total_time_s` (mean over seeds). The
standalone figure counts every run at its `total_time_s` instead, what the
same study would cost with warmup sharing and early stopping turned off.

Rows whose `cost_s` is 0 were read from another run's history (the
fewer-epochs curve): they cost nothing either way.

A trial that early stopping ended (status stopped) counts what it spent in the
first figure; in the standalone one it counts the whole run it would have
been: its average cost per epoch so far, times its E epochs (`standalone_time`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from raypruning import keys as K


@dataclass(frozen=True)
class StudyCost:
    cost_full_runs: float  # sum of cost_s / the reference's total_time_s
    cost_full_runs_standalone: float  # the same with every run at its standalone total_time_s

    def to_dict(self) -> dict:
        return {K.COST_FULL_RUNS: self.cost_full_runs, K.COST_FULL_RUNS_STANDALONE: self.cost_full_runs_standalone}

    def line(self) -> str:
        """The study's cost line on the console."""
        return (f"cost: {self.cost_full_runs:.1f} full-data runs of training and scoring "
                f"({self.cost_full_runs_standalone:.1f} had every run trained alone)")

    @classmethod
    def from_dict(cls, raw: dict) -> "StudyCost | None":
        if not isinstance(raw, dict) or K.COST_FULL_RUNS not in raw:
            return None
        return cls(**{k: float(raw[k]) for k in asdict(cls(0.0, 0.0))})


def study_cost(df: pd.DataFrame) -> StudyCost | None:
    """The study's cost from its trials table; None without cost_s or a timed reference."""
    if df.empty or K.COST not in df.columns or K.IS_REFERENCE not in df.columns:
        return None
    reference = df[df[K.IS_REFERENCE].astype("boolean").fillna(False).astype(bool).to_numpy()]
    unit = pd.to_numeric(reference[K.TOTAL_TIME], errors="coerce").mean()
    if not unit or pd.isna(unit) or unit <= 0:
        return None
    cost = pd.to_numeric(df[K.COST], errors="coerce").fillna(0.0)
    standalone = standalone_time(df).where(cost > 0, 0.0)
    return StudyCost(float(cost.sum() / unit), float(standalone.sum() / unit))


def standalone_time(df: pd.DataFrame) -> pd.Series:
    """Each row's total_time_s had it run alone and to its end.

    A finished run's is its own total_time_s. A stopped run's is an estimate: its total_time_s
    after `stopped_epoch` epochs extrapolated linearly to its `epochs` (E). Its epochs so far
    include the warmup on all the data, dearer than the pruned epochs it did not train, so the
    estimate leans high.
    """
    total = pd.to_numeric(df[K.TOTAL_TIME], errors="coerce").fillna(0.0)
    if K.STOPPED_EPOCH not in df.columns or K.EPOCHS not in df.columns:
        return total
    done = pd.to_numeric(df[K.STOPPED_EPOCH], errors="coerce")
    epochs = pd.to_numeric(df[K.EPOCHS], errors="coerce")
    stopped = (done > 0) & (epochs > 0)
    return total.where(~stopped, total * epochs / done)
