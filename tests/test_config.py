"""Config loading, typing and overrides (value checks: test_validate.py; search spaces: test_search_space.py)."""

from pathlib import Path

import pytest

from raypruning.config import Config, load_config, with_absolute_data_path
from raypruning.errors import InputError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def test_defaults_are_valid():
    cfg = load_config(None)
    assert isinstance(cfg, Config)
    assert cfg.pruning.keep_fraction == 0.5


def test_three_problems_three_lines(tmp_path):
    path = _write(tmp_path, "pruning:\n  keep_fraction: 1.5\n  colour: red\ntrain:\n  epochs: many\n")
    with pytest.raises(InputError) as err:
        load_config(path)
    lines = err.value.problems
    assert len(lines) == 3, lines
    assert all(str(path) in line for line in lines)
    joined = "\n".join(lines)
    assert "pruning.colour" in joined and "train.epochs" in joined and "pruning.keep_fraction" in joined


@pytest.mark.parametrize("text,key", [
    ("pruning:\n  warmup_epochs: 5\ntrain:\n  epochs: 3\n", "pruning.warmup_epochs"),
    ("pruning:\n  score: magic\n", "pruning.score"),
    ("train:\n  epochs: -1\n", "train.epochs"),
    ("pruning:\n  keep_fraction: 0\n", "pruning.keep_fraction"),
    ("study:\n  objectives: [score, accuracy_per_watt]\n", "study.objectives"),
    ("data:\n  format: parquet\n", "data.path"),
])
def test_bad_values_name_the_key(tmp_path, text, key):
    with pytest.raises(InputError) as err:
        load_config(_write(tmp_path, text))
    assert any(f"'{key}'" in line for line in err.value.problems), err.value.problems


def test_overrides_are_typed_and_dotted(tmp_path):
    cfg = load_config(None, ["pruning.keep_fraction=0.25", "train.epochs=6", "scaling.num_workers=2"])
    assert cfg.pruning.keep_fraction == 0.25 and cfg.train.epochs == 6 and cfg.scaling.num_workers == 2


def test_exponent_numbers_without_a_dot_are_numbers(tmp_path):
    # YAML 1.1 reads 1e-3 as a string; users write it on the command line and in files.
    assert load_config(None, ["train.lr=1e-3"]).train.lr == 1e-3
    assert load_config(_write(tmp_path, "train:\n  lr: 5E-5\n")).train.lr == 5e-5
    with pytest.raises(InputError, match="train.lr"):
        load_config(None, ["train.lr=1e-3x"])


def test_a_mistyped_key_is_reported_once(tmp_path):
    # data.path holds its default (None) after its type check fails: the value check
    # "format 'csv' needs a path" would be about the same key, and is dropped.
    path = _write(tmp_path, "data:\n  format: csv\n  path: 5\ntrain:\n  batch_size: 0\npruning: 5\n")
    with pytest.raises(InputError) as err:
        load_config(path)
    assert err.value.problems == [
        f"{path}: key 'data.path': expected a string or null, got 5",
        f"{path}: key 'pruning': expected a mapping, got 5",
        f"{path}: key 'train.batch_size': must be >= 1, got 0",
    ]


def test_share_warmup_is_on_by_default_and_takes_only_true_or_false(tmp_path):
    assert load_config(None).study.share_warmup is True
    assert load_config(None, ["study.share_warmup=false"]).study.share_warmup is False
    for value in ("1", "sometimes"):
        with pytest.raises(InputError) as err:
            load_config(_write(tmp_path, f"study:\n  share_warmup: {value}\n"))
        assert len(err.value.problems) == 1
        assert "study.share_warmup" in err.value.problems[0] and "true or false" in err.value.problems[0]


def test_early_stop_is_off_by_default_and_its_keys_are_checked(tmp_path):
    cfg = load_config(None)
    assert cfg.study.early_stop is False and cfg.study.early_stop_margin == 15.0
    on = load_config(None, ["study.early_stop=true", "study.early_stop_margin=0.5", "study.seeds=2"])
    assert on.study.early_stop is True and on.study.early_stop_margin == 0.5 and on.study.seeds == 2
    for text, key, needle in [("early_stop: sometimes", "study.early_stop", "true or false"),
                              ("early_stop_margin: 0", "study.early_stop_margin", "> 0"),
                              ("early_stop_margin: -1.5", "study.early_stop_margin", "> 0"),
                              ("early_stop_margin: lots", "study.early_stop_margin", "number")]:
        with pytest.raises(InputError) as err:
            load_config(_write(tmp_path, f"study:\n  {text}\n"))
        assert len(err.value.problems) == 1, text
        assert key in err.value.problems[0] and needle in err.value.problems[0], text


def test_early_stop_of_a_config_built_in_python_is_checked_too():
    import dataclasses

    from raypruning.validate import study_problems

    cfg = load_config(None)
    for change, key in [({"early_stop": "yes"}, "study.early_stop"),
                        ({"early_stop_margin": float("inf")}, "study.early_stop_margin"),
                        ({"early_stop_margin": True}, "study.early_stop_margin")]:
        bad = dataclasses.replace(cfg, study=dataclasses.replace(cfg.study, **change))
        assert [p.key for p in study_problems(bad)] == [key], change


def test_share_warmup_of_a_config_built_in_python_is_checked_too():
    import dataclasses

    from raypruning.validate import study_problems

    cfg = load_config(None)
    bad = dataclasses.replace(cfg, study=dataclasses.replace(cfg.study, share_warmup="yes"))
    problems = study_problems(bad)
    assert [p.key for p in problems] == ["study.share_warmup"] and "true or false" in problems[0].message


def test_a_relative_data_path_is_made_absolute_for_the_workers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    made = with_absolute_data_path(load_config(None, ["data.format=jointbert", "data.path=data/atis"]))
    assert made.data.path == str(tmp_path / "data" / "atis")
    for kept in (str(tmp_path / "atis"), "s3://bucket/atis"):
        cfg = load_config(None, ["data.format=jointbert", f"data.path={kept}"])
        assert with_absolute_data_path(cfg).data.path == kept
    assert with_absolute_data_path(load_config(None, [])).data.path is None  # synthetic: no path
