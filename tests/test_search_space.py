"""Search spaces: plain data to Ray Tune domains and grid points, and the space checks a config load runs."""

from pathlib import Path

import numpy as np
import pytest
from ray import tune

from raypruning.config import load_config
from raypruning.errors import InputError
from raypruning.search_space import full_key, grid_points, to_tune_space
from raypruning.validate import study_problems


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------- conversion


def test_bare_keys_mean_pruning_keys():
    assert full_key("keep_fraction") == "pruning.keep_fraction"
    assert full_key("train.lr") == "train.lr"


def test_each_kind_gives_its_tune_domain_with_its_bounds():
    space = to_tune_space({
        "keep_fraction": {"uniform": [0.2, 0.9]},
        "train.lr": {"loguniform": [1e-5, 1e-3]},
        "warmup_epochs": {"int": [1, 4]},
        "pruning.score": {"choice": ["el2n", "loss"]},
    })
    assert set(space) == {"pruning.keep_fraction", "train.lr", "pruning.warmup_epochs", "pruning.score"}
    keep, lr, warmup, score = (space[k] for k in ("pruning.keep_fraction", "train.lr", "pruning.warmup_epochs",
                                                  "pruning.score"))
    assert isinstance(keep, tune.search.sample.Float) and (keep.lower, keep.upper) == (0.2, 0.9)
    assert isinstance(keep.get_sampler(), tune.search.sample.Float._Uniform)
    assert isinstance(lr, tune.search.sample.Float) and (lr.lower, lr.upper) == (1e-5, 1e-3)
    assert isinstance(lr.get_sampler(), tune.search.sample.Float._LogUniform)
    assert isinstance(warmup, tune.search.sample.Integer)
    assert isinstance(score, tune.search.sample.Categorical) and score.categories == ["el2n", "loss"]


def test_int_upper_bound_is_included():
    domain = to_tune_space({"warmup_epochs": {"int": [1, 3]}})["pruning.warmup_epochs"]
    # Tune's randint excludes its upper bound: the space's [1, 3] must become randint(1, 4).
    assert (domain.lower, domain.upper) == (1, 4)
    drawn = set(domain.sample(size=300, random_state=np.random.default_rng(0)))
    assert drawn == {1, 2, 3}


def test_bounds_written_as_strings_or_floats_are_read_as_numbers():
    space = to_tune_space({"warmup_epochs": {"int": [0.0, 2.0]}, "train.lr": {"loguniform": ["1e-5", "1e-3"]}})
    assert (space["pruning.warmup_epochs"].lower, space["pruning.warmup_epochs"].upper) == (0, 3)
    assert (space["train.lr"].lower, space["train.lr"].upper) == (1e-5, 1e-3)


def test_grid_points_cross_every_axis():
    points = grid_points({"warmup_epochs": {"int": [0, 2]}, "keep_fraction": {"uniform": [0.2, 0.6]},
                          "pruning.score": {"choice": ["el2n", "loss"]}})
    assert len(points) == 3 * 3 * 2
    assert {p["pruning.warmup_epochs"] for p in points} == {0, 1, 2}
    assert sorted({round(p["pruning.keep_fraction"], 9) for p in points}) == [0.2, 0.4, 0.6]
    assert {p["pruning.score"] for p in points} == {"el2n", "loss"}
    assert len({tuple(sorted(p.items())) for p in points}) == len(points)  # no repeats


def test_grid_points_steps():
    assert grid_points({"keep_fraction": {"uniform": [0.5, 1.0]}}, steps=2) == [
        {"pruning.keep_fraction": 0.5}, {"pruning.keep_fraction": 1.0}]
    assert grid_points({"keep_fraction": {"uniform": [0.5, 1.0]}}, steps=1) == [{"pruning.keep_fraction": 0.5}]


# ---------------------------------------------------------------- checked when a config loads


@pytest.mark.parametrize("text,key,words", [
    ("search:\n  space: {}\n", "search.space", "is empty"),
    ("search:\n  space:\n    nonsense: {uniform: [0, 1]}\n", "search.space.nonsense", "not a config key"),
    ("search:\n  space:\n    study.name: {choice: [a, b]}\n", "search.space.study.name", "not a config key"),
    ("search:\n  space:\n    keep_fraction: {uniform: [0.5, 1.5]}\n", "search.space.keep_fraction",
     "value 1.5 is invalid: must be in (0, 1]"),
    ("search:\n  space:\n    keep_fraction: {normal: [0.5, 1]}\n", "search.space.keep_fraction", "expected one of"),
    ("search:\n  space:\n    keep_fraction: {uniform: [0.9, 0.5]}\n", "search.space.keep_fraction", "above high"),
    ("search:\n  space:\n    warmup_epochs: {int: [0, 1.5]}\n", "search.space.warmup_epochs", "integer bounds"),
    ("search:\n  space:\n    train.lr: {loguniform: [0, 1]}\n", "search.space.train.lr", "positive bounds"),
    ("search:\n  space:\n    pruning.score: {choice: [el2n, magic]}\n", "search.space.pruning.score",
     "value 'magic' is invalid"),
    ("search:\n  space:\n    pruning.score: {choice: []}\n", "search.space.pruning.score", "non-empty list"),
])
def test_bad_spaces_name_the_space_key(tmp_path, text, key, words):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_config(path)
    assert err.value.problems == [next(line for line in err.value.problems if f"key '{key}'" in line)]
    assert err.value.problems[0].startswith(f"{path}: key '{key}': ") and words in err.value.problems[0]


def test_space_given_as_an_override():
    cfg = load_config(None, ["search.space={keep_fraction: {choice: [0.2, 0.5, 1.0]}}"])
    assert cfg.search.space == {"keep_fraction": {"choice": [0.2, 0.5, 1.0]}}


def test_exponent_bounds_without_a_dot_are_numbers(tmp_path):
    # YAML 1.1 reads 1e-5 as a string: the loaded space holds floats, and it is valid.
    path = _write(tmp_path, "search:\n  space:\n    train.lr: {loguniform: [1e-5, 1e-3]}\n")
    cfg = load_config(path)
    assert cfg.search.space == {"train.lr": {"loguniform": [1e-5, 1e-3]}}
    assert study_problems(cfg, str(path), against_run=True) == []
