"""Every name a run reports and a study table holds, in one place.

The training recipe, the study, the queries and the plots import these
constants, so nobody spells a metric key, a column name or a method name
twice. docs/architecture.md lists the output files and their columns.
"""

from __future__ import annotations

from enum import Enum

# ---- what a run reports each epoch and writes into summary.json
METRIC = "metric"  # name of the primary metric
SCORE = "score"  # primary metric on the evaluation split, points 0-100
METRICS = "metrics"  # every evaluation metric
TRAIN_TIME = "train_time_s"  # training steps only
SCORING_TIME = "scoring_time_s"  # scoring passes
TOTAL_TIME = "total_time_s"  # training + scoring: the paper's accounting
# training + scoring this run itself spent: total_time_s less a warmup read from the reference
COST = "cost_s"
WALL_TIME = "wall_time_s"  # the whole run inside the workers
EXAMPLES_TRAINED = "examples_trained"
FULL_DATA_EXAMPLES = "full_data_examples"
EPOCH = "epoch"
EPOCHS = "epochs"
LOSS = "loss"
KEPT_FRACTION = "kept_fraction"
PRUNING_EVENTS = "pruning_events"
CONFIG = "config"
HISTORY = "history"
IDEAL_FRACTION = "ideal_fraction"  # (tau + f (E - tau)) / E
TEST_SCORE = "test_score"  # primary metric on data.test_split, evaluated once after the last epoch
# Not "done": Tune reads that key as "stop this trial now", which ends the trial before Ray
# Train has released the run's resources.
DONE = "run_complete"

SUMMARY_KEYS = (METRIC, SCORE, METRICS, TRAIN_TIME, SCORING_TIME, TOTAL_TIME, WALL_TIME,
                EXAMPLES_TRAINED, FULL_DATA_EXAMPLES, EPOCHS, PRUNING_EVENTS, CONFIG)
SCORE_COLUMNS = ("event", "epoch", "example_id", "score", "kept")

# ---- objectives a study may optimise: a reported key and its direction
OBJECTIVES = {SCORE: "max", TOTAL_TIME: "min", WALL_TIME: "min", EXAMPLES_TRAINED: "min"}

# ---- the study's trials table (trials.parquet): one row per finished trial
TRIALS_FILE = "trials.parquet"
TRIAL_ID = "trial_id"
WARMUP = "warmup_epochs"
PERIOD = "period_epochs"
KEEP = "keep_fraction"
IS_REFERENCE = "is_reference"
TIME_SAVING = "time_saving"  # 1 - time / reference time, on the study's time objective
SCORE_DELTA = "score_delta"  # score - reference score, points
PARETO = "pareto"
METHOD = "method"
OVERRIDES = "overrides"  # the trial's dotted config overrides, as JSON: what `best` re-applies
SEED = "seed"  # train.seed of the run (a setting runs once per study.seeds)
SEEDS = "seeds"  # how many runs a setting's means are taken over
SCORE_STD = "score_std"  # standard deviation of score over a setting's seeds (ddof 1)
SEED_RUNS = "seed_runs"  # a trial's last report: one entry per seed's run
EARLIER_RUNS = "earlier_seed_runs"  # a trial's epoch reports: the runs of the seeds it finished before
WARMUP_NOTE = "warmup_note"  # a trial's last report: why it trained its warmup alone ("" when it did not)
# study.json and the study's last console lines: what the study cost, in full-data runs
COST_FULL_RUNS = "cost_full_runs"  # sum of cost_s / the reference's total_time_s (mean over seeds)
COST_FULL_RUNS_STANDALONE = "cost_full_runs_standalone"  # the same with every run at its total_time_s
# How a trial ended: "done" (every epoch) or "stopped" (study.early_stop ended it at a pruning
# event; its row keeps the score and times of its last epoch and is never on the front).
STATUS = "status"
STATUS_DONE = "done"
STATUS_STOPPED = "stopped"
STOPPED_EPOCH = "stopped_epoch"  # epochs a stopped trial trained (None for a finished one)
# A stopped trial's last report (tagged by the study): why early stopping ended it, as JSON text
EARLY_STOP = "early_stop"
TRIAL_COLUMNS = [TRIAL_ID, WARMUP, PERIOD, KEEP, SCORE, TOTAL_TIME, WALL_TIME, EXAMPLES_TRAINED,
                 IS_REFERENCE, TIME_SAVING, SCORE_DELTA, PARETO]


class Method(str, Enum):
    """Which curriculum produced a trial. The values are what trials.parquet stores."""

    REFERENCE = "reference"  # the study's full-data reference run
    FULL = "full"  # full data in a trial that is not the reference
    FULL_EPOCHS = "full-epochs"  # full data for fewer epochs: the equal-compute alternative to pruning
    DYNAMIC_EL2N = "dynamic"  # the paper's method
    DYNAMIC_LOSS = "dynamic-loss"
    DYNAMIC_GRAND = "dynamic-grand"
    DYNAMIC_FORGETTING = "dynamic-forgetting"
    DYNAMIC_RANDOM = "dynamic-random"
    STATIC_EL2N = "static-el2n"
    STATIC_LOSS = "static-loss"
    STATIC_GRAND = "static-grand"
    STATIC_FORGETTING = "static-forgetting"
    STATIC_RANDOM = "static-random"
    SOFT_EL2N = "soft-el2n"  # InfoBatch-style soft pruning on training-pass EL2N
    SOFT_LOSS = "soft-loss"  # the same on the training loss (InfoBatch's own score)

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, mode: str, score: str, keep_fraction: float) -> "Method":
        """The method a pruning config runs (never REFERENCE: that is the study's choice).
        Soft pruning ignores keep_fraction."""
        if mode == "soft":
            return cls(f"{mode}-{score}")
        if mode == "full" or keep_fraction >= 1.0:
            return cls.FULL
        if mode == "dynamic" and score == "el2n":
            return cls.DYNAMIC_EL2N
        return cls(f"{mode}-{score}")

    def overrides(self) -> dict:
        """The pruning keys that make a run use this method (baselines re-run the front with them)."""
        if self in (Method.REFERENCE, Method.FULL, Method.FULL_EPOCHS):
            return {"pruning.mode": "full", "pruning.keep_fraction": 1.0}
        mode, _, score = self.value.partition("-")
        return {"pruning.mode": mode, "pruning.score": score or "el2n"}


# study.baselines: methods a study re-runs at its front's settings, to compare against.
BASELINES = (Method.STATIC_EL2N, Method.DYNAMIC_RANDOM)
