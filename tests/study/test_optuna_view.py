"""AnnotatedOptunaSearch across a driver kill: Tune restores the searcher from its last saved state."""

from __future__ import annotations

from pathlib import Path

import optuna

from raypruning.config import load_config
from raypruning.study.optuna_view import ROW_ATTR, AnnotatedOptunaSearch, prepare_study

QUICKSTART = Path(__file__).resolve().parents[2] / "studies" / "quickstart.yaml"
OBJECTIVES = {"score": "max", "examples_trained": "min"}


def _searcher(storage, base: dict) -> AnnotatedOptunaSearch:
    return AnnotatedOptunaSearch(
        space={"pruning.keep_fraction": optuna.distributions.FloatDistribution(0.1, 1.0)},
        metric=list(OBJECTIVES), mode=list(OBJECTIVES.values()), study_name="s", storage=storage, seed=0,
        reference={}, base_config=base, time_col="examples_trained")


def test_a_trial_told_before_the_driver_died_completes_again_after_resume(tmp_path):
    """The kill fell after Optuna was told, before Tune saved its state: the resumed searcher sees
    the trial end a second time and must neither fail it nor change what Optuna holds."""
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'optuna.db'}")
    prepare_study(storage, "s", OBJECTIVES)
    base = load_config(QUICKSTART).to_dict()
    searcher = _searcher(storage, base)
    assert searcher.suggest("t1") is not None
    searcher.save(str(tmp_path / "searcher.pkl"))  # Tune's last save, while t1 runs
    result = {"score": 80.0, "examples_trained": 100.0}
    searcher.on_trial_complete("t1", result=result)

    resumed = _searcher(storage, base)
    resumed.restore(str(tmp_path / "searcher.pkl"))
    resumed.on_trial_complete("t1", result=result)

    (trial,) = optuna.load_study(study_name="s", storage=storage).trials
    assert trial.state == optuna.trial.TrialState.COMPLETE and trial.values == [80.0, 100.0]
    assert trial.user_attrs[ROW_ATTR] == "t1"
