"""Config loading, validation and overrides."""

from pathlib import Path

import pytest

from raypruning.config import Config, load_config, parse_overrides
from raypruning.errors import InputError
from raypruning.search_space import space_problems


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
    ("search:\n  space: {}\n", "search.space"),
    ("search:\n  space:\n    nonsense: {uniform: [0, 1]}\n", "search.space.nonsense"),
    ("search:\n  space:\n    keep_fraction: {uniform: [0.5, 1.5]}\n", "search.space.keep_fraction"),
    ("study:\n  objectives: [score, accuracy_per_watt]\n", "study.objectives"),
    ("data:\n  format: parquet\n", "data.path"),
])
def test_bad_values_name_the_key(tmp_path, text, key):
    with pytest.raises(InputError) as err:
        load_config(_write(tmp_path, text))
    assert any(f"'{key}'" in line for line in err.value.problems), err.value.problems


def test_overrides_are_typed_and_dotted(tmp_path):
    cfg = load_config(None, ["pruning.keep_fraction=0.25", "train.epochs=6", "scaling.num_workers=2",
                             "search.space={keep_fraction: {choice: [0.2, 0.5]}}"])
    assert cfg.pruning.keep_fraction == 0.25 and cfg.train.epochs == 6 and cfg.scaling.num_workers == 2
    assert cfg.search.space == {"keep_fraction": {"choice": [0.2, 0.5]}}


def test_exponent_numbers_without_a_dot_are_numbers(tmp_path):
    # YAML 1.1 reads 1e-3 as a string; users write it on the command line and in files.
    assert load_config(None, ["train.lr=1e-3"]).train.lr == 1e-3
    path = _write(tmp_path, "train:\n  lr: 5E-5\nsearch:\n  space:\n    train.lr: {loguniform: [1e-5, 1e-3]}\n")
    cfg = load_config(path)
    assert cfg.train.lr == 5e-5
    assert space_problems(cfg.search.space, cfg) == []
    with pytest.raises(InputError, match="train.lr"):
        load_config(None, ["train.lr=1e-3x"])


def test_format_override_drops_other_format_options(tmp_path):
    path = _write(tmp_path, "data:\n  format: glue\n  path: /x/SST-2\n  task: SST-2\n")
    cfg = load_config(path, ["data.format=jointbert", "data.path=/y/atis"])
    assert cfg.data.format == "jointbert" and cfg.data.path == "/y/atis" and cfg.data.task is None


def test_override_syntax_error():
    with pytest.raises(InputError):
        parse_overrides(["no_equals_sign"])


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = _write(tmp_path, "train:\n  epochs: [1\n")
    with pytest.raises(InputError) as err:
        load_config(path)
    assert str(path) in err.value.problems[0] and "line" in err.value.problems[0]


def test_replace_revalidates():
    cfg = load_config(None)
    assert cfg.replace(**{"pruning.keep_fraction": 0.3}).pruning.keep_fraction == 0.3
    with pytest.raises(InputError):
        cfg.replace(**{"pruning.keep_fraction": 3})
