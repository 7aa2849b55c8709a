"""Names of the numbers a run reports and writes, shared by the training
recipe, the study and the results code so that nobody spells them twice."""

METRIC = "metric"  # name of the primary metric
SCORE = "score"  # primary metric on the evaluation split, points 0-100
METRICS = "metrics"  # every evaluation metric
TRAIN_TIME = "train_time_s"  # training steps only
SCORING_TIME = "scoring_time_s"  # scoring passes
TOTAL_TIME = "total_time_s"  # training + scoring: the paper's accounting
WALL_TIME = "wall_time_s"  # the whole run inside the workers
EXAMPLES_TRAINED = "examples_trained"
FULL_DATA_EXAMPLES = "full_data_examples"
EPOCH = "epoch"
EPOCHS = "epochs"
LOSS = "loss"
KEPT_FRACTION = "kept_fraction"
PRUNING_EVENTS = "pruning_events"
CONFIG = "config"
IDEAL_FRACTION = "ideal_fraction"  # (tau + f (E - tau)) / E
# Not "done": Tune reads that key as "stop this trial now", which ends the trial before Ray
# Train has released the run's resources.
DONE = "run_complete"

SUMMARY_KEYS = (METRIC, SCORE, METRICS, TRAIN_TIME, SCORING_TIME, TOTAL_TIME, WALL_TIME,
                EXAMPLES_TRAINED, FULL_DATA_EXAMPLES, EPOCHS, PRUNING_EVENTS, CONFIG)
SCORE_COLUMNS = ("event", "epoch", "example_id", "score", "kept")
