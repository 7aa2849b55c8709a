"""Dispatch on data.format; the training sample, the validation carve and the test split; the summary."""

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
    # one flight row and the only music row, in file order, renumbered
    assert cut.splits["train"][:]["id"] == [0, 1]
    order = full.splits["train"][:]["text"]
    kept = cut.splits["train"][:]["text"]
    assert "play jazz" in kept and kept == sorted(kept, key=order.index)
    assert sorted(cut.splits["train"][:]["label"]) == sorted([cut.labels.index("flight"), cut.labels.index("music")])
    assert len(cut.splits["test"]) == 1 and cut.labels == full.labels and cut.sampled_from == 3


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
        "sampled_from": 3, "eval_split": "validation", "test_split": "test",
        "labels": {"flight": 2, "music": 1, "fare": 0},
        "slot_labels": {"O": 5, "B-city": 1, "I-city": 1, "B-genre": 1},
        "unseen": {"test": {"fare": 1}},
        "lengths": {"train": {"min": 2, "mean": 2.67, "median": 2.0, "max": 4},
                    "validation": {"min": 3, "mean": 3.0, "median": 3.0, "max": 3},
                    "test": {"min": 3, "mean": 3.0, "median": 3.0, "max": 3}},
    }
    text = describe_text(d)
    assert "toy (joint, format jointbert)" in text and "train 3  validation 1  test 1" in text
    assert "eval on validation, test on test" in text and "sampled" not in text
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


# ---------------------------------------------------------------- sample, carve, test split


def sorted_csv(root: Path, counts=(60, 30, 10), test: bool = False) -> Path:
    """train.csv with its rows grouped by label (a, then b, then c), unique texts; dev.csv; maybe test.csv."""
    root.mkdir(parents=True, exist_ok=True)
    rows = [f"{label} row {i},{label}" for label, n in zip("abc", counts) for i in range(n)]
    (root / "train.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    (root / "dev.csv").write_text("text,label\ndev a,a\ndev b,b\ndev c,c\n")
    if test:
        (root / "test.csv").write_text("text,label\ntest a,a\ntest c,c\n")
    return root


def label_counts(task, split="train") -> dict[str, int]:
    labels = task.splits[split][:]["label"]
    return {name: labels.count(i) for i, name in enumerate(task.labels)}


def texts(task, split="train") -> list[str]:
    return task.splits[split][:]["text"]


def test_sample_of_a_file_sorted_by_label_keeps_every_label_in_proportion(tmp_path):
    folder = sorted_csv(tmp_path / "sorted")
    task = load_task_data(DataConfig(format="csv", path=str(folder), max_train_examples=20))
    assert label_counts(task) == {"a": 12, "b": 6, "c": 2}
    assert task.splits["train"][:]["id"] == list(range(20)) and task.sampled_from == 100
    rows = [int(t.split()[-1]) + {"a": 0, "b": 60, "c": 90}[t[0]] for t in texts(task)]
    assert rows == sorted(rows)  # the file's order is kept
    again = load_task_data(DataConfig(format="csv", path=str(folder), max_train_examples=20))
    other = load_task_data(DataConfig(format="csv", path=str(folder), max_train_examples=20, sample_seed=1))
    assert texts(again) == texts(task) and texts(other) != texts(task)
    assert label_counts(other) == {"a": 12, "b": 6, "c": 2}
    assert len(task.splits["validation"]) == 3  # evaluation splits are never sampled


def test_regression_sample_takes_every_target_decile(tmp_path):
    rows = "\n".join(f"r{i},{i}" for i in range(100))  # sorted by target
    (tmp_path / "train.csv").write_text("text,y\n" + rows + "\n")
    (tmp_path / "dev.csv").write_text("text,y\nd,1.5\n")
    task = load_task_data(DataConfig(format="csv", path=str(tmp_path), label_column="y", regression=True,
                                     max_train_examples=10))
    assert [int(y) // 10 for y in task.splits["train"][:]["label"]] == list(range(10))


def test_validation_carve_is_stratified_disjoint_and_the_dev_file_becomes_test(tmp_path):
    folder = sorted_csv(tmp_path / "sorted")
    task = load_task_data(DataConfig(format="csv", path=str(folder), validation_fraction=0.2))
    assert {k: len(v) for k, v in task.splits.items()} == {"train": 80, "validation": 20, "test": 3}
    assert label_counts(task, "validation") == {"a": 12, "b": 6, "c": 2}
    assert label_counts(task) == {"a": 48, "b": 24, "c": 8}
    assert not set(texts(task)) & set(texts(task, "validation"))
    assert texts(task, "test") == ["dev a", "dev b", "dev c"]
    assert task.splits["validation"][:]["id"] == list(range(20)) and task.test_split == "test"
    other = load_task_data(DataConfig(format="csv", path=str(folder), validation_fraction=0.2, sample_seed=1))
    assert texts(other, "validation") != texts(task, "validation")


def test_carve_comes_before_the_sample(tmp_path):
    folder = sorted_csv(tmp_path / "sorted")
    carved = load_task_data(DataConfig(format="csv", path=str(folder), validation_fraction=0.2))
    both = load_task_data(DataConfig(format="csv", path=str(folder), validation_fraction=0.2,
                                     max_train_examples=10))
    assert texts(both, "validation") == texts(carved, "validation")  # does not shrink with the sample
    assert label_counts(both) == {"a": 6, "b": 3, "c": 1} and both.sampled_from == 80
    assert set(texts(both)) <= set(texts(carved))


def test_carve_with_a_test_file_drops_the_dev_file(tmp_path):
    folder = sorted_csv(tmp_path / "sorted", test=True)
    task = load_task_data(DataConfig(format="csv", path=str(folder), validation_fraction=0.1))
    assert {k: len(v) for k, v in task.splits.items()} == {"train": 90, "validation": 10, "test": 2}
    assert texts(task, "test") == ["test a", "test c"]


def test_carve_that_would_empty_a_label_is_an_input_error(tmp_path):
    folder = sorted_csv(tmp_path / "tiny", counts=(2, 1, 1))
    with pytest.raises(InputError, match=r"key 'data.validation_fraction': 0.5 of the 4 train rows .* between 1 and 1"):
        load_task_data(DataConfig(format="csv", path=str(folder), validation_fraction=0.5))
    with pytest.raises(InputError, match="data.validation_fraction"):
        load_task_data(DataConfig(format="csv", path=str(folder), validation_fraction=0.1))  # 0 rows


def test_glue_dev_becomes_test_only_when_a_validation_split_is_carved(tmp_path):
    folder = tmp_path / "SST-2"
    folder.mkdir()
    rows = "".join(f"film {i}\t{i % 2}\n" for i in range(40))
    (folder / "train.tsv").write_text("sentence\tlabel\n" + rows)
    (folder / "dev.tsv").write_text("sentence\tlabel\nfine film\t1\nbad film\t0\n")
    plain = load_task_data(DataConfig(format="glue", path=str(folder)))
    assert {k: len(v) for k, v in plain.splits.items()} == {"train": 40, "validation": 2}
    assert plain.test_split is None
    carved = load_task_data(DataConfig(format="glue", path=str(folder), validation_fraction=0.25))
    assert {k: len(v) for k, v in carved.splits.items()} == {"train": 30, "validation": 10, "test": 2}
    assert texts(carved, "test") == ["fine film", "bad film"] and carved.test_split == "test"
    assert label_counts(carved, "validation") == {"0": 5, "1": 5}


def test_unseen_labels_of_the_dev_file_follow_it_to_test(tmp_path):
    folder = sorted_csv(tmp_path / "sorted")
    (folder / "dev.csv").write_text("text,label\ndev a,a\ndev d,d\n")
    task = load_task_data(DataConfig(format="csv", path=str(folder), validation_fraction=0.2))
    assert task.unseen == {"test": {"d": 1}}


@pytest.mark.parametrize("has_test,eval_split,wanted,expected", [
    (True, "validation", "auto", "test"),
    (False, "validation", "auto", None),
    (True, "test", "auto", None),  # selecting on test: no separate test evaluation
    (True, "validation", None, None),
    (True, "validation", "test", "test"),
    (True, "test", "validation", "validation"),
])
def test_test_split_resolution(tmp_path, has_test, eval_split, wanted, expected):
    folder = sorted_csv(tmp_path / "d", test=has_test)
    task = load_task_data(DataConfig(format="csv", path=str(folder), eval_split=eval_split, test_split=wanted))
    assert task.test_split == expected and task.eval_split == eval_split


def test_explicit_test_split_must_exist(tmp_path):
    folder = sorted_csv(tmp_path / "d")
    with pytest.raises(InputError, match=r"key 'data.test_split': .* no 'test' split \(it has train, validation\)"):
        load_task_data(DataConfig(format="csv", path=str(folder), test_split="test"))


def test_explicit_test_split_must_not_be_the_eval_split(tmp_path):
    folder = sorted_csv(tmp_path / "d", test=True)
    with pytest.raises(InputError, match="key 'data.test_split': .*selection must not use the test split"):
        load_task_data(DataConfig(format="csv", path=str(folder), eval_split="test", test_split="test"))


@pytest.mark.parametrize("name", ["atis", "snips"])
def test_real_sample_keeps_intents_in_proportion(shared_data, name):
    folder = shared_data / name
    if not folder.is_dir():
        pytest.skip(f"no {name} folder")
    full = load_task_data(DataConfig(format="jointbert", path=str(folder)))
    task = load_task_data(DataConfig(format="jointbert", path=str(folder), max_train_examples=500))
    n = len(full.splits["train"])
    before, after = label_counts(full), label_counts(task)
    assert sum(after.values()) == 500 and task.sampled_from == n
    assert {k for k, v in after.items() if v} == {k for k, v in before.items() if v}  # 500 >= intents
    for label, count in before.items():
        assert abs(after[label] - 500 * count / n) < 2, label
