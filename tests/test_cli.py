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
