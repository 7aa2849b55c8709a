"""Experiment tracking: every trial of a study as an MLflow (or W&B) run.

MLflow: one run per Tune trial, named by the trial id, with the trial's whole
config as parameters (dotted keys), its method as a tag, every epoch report's
numbers as metrics (step = Tune's report count) and the trial's seed means
at the end. The tracking URI is MLFLOW_TRACKING_URI when set, otherwise a
SQLite store in the study folder (`mlflow ui --backend-store-uri
sqlite:///<study>/mlflow.db`). W&B goes through Ray's own callback.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from raypruning import keys as K
from raypruning.config import apply_overrides, from_dict
from raypruning.keys import Method
from raypruning.study.trials import TrialOutcome

MLFLOW_FILE = "mlflow.db"


def mlflow_uri(folder: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{folder / MLFLOW_FILE}"


def tracker_callbacks(names: list, study_name: str, folder: Path, base_config: dict, reference: dict) -> list:
    """The Tune callbacks of study.trackers (reference: the reference point's values)."""
    callbacks = []
    if "mlflow" in names:
        callbacks.append(_mlflow_callback(mlflow_uri(folder), study_name, base_config, reference))
    if "wandb" in names:
        from ray.air.integrations.wandb import WandbLoggerCallback

        callbacks.append(WandbLoggerCallback(project=study_name))
    return callbacks


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _numbers(report: dict) -> dict[str, float]:
    out = {}
    for key, value in _flat(report).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def _mlflow_callback(uri: str, experiment: str, base_config: dict, reference: dict):
    from ray.tune import Callback

    class MlflowTracker(Callback):
        """Tune callback logging each trial to MLflow through the public MlflowClient."""

        def setup(self, **info):
            import mlflow
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(uri)
            found = self.client.get_experiment_by_name(experiment)
            self.experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
            self.runs: dict[str, str] = {}
            self.mlflow = mlflow

        def _run(self, trial) -> str:
            if trial.trial_id not in self.runs:
                existing = self.client.search_runs([self.experiment_id],
                                                   filter_string=f"tags.trial_id = '{trial.trial_id}'")
                if existing:  # a resumed study keeps logging into the trial's run
                    self.runs[trial.trial_id] = existing[0].info.run_id
                else:
                    self.runs[trial.trial_id] = self._start(trial)
            return self.runs[trial.trial_id]

        def _start(self, trial) -> str:
            overrides = TrialOutcome(trial.trial_id, dict(trial.config), {}).overrides
            cfg = from_dict(apply_overrides(base_config, overrides), source=f"<trial {trial.trial_id}>")
            p = cfg.pruning
            is_reference = all(trial.config.get(k) == v for k, v in reference.items())
            method = Method.REFERENCE if is_reference else Method.of(p.mode, p.score, p.keep_fraction)
            run = self.client.create_run(self.experiment_id, run_name=f"trial-{trial.trial_id}", tags={
                "trial_id": trial.trial_id, K.METHOD: method.value})
            for key, value in _flat(cfg.to_dict()).items():
                self.client.log_param(run.info.run_id, key, str(value)[:500])
            return run.info.run_id

        def on_trial_start(self, iteration, trials, trial, **info):
            self._run(trial)

        def on_trial_result(self, iteration, trials, trial, result, **info):
            from mlflow.entities import Metric

            step, now = int(result.get("training_iteration", 0)), int(time.time() * 1000)
            reported = {k: v for k, v in result.items() if k != "config"}  # the config is logged as parameters
            metrics = [Metric(key, value, now, step) for key, value in _numbers(reported).items()]
            self.client.log_batch(self._run(trial), metrics=metrics)  # one write, not one per number

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.client.set_terminated(self._run(trial), status="FINISHED")

        def on_trial_error(self, iteration, trials, trial, **info):
            self.client.set_terminated(self._run(trial), status="FAILED")

    return MlflowTracker()
