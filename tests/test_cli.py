"""The command line: validation, data description, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from raypruning.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_every_shipped_study_validates():
    files = sorted(str(p) for p in (REPO / "studies").glob("*.yaml"))
    assert files
    assert main(["validate", *files]) == 0


def test_every_study_file_opens_with_its_command():
    for path in (REPO / "studies").glob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# raypruning study studies/"), path


def test_validate_reports_three_problems(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pruning:\n  keep_fraction: 1.5\n  mystery: 1\ntrain:\n  lr: fast\n")
    assert main(["validate", str(bad)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(str(bad) in line for line in lines)


def test_console_script_exit_code_for_bad_arguments():
    proc = subprocess.run([sys.executable, "-m", "raypruning", "best"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1


def test_data_json_synthetic(capsys):
    assert main(["data", str(REPO / "studies/quickstart.yaml"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splits"] == {"train": 1200, "validation": 300, "test": 300}
    assert info["format"] == "synthetic"


@pytest.mark.parametrize("name,sizes", [
    ("atis", {"train": 4478, "validation": 500, "test": 893}),
    ("snips", {"train": 13084, "validation": 700, "test": 700}),
])
def test_data_json_jointbert(shared_data, capsys, name, sizes):
    assert main(["data", str(REPO / "studies/quickstart.yaml"), "data.format=jointbert",
                 f"data.path={shared_data / name}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["splits"] == sizes


@pytest.mark.parametrize("task,sizes", [
    ("SST-2", {"train": 67349, "validation": 872}), ("CoLA", {"train": 8551, "validation": 1043}),
    ("RTE", {"train": 2490, "validation": 277}), ("MRPC", {"train": 3668, "validation": 408}),
])
def test_data_json_glue(shared_data, capsys, task, sizes):
    assert main(["data", str(REPO / "studies/quickstart.yaml"), "data.format=glue",
                 f"data.path={shared_data / 'glue' / task}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["splits"] == sizes


def test_data_missing_folder_exit_2(tmp_path, capsys):
    assert main(["data", str(REPO / "studies/quickstart.yaml"), "data.format=jointbert",
                 f"data.path={tmp_path / 'nowhere'}"]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_data_json_reports_the_sample_and_the_splits_in_use(tmp_path, capsys):
    rows = [f"{label} row {i},{label}" for label, n in (("a", 60), ("b", 30), ("c", 10)) for i in range(n)]
    (tmp_path / "train.csv").write_text("text,label\n" + "\n".join(rows) + "\n")  # grouped by label
    (tmp_path / "dev.csv").write_text("text,label\nx,a\ny,b\n")
    assert main(["data", str(REPO / "studies/quickstart.yaml"), "data.format=csv", f"data.path={tmp_path}",
                 "data.max_train_examples=20", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["labels"] == {"a": 12, "b": 6, "c": 2} and info["splits"]["train"] == 20
    assert info["sampled_from"] == 100 and info["eval_split"] == "validation" and info["test_split"] is None
    assert main(["data", str(REPO / "studies/quickstart.yaml"), "data.format=csv", f"data.path={tmp_path}",
                 "data.max_train_examples=20"]) == 0
    assert "train sampled from 100 rows" in capsys.readouterr().out


def test_data_glue_with_a_carved_validation_split_tests_on_dev(shared_data, capsys):
    assert main(["data", str(REPO / "studies/quickstart.yaml"), "data.format=glue",
                 f"data.path={shared_data / 'glue' / 'RTE'}", "data.validation_fraction=0.1", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splits"] == {"train": 2241, "validation": 249, "test": 277}
    assert info["eval_split"] == "validation" and info["test_split"] == "test"


def test_data_missing_test_split_exit_2(tmp_path, capsys):
    (tmp_path / "train.csv").write_text("text,label\na,x\nb,y\n")
    (tmp_path / "dev.csv").write_text("text,label\nc,x\n")
    assert main(["data", str(REPO / "studies/quickstart.yaml"), "data.format=csv", f"data.path={tmp_path}",
                 "data.test_split=test"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "data.test_split" in err and "train, validation" in err


@pytest.mark.parametrize("override,key", [("data.validation_fraction=1.0", "data.validation_fraction"),
                                          ("data.test_split=train", "data.test_split"),
                                          ("data.sample_seed=-1", "data.sample_seed")])
def test_bad_data_keys_exit_2(override, key, capsys):
    assert main(["data", str(REPO / "studies/quickstart.yaml"), override]) == 2
    assert f"'{key}'" in capsys.readouterr().err


def test_data_piped_into_head_ends_quietly():
    proc = subprocess.run(f"{sys.executable} -m raypruning data studies/quickstart.yaml --json | head -1",
                          shell=True, cwd=REPO, capture_output=True, text=True)
    assert proc.stdout == "{\n" and proc.stderr == ""


# ---------------------------------------------------------------- bad input: exit 2, one line, before Ray


QUICKSTART = str(REPO / "studies/quickstart.yaml")


@pytest.fixture
def offline(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def _refused(argv, capsys, *words) -> str:
    """Run the CLI: exit 2, one error line holding every word, no Ray started."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), err
    ray = sys.modules.get("ray")
    assert ray is None or not ray.is_initialized()
    return lines[0]


@pytest.mark.parametrize("command", ["train", "study"])
@pytest.mark.parametrize("override,words", [
    ("study.objectives=[[a]]", ["key 'study.objectives'", "['a'] is not reported by a run"]),
    ("study.objectives=[score]", ["key 'study.objectives'", "[score, T]"]),
    ("study.name=..", ["key 'study.name'", "'..'"]),
    ("study.name=a/b", ["key 'study.name'", "'a/b'"]),
    ("model.num_layers=3", ["key 'model.num_layers'", "3 is more than the 2 layers of 'tiny'"]),
    ("model.name=./no-such-model-folder", ["key 'model.name'", "no such folder './no-such-model-folder'"]),
    ("model.name=no-such-org/no-such-model", ["key 'model.name'", "the model hub is offline (HF_HUB_OFFLINE=1)"]),
])
def test_bad_values_fail_before_ray_and_leave_nothing(tmp_path, capsys, offline, command, override, words):
    results = tmp_path / "results"
    _refused([command, QUICKSTART, override, f"study.storage_path={results}"], capsys, QUICKSTART, *words)
    assert not results.exists()


def test_submit_refuses_a_bad_study_before_contacting_the_cluster(capsys):
    # Port 9 answers nothing: a line about the objectives proves the config was checked first.
    _refused(["submit", QUICKSTART, "study.objectives=[score]", "--address", "http://127.0.0.1:9"], capsys,
             "key 'study.objectives'")
    _refused(["submit", QUICKSTART, "model.num_layers=5", "--address", "http://127.0.0.1:9"], capsys,
             "key 'model.num_layers'")


def test_validate_checks_the_model(tmp_path, capsys):
    path = tmp_path / "deep.yaml"
    path.write_text("model:\n  name: tiny\n  tiny_layers: 2\n  num_layers: 4\n")
    _refused(["validate", str(path)], capsys, str(path), "key 'model.num_layers'")


def test_train_output_that_is_a_file_is_refused(tmp_path, capsys):
    existing = tmp_path / "run.txt"
    existing.write_text("keep me")
    _refused(["train", QUICKSTART, "--output", str(existing)], capsys, "--output", "is an existing file")
    _refused(["train", QUICKSTART, "--output", str(existing / "sub")], capsys, "--output", "lies inside the file")
    assert existing.read_text() == "keep me" and sorted(tmp_path.iterdir()) == [existing]


@pytest.mark.parametrize("argv,words", [
    (["best", "x", "--max-drop", "-1"], ["--max-drop", "must be >= 0"]),
    (["best", "x", "--time-budget", "-5"], ["--time-budget", "must be > 0"]),
    (["best", "x", "--time-budget", "0"], ["--time-budget", "must be > 0"]),
    (["best", "x", "--max-drop", "nan"], ["--max-drop", "expected a number"]),
    (["pareto", "x", "--plot", "front.txt"], ["--plot", "'front.txt'", ".png"]),
    (["pareto", "x", "--plot", "no-such-folder/front.png"], ["--plot", "no such folder"]),
])
def test_query_arguments_are_checked_before_the_study_is_read(capsys, argv, words):
    # The study "x" does not exist either: the line must be about the argument.
    _refused(argv, capsys, f"raypruning {argv[0]}", *words)


def test_a_config_that_is_not_utf8_is_one_line(tmp_path, capsys):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("train:\n  epochs: 3\n# r\u00e9sum\u00e9\n".encode("latin-1"))
    _refused(["validate", str(path)], capsys, f"{path}: line 3: not UTF-8")


def test_a_csv_with_an_unclosed_quote_names_file_and_line(tmp_path, capsys):
    folder = tmp_path / "qa"
    folder.mkdir()
    (folder / "train.csv").write_text('text,label\nfine,a\n"never closed,b\nmore,a\n')
    (folder / "dev.csv").write_text("text,label\nok,a\n")
    _refused(["data", QUICKSTART, "data.format=csv", f"data.path={folder}"], capsys,
             f"{folder / 'train.csv'}:3: not valid CSV", "never closes")
    # a long file: the csv module's field limit is hit before the end
    (folder / "train.csv").write_text('text,label\nfine,a\n"never closed,b\n' + "more,a\n" * 30000)
    _refused(["data", QUICKSTART, "data.format=csv", f"data.path={folder}"], capsys,
             f"{folder / 'train.csv'}:3: not valid CSV", "never closes")


def test_version_names_the_package(capsys):
    import raypruning

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"raypruning {raypruning.__version__}"


def test_overrides_after_flags_are_applied(capsys):
    assert main(["data", QUICKSTART, "--json", "data.synthetic.num_train=50"]) == 0
    assert json.loads(capsys.readouterr().out)["splits"]["train"] == 50


def test_a_stray_argument_is_still_refused(capsys):
    _refused(["data", QUICKSTART, "--json", "--colour"], capsys, "unrecognized arguments: --colour")
    _refused(["best", "x", "a=b"], capsys, "unrecognized arguments: a=b")


def test_submit_reads_the_address_from_ray_address(monkeypatch, capsys):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    _refused(["submit", QUICKSTART], capsys, "--address", "RAY_ADDRESS")
    monkeypatch.setenv("RAY_ADDRESS", "http://127.0.0.1:9")  # nothing listens on port 9
    assert "127.0.0.1:9" in _refused(["submit", QUICKSTART, "--follow", "train.epochs=5"], capsys)


def test_an_unreachable_ray_address_is_one_line_within_seconds(capsys):
    import time

    start = time.monotonic()
    _refused(["train", QUICKSTART, "--address", "127.0.0.1:1"], capsys, "--address 127.0.0.1:1",
             "no Ray cluster answers there")
    assert time.monotonic() - start < 30


def test_a_study_at_an_unreachable_ray_address_is_one_line(tmp_path, capsys):
    results = tmp_path / "results"
    _refused(["study", QUICKSTART, f"study.storage_path={results}", "--address", "127.0.0.1:2"], capsys,
             "--address 127.0.0.1:2", "no Ray cluster answers there")
    assert not results.exists()


@pytest.mark.slow  # counts the CPUs of the session's local Ray instance (2, conftest.py)
def test_more_workers_than_the_local_cluster_holds_are_refused(ray_local, tmp_path, capsys):
    _refused_after_ray(["train", QUICKSTART, "scaling.num_workers=64", "--output", str(tmp_path / "run")],
                       capsys, "key 'scaling.num_workers'", "64 worker(s) need 64 CPU")
    assert not (tmp_path / "run").exists()


def _refused_after_ray(argv, capsys, *words) -> None:
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), lines


# A command that starts Ray and then meets bad input: the line must end the console, so Ray
# is shut down (its workers' last words dropped) before it is printed.
STARTS_RAY_THEN_FAILS = """
import sys, types
import ray
from raypruning import cli
from raypruning.errors import InputError

def func(args):
    ray.init(num_cpus=1, include_dashboard=False)

    @ray.remote
    def loud():
        print("Traceback (most recent call last): a worker's last words", file=sys.stderr, flush=True)

    ray.get(loud.remote())
    raise InputError("the disk filled up")

cli.parse = lambda argv: types.SimpleNamespace(verbose=False, func=func)
code = cli.main([])
print("ray up after:", ray.is_initialized())
sys.exit(code)
"""


@pytest.mark.slow  # starts a Ray instance in a subprocess
def test_bad_input_after_ray_started_shuts_it_down_before_the_one_line():
    result = subprocess.run([sys.executable, "-c", STARTS_RAY_THEN_FAILS], capture_output=True, text=True,
                            timeout=180, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.rstrip().splitlines()[-1] == "error: the disk filled up", result.stderr[-2000:]
    assert "ray up after: False" in result.stdout


@pytest.mark.slow  # uses the session's Ray instance
def test_bad_input_leaves_the_callers_own_ray_session_running(ray_local, tmp_path, capsys):
    assert main(["study", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    assert ray_local.is_initialized()
