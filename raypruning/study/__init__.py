"""Studies: Ray Tune + Optuna map the time-accuracy trade-off of a run's pruning settings.

`driver` launches the trials, `layout` knows the study folder, `trials`
builds the trials table.
"""

from raypruning.study.driver import run_study
from raypruning.study.layout import resolve_study

__all__ = ["run_study", "resolve_study"]
