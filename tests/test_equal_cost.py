"""The fewer-epochs baseline of the trade-off benchmark (benchmarks/equal_cost.py, tradeoff.py's rows
and write_results.py's verdicts) on hand-made runs whose answers are worked out by hand. No Ray."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import equal_cost  # noqa: E402
import tradeoff  # noqa: E402
import write_results  # noqa: E402

# Seed 0's reference: cumulative cost 10, 20, 30, 40 s after epochs 1-4, test scores 50, 60, 70, 75.
CURVE = equal_cost.EpochCurve((10.0, 20.0, 30.0, 40.0), (50.0, 60.0, 70.0, 75.0))


@pytest.mark.parametrize("cost, score, epochs", [
    (25.0, 65.0, 2.5),   # halfway between epochs 2 (60) and 3 (70)
    (32.5, 71.25, 3.25),  # a quarter of the way from 70 to 75
    (20.0, 60.0, 2.0),   # on an epoch
    (5.0, 50.0, 1.0),    # before the first epoch: the first epoch's score (generous to the baseline)
    (50.0, 75.0, 4.0),   # past the last epoch: the last epoch's score
])
def test_curve_interpolates_between_epochs_and_clamps_outside(cost, score, epochs):
    assert CURVE.score_at(cost) == pytest.approx(score)
    assert CURVE.epochs_at(cost) == pytest.approx(epochs)


def test_curve_rejects_times_that_do_not_increase():
    with pytest.raises(ValueError):
        equal_cost.EpochCurve((10.0, 10.0), (1.0, 2.0))


def test_equal_cost_compares_each_seed_with_its_own_reference_then_averages():
    other = equal_cost.EpochCurve((12.0, 24.0, 36.0, 48.0), (40.0, 60.0, 80.0, 80.0))
    # seed 0: 68 at 25 s against 65 -> +3; seed 1: 72 at 30 s against 60 + 20 * 6/12 = 70 -> +2.
    got = equal_cost.equal_cost({"0": (25.0, 68.0), "1": (30.0, 72.0)}, {"0": CURVE, "1": other})
    assert got.per_seed == pytest.approx({"0": 3.0, "1": 2.0})
    assert got.delta == pytest.approx(2.5) and got.delta_std == pytest.approx(math.sqrt(0.5))
    assert got.epochs == pytest.approx((2.5 + 2.5) / 2)
    assert equal_cost.equal_cost({"2": (25.0, 68.0)}, {"0": CURVE}) is None


def _run(score, test, total, history=None):
    """A slimmed run summary (benchmarks/common.py slim) with only what the rows read."""
    run = {"metric": "exact_match", "score": score, "test_score": test, "metrics": {"exact_match": score},
           "total_time_s": total, "train_time_s": total, "scoring_time_s": 0.0, "wall_time_s": total + 5,
           "driver_time_s": total + 10, "examples_trained": 1, "full_data_examples": 1, "ideal_fraction": 1.0,
           "num_train_examples": 100}
    if history:
        run["score_by_epoch"], run["test_score_by_epoch"] = history["val"], history["test"]
        run["total_time_by_epoch"] = history["time"]
    return run


def test_rows_carry_test_deltas_and_the_equal_cost_delta_against_the_bracketed_reference():
    history = {"time": [10.0, 20.0, 30.0, 40.0], "test": [50.0, 60.0, 70.0, 75.0], "val": [55.0, 65.0, 72.0, 80.0]}
    full = _run(80.0, 75.0, 40.0, history)
    repeat = _run(80.0, 75.0, 48.0)  # the second reference ran slower: the reference time is (40 + 48) / 2 = 44
    pruned = _run(78.0, 68.0, 27.5)
    args = SimpleNamespace(warmup=1, period=2, reuse_train_scores=False, explore=0.3, offset=0.0, quick=False,
                           model="minilm", layers=2, gpu=False, parallel=1, data_root=Path("/data"))
    jobs = [("full", 1.0), ("dynamic-el2n", 0.5)]
    runs = {("full", 1.0): {0: full}, ("dynamic-el2n", 0.5): {0: pruned}}
    rows = tradeoff.make_rows(args, "atis", 4, [], jobs, runs, {}, {0: repeat})
    ref, row = rows
    assert row["score"] == 68.0 and row["score_delta"] == pytest.approx(68.0 - 75.0)
    assert row["val_score_delta"] == pytest.approx(78.0 - 80.0)
    assert row["time_saving"] == pytest.approx(1 - 27.5 / 44.0)
    # The curve is stretched by 44/40 to end at the reference time: 11, 22, 33, 44 s. At 27.5 s it sits
    # halfway between epochs 2 (60) and 3 (70) on test, (65, 72) on validation.
    assert row["equal_cost_epochs_delta"] == pytest.approx(68.0 - 65.0)
    assert row["equal_cost_epochs"] == pytest.approx(2.5)
    assert row["val_equal_cost_epochs_delta"] == pytest.approx(78.0 - 68.5)
    assert ref["equal_cost_epochs_delta"] == 0.0 and ref["score_delta"] == 0.0
    assert [p["time_fraction"] for p in ref["epochs_curve"]] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert [p["score_delta"] for p in ref["epochs_curve"]] == pytest.approx([-25.0, -15.0, -5.0, 0.0])
    assert ref["reference_drift"] == {"0": pytest.approx(1.2)}


def _row(method, keep, delta, saving, val_eq=None, eq=None, seeds=(0, 1, 2)):
    return {"method": method, "keep_fraction": keep, "score_delta": delta, "score_delta_std": 0.1,
            "val_score_delta": delta, "time_saving": saving, "seeds": list(seeds),
            "val_equal_cost_epochs_delta": val_eq, "equal_cost_epochs_delta": eq, "equal_cost_epochs": 5.0,
            "score_split": "test", "prune_ratio": None}


def test_accuracy_goal_is_judged_on_test_for_the_method_chosen_on_validation_and_a_miss_says_by_how_much():
    goal = write_results.GOALS[0]  # keep 0.5, within 0.5 point, >= 42% saving
    rows = [_row("full", 1.0, 0.0, 0.0), _row("dynamic-el2n", 0.5, -0.7, 0.45),
            _row("static-el2n", 0.5, -0.2, 0.40), _row("dynamic-el2n", 0.2, 0.0, 0.70)]
    lines = write_results.accuracy_goal_lines("atis", rows, goal)
    # static-el2n is best on validation but too slow: the choice is dynamic-el2n, 0.2 point short
    assert "**NOT MET** by the choice on validation, dynamic-el2n at keep 0.5: misses by 0.20 points of score" \
        in lines[0]
    assert len(lines) == 3  # the keep 0.2 row is not a candidate
    assert "misses by 0.20 points of score" in lines[1] and "misses by 2.0 points of time saving" in lines[2]
    rows.append(_row("dynamic-el2n-best", 0.5, -0.4, 0.43))
    lines = write_results.accuracy_goal_lines("atis", rows, goal)
    assert "**MET** by the choice on validation, dynamic-el2n-best at keep 0.5: meets it." in lines[0]
    # validation picks a method that misses on test, though another meets it on test: NOT MET
    rows = [_row("full", 1.0, 0.0, 0.0), {**_row("dynamic-el2n", 0.5, -0.8, 0.45), "val_score_delta": 0.3},
            _row("dynamic-el2n-best", 0.5, -0.1, 0.44)]
    lines = write_results.accuracy_goal_lines("atis", rows, goal)
    assert "**NOT MET** by the choice on validation, dynamic-el2n at keep 0.5" in lines[0]
    assert "On test alone dynamic-el2n-best at keep 0.5 would meet it too; test does not choose." in lines[0]


def test_equal_cost_goal_judges_on_test_the_method_chosen_on_validation():
    def dataset(val_eqs, eqs):
        return [_row("full", 1.0, 0.0, 0.0, 0.0, 0.0)] + [
            _row(m, 0.5, 0.0, 0.5, v, e) for m, v, e in zip(("dynamic-el2n", "dynamic-el2n-best"), val_eqs, eqs)]

    # atis: best on validation is -best, above on test; snips: best on validation is dynamic-el2n, whose test
    # delta is below although -best's is above (test must not pick); sst2: above.
    data = {"atis": dataset((0.1, 0.5), (-1.0, 0.3)), "snips": dataset((0.4, 0.2), (-0.6, 2.0)),
            "sst2": dataset((0.3, 0.1), (0.2, -0.1))}
    lines = write_results.equal_cost_goal_lines(data)
    assert "**MET** (above on 2)" in lines[0]
    assert "below the curve by 0.60" in lines[2]
    del data["sst2"]
    lines = write_results.equal_cost_goal_lines(data)
    assert "**NOT MET** (above on 1, 1 dataset(s) short)" in lines[0] and "sst2: not run" in lines[3]
    # a verdict that rests on fewer seeds than planned says so, naming the dataset
    data["snips"] = [dict(r, seeds=[0]) for r in data["snips"]]
    lines = write_results.equal_cost_goal_lines(data)
    assert "(above on 1, 1 dataset(s) short; seeds: snips 1 of the 3 planned)" in lines[0]


def test_the_seeds_caveat_names_each_dataset_short_of_three_seeds():
    real = {"atis": [_row("full", 1.0, 0.0, 0.0)], "snips": [_row("full", 1.0, 0.0, 0.0, seeds=(0, 1))],
            "sst2": [_row("full", 1.0, 0.0, 0.0, seeds=(0,))]}
    assert write_results.seeds_caveat(real) == [
        "- Seeds: snips 2, sst2 1 (3 planned): with 1 seed there is no spread; the spread of 2 seeds is a rough "
        "guide, and score differences of about a point are within run-to-run noise."]
    del real["sst2"]
    assert "snips 2 (3 planned): the spread of 2 seeds is a rough guide," in write_results.seeds_caveat(real)[0]
    del real["snips"]
    assert write_results.seeds_caveat(real) == []


def _summary_rows() -> list[dict]:
    """ATIS rows where validation and test disagree: at keep 0.5, dynamic-el2n is better on test but
    dynamic-el2n-best on validation, so the summary must show dynamic-el2n-best's test numbers."""
    full = {**_row("full", 1.0, 0.0, 0.0, 0.0, 0.0), "dataset": "atis", "score": 84.0, "score_std": 0.3,
            "metric": "exact_match", "epochs": 10, "num_train_examples": 4478, "model": "minilm", "layers": 2,
            "machine": {"cpu_count": 2}}
    return [full, {**_row("dynamic-el2n", 0.5, 0.4, 0.44, 0.1, 0.2), "val_score_delta": -0.3},
            {**_row("dynamic-el2n-best", 0.5, -0.2, 0.43, 0.5, 0.9), "val_score_delta": 0.1},
            _row("dynamic-el2n-best", 0.2, -1.2, 0.55, -0.5, -0.4)]


def test_readme_summary_reports_on_test_the_methods_chosen_on_validation(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "atis.json").write_text(json.dumps(_summary_rows()))
    legacy = {**_row("full", 1.0, 0.0, 0.0), "dataset": "snips", "score_split": "validation"}
    (results / "snips.json").write_text(json.dumps([legacy]))
    readme = tmp_path / "README.md"
    start, end = write_results.SUMMARY_START, write_results.SUMMARY_END
    readme.write_text(f"# x\n\nbefore\n{start}\nthe hand-written summary\n{end}\nafter\n")

    assert write_results.update_readme(results, readme)
    text = readme.read_text()
    assert text.startswith(f"# x\n\nbefore\n{start}\n") and text.endswith(f"\n{end}\nafter\n")
    assert "hand-written" not in text
    assert "full data 84.00 ± 0.30 test exact_match" in text
    assert "at keep 0.5 dynamic-el2n-best scored -0.20 ± 0.10 with 43.0% less time" in text
    assert "at keep 0.2 dynamic-el2n-best scored -1.20 ± 0.10 with 55.0% less time" in text
    assert "fewer epochs at the same cost, dynamic-el2n-best at f=0.5 scored +0.90" in text
    assert "- snips: only the earlier one-seed record" in text
    goals = text.split("Goals:\n")[1]
    assert "- atis: some pruning method at keep 0.5 within 0.5 point" in goals
    assert "**MET** by the choice on validation, dynamic-el2n-best at keep 0.5" in goals
    assert "- atis: some pruning method at keep 0.3 or 0.2 within 1.5 point" in goals and "**NOT MET**" in goals
    assert "- snips: some pruning method at keep 0.5" in goals and "NOT RUN" in goals
    assert "3 seed(s) per setting." in text
    assert "- Seeds:" not in text and "a verdict can change" not in text  # three seeds: no such caveat
    # a dataset with fewer seeds is named in the header and in the caveats
    (results / "snips.json").write_text(json.dumps([
        {**row, "dataset": "snips", "seeds": [0]} for row in _summary_rows()]))
    assert write_results.update_readme(results, readme)
    fewer = readme.read_text()
    assert "3 seed(s) per setting (snips: 1 so far)." in fewer
    assert "- Seeds: snips 1 (3 planned): with 1 seed there is no spread" in fewer
    assert "a verdict can change as seeds are added." in fewer
    readme.write_text(text)
    (results / "snips.json").write_text(json.dumps([legacy]))

    assert write_results.update_readme(results, readme) and readme.read_text() == text  # idempotent


def test_readme_is_left_alone_without_a_test_record_or_without_markers(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    readme = tmp_path / "README.md"
    marked = f"{write_results.SUMMARY_START}\nkept\n{write_results.SUMMARY_END}\n"
    readme.write_text(marked)
    assert not write_results.update_readme(results, readme) and readme.read_text() == marked  # no rows yet
    (results / "atis.json").write_text(json.dumps(_summary_rows()))
    readme.write_text("no markers\n")
    assert not write_results.update_readme(results, readme) and readme.read_text() == "no markers\n"


@pytest.mark.parametrize("bracket", [True, False])
def test_run_order_spreads_every_method_over_the_invocation(bracket):
    """Over seeds 0-2 every job's mean place lies near the middle of the invocation, so a steady drift in
    the machine's speed cancels in the seed mean; with a bracket the reference is first and REPEAT last."""
    jobs = tradeoff.plan(SimpleNamespace(keep=[0.5, 0.3, 0.2], prune_ratio=[0.5]))
    orders = [tradeoff.run_order(jobs, seed, bracket) for seed in (0, 1, 2)]
    rotated = jobs[1:] if bracket else jobs
    if bracket:
        assert all(order[0] == jobs[0] and order[-1] == tradeoff.REPEAT for order in orders)
        orders = [order[1:-1] for order in orders]
    assert all(sorted(order) == sorted(rotated) for order in orders)
    middle = (len(rotated) - 1) / 2
    for job in rotated:
        places = [order.index(job) for order in orders]
        assert abs(sum(places) / 3 - middle) <= len(rotated) / 6, (job, places)
    assert orders[0] == rotated  # seed 0 keeps the canonical order: recorded chunks stay valid
