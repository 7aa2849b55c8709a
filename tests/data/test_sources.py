"""Dispatch on data.format, max_train_examples, and the `raypruning data` summary."""

import json
from pathlib import Path

import pytest

from raypruning.config import DataConfig, SyntheticConfig
from raypruning.data.sources import describe, describe_text, load_task_data
from raypruning.errors import InputError


def jointbert_folder(root: Path) -> Path:
    data = {
        "train": (["fly to new york", "play jazz", "fly home"], ["O O B-city I-city", "O B-genre", "O O"],
                  ["flight", "music", "flight"]),
        "dev": (["play rock now"], ["O B-genre O"], ["music"]),
        "test": (["fly to paris"], ["O O B-city"], ["fare"]),
    }
    for split, columns in data.items():
        (root / split).mkdir(parents=True)
        for name, lines in zip(("seq.in", "seq.out", "label"), columns):
            (root / split / name).write_text("\n".join(lines) + "\n")
    return root


def test_dispatch_and_max_train_examples(tmp_path):
    folder = jointbert_folder(tmp_path / "toy")
    full = load_task_data(DataConfig(format="jointbert", path=str(folder)))
    assert len(full.splits["train"]) == 3
    cut = load_task_data(DataConfig(format="jointbert", path=str(folder), max_train_examples=2))
    assert cut.splits["train"][:]["id"] == [0, 1]
    assert cut.splits["train"][:]["text"] == ["fly to new york", "play jazz"]
    assert len(cut.splits["test"]) == 1 and cut.labels == full.labels


def test_csv_dispatch(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\na,x\nb,y\n")
    (tmp_path / "dev.csv").write_text("text,label\nc,x\n")
    task = load_task_data(DataConfig(format="csv", path=str(tmp_path)))
    assert task.labels == ["x", "y"]


def test_synthetic_dispatch():
    task = load_task_data(DataConfig(format="synthetic", synthetic=SyntheticConfig(num_train=40, num_eval=12),
                                     max_train_examples=30))
    assert len(task.splits["train"]) == 30 and len(task.splits["validation"]) == 12


def test_unknown_format():
    with pytest.raises(InputError, match=r"data.format: 'xml' is not one of"):
        load_task_data(DataConfig(format="xml"))


def test_describe_joint(tmp_path):
    task = load_task_data(DataConfig(format="jointbert", path=str(jointbert_folder(tmp_path / "toy"))))
    d = describe(task, "jointbert")
    assert json.loads(json.dumps(d)) == d
    assert d == {
        "format": "jointbert", "task": "toy", "kind": "joint", "pair": False,
        "splits": {"train": 3, "validation": 1, "test": 1},
        "labels": {"flight": 2, "music": 1, "fare": 0},
        "slot_labels": {"O": 5, "B-city": 1, "I-city": 1, "B-genre": 1},
        "unseen": {"test": {"fare": 1}},
        "lengths": {"train": {"min": 2, "mean": 2.67, "median": 2.0, "max": 4},
                    "validation": {"min": 3, "mean": 3.0, "median": 3.0, "max": 3},
                    "test": {"min": 3, "mean": 3.0, "median": 3.0, "max": 3}},
    }
    text = describe_text(d)
    assert "toy (joint, format jointbert)" in text and "train 3  validation 1  test 1" in text
    assert "test: fare 1" in text and "B-genre" in text


def test_describe_regression_pair(tmp_path):
    (tmp_path / "train.csv").write_text("a,b,s\none two,three,1.5\nfour,five six,3.5\n")
    (tmp_path / "dev.csv").write_text("a,b,s\nx,y,2\n")
    task = load_task_data(DataConfig(format="csv", path=str(tmp_path), text_column="a", text_pair_column="b",
                                     label_column="s", regression=True))
    d = describe(task)
    assert d["kind"] == "regression" and d["pair"] is True and d["labels"] == {} and "slot_labels" not in d
    assert d["target"] == {"min": 1.5, "mean": 2.5, "max": 3.5}
    assert d["lengths"]["train"] == {"min": 3, "mean": 3.0, "median": 3.0, "max": 3}
    assert "splits   train 2  validation 1" in describe_text(d)


def test_describe_real_atis():
    atis = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "atis"
    if not atis.is_dir():
        pytest.skip(f"{atis} not available")
    d = describe(load_task_data(DataConfig(format="jointbert", path=str(atis))), "jointbert")
    assert json.loads(json.dumps(d)) == d
    assert d["splits"] == {"train": 4478, "validation": 500, "test": 893}
    assert d["labels"]["atis_flight"] == 3309 and d["labels"]["atis_day_name"] == 0
    assert d["unseen"]["test"]["atis_day_name"] == 2 and d["slot_labels"]["O"] > 0


def test_eval_split_that_the_data_lacks_is_an_input_error(tmp_path):
    import pytest

    from raypruning.config import load_config
    from raypruning.data.sources import load_task_data
    from raypruning.errors import InputError

    folder = tmp_path / "SST-2"
    folder.mkdir()
    (folder / "train.tsv").write_text("sentence\tlabel\ngood film\t1\nbad film\t0\n")
    (folder / "dev.tsv").write_text("sentence\tlabel\nfine film\t1\n")
    cfg = load_config(None, ["data.format=glue", f"data.path={folder}", "data.eval_split=test"])
    with pytest.raises(InputError, match="data.eval_split"):
        load_task_data(cfg.data)
