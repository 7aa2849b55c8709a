"""Early stopping of dominated trials: the rule on hand-made curves, the study state fed Tune-like
results, and how the trials table, the front and the study's cost treat a stopped trial."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from raypruning import keys as K
from raypruning import pareto
from raypruning.config import load_config
from raypruning.study import trials as R
from raypruning.study.cost import study_cost
from raypruning.study.early_stop import (
    CurvePoint,
    FrontPoint,
    OtherSeed,
    StudyEarlyStop,
    TrialReport,
    best_cost,
    decide,
    recorded_reports,
)

from hand_tables import OBJ

# The reference: 10 s an epoch for 4 epochs, scores 60, 70, 80, 90.
CURVE = [CurvePoint(e, 50.0 + 10 * e, 10.0 * e) for e in (1, 2, 3, 4)]


def _report(epoch: int, score: float, costs: tuple[float, ...], epochs: int = 4) -> TrialReport:
    return TrialReport(epoch, epochs, score, sum(costs), costs)


def test_best_cost_is_the_cost_so_far_plus_the_remaining_epochs_at_the_cheapest_so_far():
    assert best_cost(_report(2, 60.0, (10.0, 4.0))) == 14.0 + 2 * 4.0
    assert best_cost(_report(4, 60.0, (10.0, 4.0, 5.0, 4.0))) == 23.0  # nothing remains


def test_a_trial_far_below_the_curve_and_dominated_is_stopped():
    # After epoch 2: 55 against the reference's 70 (gap 15). Best case: 14 + 2 * 4 = 22 s and
    # 90 - 15 + 2 = 77 points; a finished trial at (20 s, 80) dominates it.
    decision = decide(CURVE, [FrontPoint(40.0, 90.0), FrontPoint(20.0, 80.0)], _report(2, 55.0, (10.0, 4.0)), 2.0)
    assert decision.stop
    assert decision.gap == 15.0 and decision.best_cost == 22.0 and decision.best_score == 77.0
    assert decision.dominated_by == FrontPoint(20.0, 80.0)
    assert "dominates" in decision.reason and json.loads(decision.to_json())["stop"] is True


def test_a_trial_below_the_curve_that_can_still_be_cheaper_than_every_front_point_is_kept():
    # The same scores, but its epochs cost 2 s: best case 6 + 2 * 2 = 10 s, cheaper than any point.
    decision = decide(CURVE, [FrontPoint(40.0, 90.0), FrontPoint(20.0, 80.0)], _report(2, 55.0, (4.0, 2.0)), 2.0)
    assert not decision.stop and decision.best_cost == 10.0
    assert "not dominated" in decision.reason


def test_a_trial_whose_best_score_beats_every_cheaper_point_is_kept():
    # gap 5: credited 90 - 5 + 2 = 87, above the (20 s, 80) point; the (40 s, 90) one is dearer.
    decision = decide(CURVE, [FrontPoint(40.0, 90.0), FrontPoint(20.0, 80.0)], _report(2, 65.0, (10.0, 4.0)), 2.0)
    assert not decision.stop and decision.best_score == 87.0


def test_the_margin_is_strict_a_gap_of_exactly_the_margin_is_kept():
    front = [FrontPoint(1.0, 100.0)]  # dominates everything: only the gap decides
    at = decide(CURVE, front, _report(2, 67.0, (10.0, 4.0)), 3.0)
    assert at.gap == 3.0 and not at.stop and "not more than 3" in at.reason
    assert decide(CURVE, front, _report(2, 66.9, (10.0, 4.0)), 3.0).stop
    assert not decide(CURVE, front, _report(2, 66.9, (10.0, 4.0)), 3.5).stop


def test_an_equal_point_does_not_dominate_and_a_missing_curve_keeps_the_trial():
    # Best case (22 s, 77): a finished point exactly there is a duplicate, both stay on the front.
    assert not decide(CURVE, [FrontPoint(22.0, 77.0)], _report(2, 55.0, (10.0, 4.0)), 2.0).stop
    decision = decide(CURVE[:1], [FrontPoint(1.0, 100.0)], _report(2, 10.0, (10.0, 4.0)), 2.0)
    assert not decision.stop and "not reported" in decision.reason


def test_with_more_seeds_the_bounds_are_of_the_mean_over_the_trials_seeds():
    front, report = [FrontPoint(20.0, 80.0)], _report(2, 55.0, (10.0, 4.0))  # alone: (22 s, 77), dominated
    # A seed still to run: every epoch at 4 s at least (16 s), and its reference's 90 plus the margin.
    pending = decide(CURVE, front, report, 2.0, [OtherSeed(90.0)])
    assert not pending.stop and (pending.best_cost, pending.best_score) == ((22.0 + 16.0) / 2, (77.0 + 92.0) / 2)
    # A seed already run counts at its final point: (20 s, 70) makes the mean (21 s, 73.5).
    ran = decide(CURVE, front, report, 2.0, [OtherSeed(70.0, 20.0)])
    assert ran.stop and (ran.best_cost, ran.best_score) == (21.0, 73.5)
    unknown = decide(CURVE, front, report, 2.0, [OtherSeed(None)])
    assert not unknown.stop and "every seed" in unknown.reason


# --- the study's state, fed results as Tune hands them over ---------------------------------

BASE = ["train.epochs=4", "search.space={warmup_epochs: {int: [1, 2]}, keep_fraction: {uniform: [0.2, 0.9]}}"]
REFERENCE = {"pruning.warmup_epochs": 1, "pruning.keep_fraction": 1.0}


def _state(**kw) -> StudyEarlyStop:
    base = load_config(None, BASE + ["pruning.period_epochs=1"]).to_dict()
    return StudyEarlyStop(REFERENCE, base, K.TOTAL_TIME, margin=2.0, **kw)


def _epoch(epoch: int, score: float, total: float) -> dict:
    return {K.EPOCH: epoch, K.SCORE: score, K.TOTAL_TIME: total}


def _final(score: float, total: float) -> dict:
    return {K.SCORE: score, K.TOTAL_TIME: total, K.DONE: True, K.SEED_RUNS: "[]"}


def _feed_reference_and_a_cheap_good_trial(state: StudyEarlyStop) -> None:
    state.start("ref", dict(REFERENCE))
    for point in CURVE:
        assert not state.observe("ref", _epoch(point.epoch, point.score, point.cost))
    assert not state.observe("ref", _final(90.0, 40.0))
    state.start("good", {"pruning.warmup_epochs": 1, "pruning.keep_fraction": 0.5})
    assert not state.observe("good", _final(80.0, 20.0))


def test_the_state_stops_a_dominated_pruning_trial_at_a_pruning_event_only():
    state = _state()
    _feed_reference_and_a_cheap_good_trial(state)
    assert state.curves == {0: CURVE} and FrontPoint(20.0, 80.0) in state.front
    # warmup 1, period 1: events before epochs 1, 2, 3 (0-based); the report after epoch 1 is the
    # warmup's (never judged), after epochs 2 and 3 a pruned epoch came first.
    state.start("bad", {"pruning.warmup_epochs": 1, "pruning.keep_fraction": 0.4})
    assert not state.observe("bad", _epoch(1, 60.0, 10.0))  # still the reference's warmup
    assert state.observe("bad", _epoch(2, 55.0, 14.0))
    assert state.stopped["bad"].stop and state.stopped["bad"].best_cost == 22.0
    result = _epoch(2, 55.0, 14.0)
    state.tag("bad", result)
    assert json.loads(result[K.EARLY_STOP])["gap"] == 15.0
    other = _epoch(2, 55.0, 14.0)
    state.tag("good", other)
    assert K.EARLY_STOP not in other


def test_the_reference_and_baselines_are_never_stopped():
    state = _state()
    _feed_reference_and_a_cheap_good_trial(state)
    state.start("ref2", dict(REFERENCE))  # another run of the reference point: it draws the curve
    assert not state.observe("ref2", _epoch(2, 0.0, 100.0))
    state.start("base", {R.BASELINE_KEY: {"pruning.mode": "static", "pruning.keep_fraction": 0.3}})
    assert not state.observe("base", _epoch(2, 0.0, 14.0))
    state.start("full", {"pruning.warmup_epochs": 1, "pruning.keep_fraction": 1.0, "pruning.mode": "full"})
    assert not state.observe("full", _epoch(2, 0.0, 14.0))  # prunes nothing: no pruning event
    assert not state.observe("never-started", _epoch(2, 0.0, 14.0))
    assert state.stopped == {}


def test_the_curve_counts_as_finished_points_when_it_is_in_the_table():
    state = _state(epoch_curve=True)
    state.start("ref", dict(REFERENCE))
    for point in CURVE:
        state.observe("ref", _epoch(point.epoch, point.score, point.cost))
    assert FrontPoint(20.0, 70.0) in state.front
    # 45 after 2 epochs (gap 25), best case (22 s, 90 - 25 + 2 = 67): the reference after 2
    # epochs (20 s, 70) dominates it; no trial has finished.
    state.start("bad", {"pruning.warmup_epochs": 1, "pruning.keep_fraction": 0.4})
    state.observe("bad", _epoch(1, 60.0, 10.0))
    assert state.observe("bad", _epoch(2, 45.0, 14.0))
    without = _state()  # the same study with the curve off: nothing finished, nothing dominates
    without.start("ref", dict(REFERENCE))
    without.start("bad", {"pruning.warmup_epochs": 1, "pruning.keep_fraction": 0.4})
    for point in CURVE:
        without.observe("ref", _epoch(point.epoch, point.score, point.cost))
    without.observe("bad", _epoch(1, 60.0, 10.0))
    assert not without.observe("bad", _epoch(2, 45.0, 14.0))
    assert without.curves == {0: CURVE} and without.front == []


def _record(tune_dir, trial_id: str, config: dict, results: list[dict], start: float) -> None:
    """A trial's result.json as Tune writes it: one JSON line per report, with id, config and time."""
    folder = tune_dir / f"trial_driver_{trial_id}"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({**r, "trial_id": trial_id, "config": config, "timestamp": start + i})
             for i, r in enumerate(results)]
    with open(folder / "result.json", "a") as fh:
        fh.write("\n".join(lines) + "\n")


BAD = {"pruning.warmup_epochs": 1, "pruning.keep_fraction": 0.4}


def test_a_resumed_state_replays_the_recorded_reports_and_stops_what_the_uninterrupted_one_would(tmp_path):
    uninterrupted = _state()
    _feed_reference_and_a_cheap_good_trial(uninterrupted)
    uninterrupted.start("bad", dict(BAD))
    uninterrupted.observe("bad", _epoch(1, 60.0, 10.0))
    assert uninterrupted.observe("bad", _epoch(2, 55.0, 14.0))
    # The same study interrupted after "bad" reported its warmup epoch: Tune's records so far.
    tune = tmp_path / "tune"
    _record(tune, "ref", dict(REFERENCE), [_epoch(p.epoch, p.score, p.cost) for p in CURVE] + [_final(90.0, 40.0)], 0)
    _record(tune, "good", {"pruning.warmup_epochs": 1, "pruning.keep_fraction": 0.5}, [_final(80.0, 20.0)], 10)
    _record(tune, "bad", dict(BAD), [_epoch(1, 60.0, 10.0)], 20)
    assert [r["trial_id"] for r in recorded_reports(tune)] == ["ref"] * 5 + ["good", "bad"]
    resumed = _state()
    assert resumed.replay(recorded_reports(tune)) == 3
    assert resumed.curves == {0: CURVE} and resumed.stopped == {}  # replayed reports are never judged
    resumed.start("bad", dict(BAD))  # Tune starts the resumed trial again
    assert resumed.observe("bad", _epoch(2, 55.0, 14.0))
    assert resumed.stopped["bad"] == uninterrupted.stopped["bad"]
    fresh = _state()  # what a resumed study knew before it replayed: nothing dominates
    fresh.start("bad", dict(BAD))
    assert not fresh.observe("bad", _epoch(2, 55.0, 14.0))


def test_an_epoch_reported_again_after_a_resume_replaces_its_cost(tmp_path):
    """Interrupted after epoch 2 was reported but before it was checkpointed: the resumed trial
    trains epoch 2 again, and its best case counts the epochs of the run that goes on."""
    tune = tmp_path / "tune"
    _record(tune, "ref", dict(REFERENCE), [_epoch(p.epoch, p.score, p.cost) for p in CURVE] + [_final(90.0, 40.0)], 0)
    _record(tune, "good", {"pruning.warmup_epochs": 1, "pruning.keep_fraction": 0.5}, [_final(80.0, 20.0)], 10)
    _record(tune, "bad", dict(BAD), [_epoch(1, 60.0, 10.0), _epoch(2, 55.0, 19.0)], 20)
    state = _state()
    state.replay(recorded_reports(tune))
    state.start("bad", dict(BAD))
    assert state.observe("bad", _epoch(2, 55.0, 15.0))
    assert state.stopped["bad"].best_cost == 15.0 + 2 * 5.0  # epochs of 10 s and 5 s, two more at 5 s


# --- the table, the front and the cost ------------------------------------------------------


def _outcomes() -> list[R.TrialOutcome]:
    def done(trial_id, params, score, total, cost=None):
        run = R.RunResult(0, score, None, total, total, total, 0.0, 100, "accuracy", [], cost)
        return R.TrialOutcome(trial_id, params, {**R.seed_report([run])})

    stopped_result = {K.EPOCH: 2, K.SCORE: 95.0, K.TOTAL_TIME: 5.0, K.COST: 3.0, K.WALL_TIME: 6.0,
                      K.METRIC: "accuracy", K.EXAMPLES_TRAINED: 300, K.EARLY_STOP: '{"stop": true}'}
    return [
        done("a", {"pruning.keep_fraction": 1.0}, 90.0, 40.0),
        done("b", {"pruning.keep_fraction": 0.5}, 80.0, 20.0, cost=15.0),
        # Stopped after 2 of 4 epochs: 95 points at 5 s would dominate everything were it finished.
        R.TrialOutcome("c", {"pruning.keep_fraction": 0.3}, stopped_result),
        R.TrialOutcome("d", {"pruning.keep_fraction": 0.2}, {K.EPOCH: 1, K.SCORE: 99.0}),  # interrupted: no row
    ]


def _table() -> pd.DataFrame:
    base = load_config(None, ["train.epochs=4"]).to_dict()
    return R.trials_table(R.records(_outcomes(), {"pruning.keep_fraction": 1.0}, base), OBJ)


def test_a_stopped_trial_is_a_row_with_its_last_score_and_never_on_the_front():
    outcomes = _outcomes()
    assert [o.stopped for o in outcomes] == [False, False, True, False]
    df = _table().set_index(K.TRIAL_ID)
    assert sorted(df.index) == ["a", "b", "c"]
    assert df[K.STATUS].to_dict() == {"a": "done", "b": "done", "c": "stopped"}
    c = df.loc["c"]
    assert (c[K.SCORE], c[K.TOTAL_TIME], c[K.COST], c[K.STOPPED_EPOCH], c[K.EPOCHS]) == (95.0, 5.0, 3.0, 2, 4)
    assert not c[K.PARETO] and df.loc["a", K.PARETO] and df.loc["b", K.PARETO]
    assert pd.isna(df.loc["a", K.STOPPED_EPOCH])


def test_pareto_and_best_leave_stopped_trials_out(tmp_path):
    df = _table()
    settings = pareto.per_setting(df)
    assert sorted(settings[K.TRIAL_ID]) == ["a", "b"]
    best = pareto.best_within_drop(settings, 100.0)
    assert best[K.TRIAL_ID] == "b"  # c (5 s) would win were it counted
    assert pareto.per_setting(df.drop(columns=[K.STATUS]))[K.TRIAL_ID].tolist().count("c") == 1  # old tables
    R.write_trials(df, tmp_path)
    assert R.load_trials(tmp_path)[K.STATUS].tolist() == ["done", "done", "stopped"]


def test_the_cost_counts_what_a_stopped_trial_spent_and_its_whole_run_alone():
    cost = study_cost(_table())
    # spent: 40 + 15 + 3; alone: 40 + 20 + 5 s * 4 / 2 epochs; in runs of the reference's 40 s.
    assert cost.cost_full_runs == pytest.approx(58 / 40)
    assert cost.cost_full_runs_standalone == pytest.approx(70 / 40)


# The reference's run of seed 1: 10 points below seed 0's at every epoch, at the same costs.
CURVE_SEED1 = [CurvePoint(p.epoch, p.score - 10, p.cost) for p in CURVE]


def _seeded(epoch: int, score: float, total: float, seed: int) -> dict:
    return {**_epoch(epoch, score, total), K.SEED: seed}


def _two_seed_state(**kw) -> StudyEarlyStop:
    base = load_config(None, BASE + ["pruning.period_epochs=1", "study.seeds=2"]).to_dict()
    state = StudyEarlyStop(REFERENCE, base, K.TOTAL_TIME, margin=2.0, **kw)
    state.start("ref", dict(REFERENCE))
    for seed, curve in ((0, CURVE), (1, CURVE_SEED1)):
        for p in curve:
            state.observe("ref", _seeded(p.epoch, p.score, p.cost, seed))
    return state


def test_with_two_seeds_each_run_is_judged_against_its_seeds_reference_and_the_mean_decides():
    state = _two_seed_state()
    assert state.curves == {0: CURVE, 1: CURVE_SEED1}
    state.start("good", {"pruning.warmup_epochs": 1, "pruning.keep_fraction": 0.5})
    state.observe("good", _final(75.0, 18.0))
    # Seed 0 at 30 after 2 epochs (gap 40): alone (22 s, 52); seed 1 still to run (16 s, 80 + 2):
    # the mean (19 s, 67) is dominated by (18 s, 75).
    state.start("bad", dict(BAD))
    state.observe("bad", _seeded(1, 60.0, 10.0, 0))
    assert state.observe("bad", _seeded(2, 30.0, 14.0, 0))
    assert (state.stopped["bad"].best_cost, state.stopped["bad"].best_score) == (19.0, 67.0)
    # Seed 0 ran well, to (20 s, 85); seed 1 at 20 after 2 epochs, 40 below its own reference's 60:
    # the mean of (20 s, 85) and (22 s, 80 - 40 + 2) is (21 s, 63.5), dominated too.
    state.start("late", dict(BAD))
    for epoch, score, total in ((1, 60.0, 10.0), (2, 70.0, 14.0), (3, 80.0, 17.0), (4, 85.0, 20.0)):
        assert not state.observe("late", _seeded(epoch, score, total, 0))
    state.observe("late", _seeded(1, 50.0, 10.0, 1))
    assert state.observe("late", _seeded(2, 20.0, 14.0, 1))
    assert (state.stopped["late"].best_cost, state.stopped["late"].best_score) == (21.0, 63.5)
    # The same seed-1 run judged against seed 0's reference would be 50 behind, not 40.
    assert state.stopped["late"].gap == 40.0


def test_with_two_seeds_the_curve_is_a_finished_point_once_both_seeds_reported_it():
    base = load_config(None, BASE + ["pruning.period_epochs=1", "study.seeds=2"]).to_dict()
    state = StudyEarlyStop(REFERENCE, base, K.TOTAL_TIME, margin=2.0, epoch_curve=True)
    state.start("ref", dict(REFERENCE))
    for p in CURVE:
        state.observe("ref", _seeded(p.epoch, p.score, p.cost, 0))
    assert state.front == []  # the table's curve point is the mean over both seeds
    state.observe("ref", _seeded(1, 50.0, 10.0, 1))
    state.observe("ref", _seeded(2, 60.0, 20.0, 1))
    assert state.front == [FrontPoint(10.0, 55.0), FrontPoint(20.0, 65.0)]


def test_a_trial_stopped_in_its_second_seed_keeps_both_runs_as_stopped_rows():
    first = R.RunResult(0, 70.0, None, 20.0, 21.0, 18.0, 2.0, 300, "accuracy", [], 20.0)
    last = {K.EPOCH: 2, K.SCORE: 40.0, K.TOTAL_TIME: 8.0, K.COST: 8.0, K.WALL_TIME: 9.0, K.METRIC: "accuracy",
            K.EXAMPLES_TRAINED: 150, K.SEED: 1, K.EARLIER_RUNS: json.dumps([first.to_dict()]),
            K.EARLY_STOP: '{"stop": true}'}
    outcomes = [*_outcomes()[:2], R.TrialOutcome("c", {"pruning.keep_fraction": 0.3}, last)]
    base = load_config(None, ["train.epochs=4", "study.seeds=2"]).to_dict()
    df = R.trials_table(R.records(outcomes, {"pruning.keep_fraction": 1.0}, base), OBJ)
    c = df[df[K.TRIAL_ID] == "c"].sort_values(K.SEED)
    assert c[K.SEED].tolist() == [0, 1] and c[K.STATUS].tolist() == ["stopped", "stopped"]
    assert c[K.SCORE].tolist() == [70.0, 40.0] and c[K.STOPPED_EPOCH].tolist() == [4, 2]
    assert "c" not in set(pareto.per_setting(df)[K.TRIAL_ID])  # its finished seed does not make it a setting
    # spent: 40 + 15 + 20 + 8; alone: 40 + 20 + 20 + 8 * 4 / 2, in runs of the reference's 40 s.
    cost = study_cost(df)
    assert cost.cost_full_runs == pytest.approx(83 / 40) and cost.cost_full_runs_standalone == pytest.approx(96 / 40)
