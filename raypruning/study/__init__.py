"""Studies: Ray Tune + Optuna map the time-accuracy trade-off of a run's pruning settings.

`driver` launches the trials (`run_study`), `layout` knows the study folder,
`trials` builds the trials table, `optuna_view` and `tracking` feed the
dashboards. Import the submodules directly: the driver pulls in Ray Tune,
which the queries on a finished study do not need.
"""
