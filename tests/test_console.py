"""A tidy console: the quickstart prints its own progress lines, not Ray's per-report echoes
or the bytecode disassembly the datasets library's hashing used to leak from every worker."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = ["data.synthetic.num_train=120", "data.synthetic.num_eval=40", "train.epochs=2", "train.max_length=32",
        "search.space={warmup_epochs: {int: [1, 1]}, keep_fraction: {uniform: [0.3, 0.7]}}", "search.num_samples=1"]
NOISE = ("Reporting training result", "LOAD_GLOBAL", "RETURN_VALUE", "Configuration for experiment",
         "A new study created")


def _study(tmp_path: Path, *flags: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "raypruning", *flags, "study", "studies/quickstart.yaml", *TINY,
                           f"study.storage_path={tmp_path}", "study.name=tidy"], cwd=REPO, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.slow  # a study of two Ray Train runs
def test_the_quickstart_console_has_progress_and_no_noise(tmp_path):
    text = _study(tmp_path)
    assert text.count("[study] ") >= 4 and "Pareto front:" in text  # its own lines are there
    found = [needle for needle in NOISE if needle in text]
    assert not found, f"noise on the console: {found}\n{text[-3000:]}"
