"""What optuna-dashboard shows of a study: objective names, each trial's method, time
saving and score delta, and the baseline and fewer-epochs rows beside the sampled trials.

The sampled trials are Optuna trials already (OptunaSearch asks and tells them);
`AnnotatedOptunaSearch` adds the user attributes just before a trial is told, the
last moment Optuna lets them be set. Rows that Optuna never proposed (baselines,
full data for fewer epochs) are added as finished trials at the end, once each,
so the dashboard's Pareto view matches trials.parquet.
"""

from __future__ import annotations

import math

import pandas as pd
from ray.tune.search.optuna import OptunaSearch

from raypruning import keys as K
from raypruning import pareto
from raypruning.config import apply_overrides, from_dict
from raypruning.keys import Method

ROW_ATTR = "raypruning_trial_id"  # the trials.parquet setting an Optuna trial stands for


def prepare_study(storage, name: str, objectives: dict[str, str]) -> None:
    """Create (or load) the Optuna study with its objectives named, before OptunaSearch loads it."""
    import optuna

    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True,
                                directions=["maximize" if d == "max" else "minimize" for d in objectives.values()])
    study.set_metric_names(list(objectives))


def _sampled_trial(search: OptunaSearch, trial_id: str):
    """The live Optuna trial of a Tune trial. OptunaSearch keeps them in a private dict
    (`_ot_trials`, Ray 2.60); this is the one place that reads it."""
    return search._ot_trials.get(trial_id)


class AnnotatedOptunaSearch(OptunaSearch):
    """OptunaSearch that leaves method, time_saving and score_delta on each sampled trial."""

    def __init__(self, *args, reference: dict, base_config: dict, time_col: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._reference_point = reference
        self._base_config = base_config
        self._time_col = time_col
        self._reference_values: tuple[float, float] | None = None
        self._reference_done = False
        self._deferred: list[tuple[str, dict | None, bool]] = []

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        """Tell Optuna, with the attributes; a trial that ends before the reference waits for it
        (Optuna then counts it as running), so its time saving and score delta can be set."""
        trial = _sampled_trial(self, trial_id)
        is_reference = trial is not None and self._is_reference(trial.params)
        if not self._reference_done and not is_reference:
            self._deferred.append((trial_id, result, error))
            return
        self._tell(trial_id, result, error)
        if is_reference:
            self._reference_done = True
            for deferred in self._deferred:
                self._tell(*deferred)
            self._deferred = []

    def _tell(self, trial_id: str, result: dict | None, error: bool) -> None:
        from optuna.exceptions import UpdateFinishedTrialError

        trial = _sampled_trial(self, trial_id)
        stopped = bool(result and result.get(K.EARLY_STOP))
        try:
            if trial is not None and result and not error:
                for key, value in {ROW_ATTR: trial_id, **self._attributes(trial.params, result)}.items():
                    trial.set_user_attr(key, value)
            if stopped and trial is not None:
                trial.set_user_attr(K.STATUS, K.STATUS_STOPPED)
        except UpdateFinishedTrialError:
            # Told before the driver died, but after Tune last saved its state: --resume ran the
            # trial again, and Optuna keeps what it was told the first time (OptunaSearch only
            # warns that it cannot tell a finished trial).
            pass
        # Early stopping ended it: its values are one epoch's, not a run's. Without a result
        # OptunaSearch tells the trial PRUNED, so the sampler does not learn from them.
        super().on_trial_complete(trial_id, result=None if stopped else result, error=error)

    def _is_reference(self, params: dict) -> bool:
        return all(params.get(k) == v for k, v in self._reference_point.items())

    def _attributes(self, params: dict, result: dict) -> dict:
        cfg = from_dict(apply_overrides(self._base_config, params), source="<trial>")
        is_reference = self._is_reference(params)
        score, time = result.get(K.SCORE), result.get(self._time_col)
        if is_reference and self._reference_values is None and score is not None and time:
            self._reference_values = (score, time)
        method = Method.REFERENCE if is_reference else Method.of(cfg.pruning.mode, cfg.pruning.score,
                                                                 cfg.pruning.keep_fraction)
        attrs = {K.METHOD: method.value}
        if self._reference_values and score is not None and time is not None:
            ref_score, ref_time = self._reference_values
            attrs[K.SCORE_DELTA] = round(score - ref_score, 4)
            attrs[K.TIME_SAVING] = round(1 - time / ref_time, 4)
        return attrs


def add_unsampled_rows(storage, name: str, table: pd.DataFrame, objectives: dict[str, str]) -> int:
    """Add the settings Optuna did not propose (baselines, full data for fewer epochs) as
    finished Optuna trials, once each.

    Returns how many were added.
    """
    import optuna

    study = optuna.load_study(study_name=name, storage=storage)
    present = {t.user_attrs.get(ROW_ATTR) for t in study.get_trials(deepcopy=False)}
    settings = pareto.per_setting(table)
    added = 0
    for _, row in settings.iterrows():
        values = [float(row[col]) for col in objectives]
        if str(row[K.TRIAL_ID]) in present or not all(math.isfinite(v) for v in values):
            continue
        attrs = {ROW_ATTR: str(row[K.TRIAL_ID]), K.METHOD: row[K.METHOD], K.SCORE_DELTA: float(row[K.SCORE_DELTA]),
                 K.TIME_SAVING: float(row[K.TIME_SAVING]), K.SEEDS: int(row[K.SEEDS])}
        study.add_trial(optuna.trial.create_trial(values=values, params={}, distributions={}, user_attrs=attrs))
        added += 1
    return added
