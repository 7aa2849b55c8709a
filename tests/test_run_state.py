"""RunState's checkpoint files: what is saved is what is loaded."""

import json

import numpy as np
import pandas as pd

from raypruning.run_state import ARRAYS_FILE, SCORES_FILE, STATE_FILE, RunState


def _rows(event: int, n: int, rng) -> pd.DataFrame:
    return pd.DataFrame({"event": event, "epoch": event + 1, "example_id": np.arange(n),
                         "score": rng.random(n), "kept": rng.random(n) < 0.5})


def test_round_trip_keeps_counters_arrays_and_score_rows(tmp_path):
    rng = np.random.default_rng(0)
    rows = [_rows(0, 8, rng), _rows(1, 8, rng)]
    kept = sorted(rows[1].loc[rows[1]["kept"], "example_id"].tolist())  # the last event's kept rows
    state = RunState(next_epoch=3, kept_ids=kept, train_time_s=1.5, scoring_time_s=0.25, wall_time_s=9.0,
                     examples_trained=123, restarts=1,
                     events=[{"epoch": 1, "kept": 3, "scored": 8, "rescored": 8, "selection": "top",
                              "selection_reason": None}],
                     history=[{"epoch": 1, "score": 50.0}],
                     smooth_mean=rng.random(8), smooth_var=rng.random(8),
                     last_correct=np.array([1.0, np.nan, 0.0, 1.0, 1.0, 0.0, np.nan, 1.0]),
                     forgets=np.arange(8.0), score_rows=rows)
    state.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {STATE_FILE, ARRAYS_FILE, SCORES_FILE}
    assert "kept_ids" not in json.loads((tmp_path / STATE_FILE).read_text())  # stored once, in the rows
    loaded = RunState.load(tmp_path)
    for name in ("next_epoch", "kept_ids", "train_time_s", "scoring_time_s", "wall_time_s", "examples_trained",
                 "restarts", "events", "history"):
        assert getattr(loaded, name) == getattr(state, name), name
    for name in ("smooth_mean", "smooth_var", "last_correct", "forgets"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(state, name))
    assert loaded.train_scores is None
    pd.testing.assert_frame_equal(loaded.scores_frame(), state.scores_frame())


def test_a_fresh_state_round_trips_empty(tmp_path):
    RunState().save(tmp_path)
    loaded = RunState.load(tmp_path)
    assert loaded.kept_ids is None and loaded.events == [] and loaded.smooth_mean is None
    frame = loaded.scores_frame()
    assert len(frame) == 0 and list(frame.columns) == ["event", "epoch", "example_id", "score", "kept"]
