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
