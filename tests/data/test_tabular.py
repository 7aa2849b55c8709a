"""csv / jsonl / parquet folders and saved hub datasets, mapped by the DataConfig columns."""

import json
from pathlib import Path

import datasets
import pandas as pd
import pytest

from raypruning.config import DataConfig
from raypruning.data import hub, tabular
from raypruning.data.schema import CLASSIFICATION, JOINT, REGRESSION
from raypruning.errors import InputError


def write_csv(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


PAIRS = 'q,a,y\n"is it, really",yes,10\nwhy,because,2\n'


def test_csv_pair_task_with_numeric_labels(tmp_path):
    folder = write_csv(tmp_path / "qa", {"train.csv": PAIRS, "dev.csv": "q,a,y\nhow,so,2\n",
                                         "test.csv": "q,a,y\nwho,me,3\n"})
    cfg = DataConfig(format="csv", path=str(folder), text_column="q", text_pair_column="a", label_column="y")
    task = tabular.load(cfg)
    assert task.kind == CLASSIFICATION and task.has_pair and task.task_name == "qa"
    assert task.labels == ["2", "10", "3"]  # numeric order, the test-only label appended
    assert task.unseen == {"test": {"3": 1}}
    assert task.splits["train"][0] == {"id": 0, "text": "is it, really", "text_pair": "yes", "label": 1}
    # a file given as path stands for its folder
    assert len(tabular.load(DataConfig(format="csv", path=str(folder / "train.csv"), text_column="q",
                                       text_pair_column="a", label_column="y")).splits["test"]) == 1


def test_unlabeled_test_file_is_skipped(tmp_path):
    folder = write_csv(tmp_path / "t", {"train.tsv": "text\tlabel\na b\tx\n", "validation.tsv": "text\tlabel\nc\tx\n",
                                        "test.tsv": "text\nd\n"})
    task = tabular.load(DataConfig(format="csv", path=str(folder)))
    assert set(task.splits) == {"train", "validation"} and task.splits["train"][0]["text"] == "a b"


def test_jsonl_joint_task(tmp_path):
    rows = [{"utt": "fly to new york", "intent": "flight", "tags": "O O B-city I-city"},
            {"utt": "play jazz", "intent": "music", "tags": ["O", "B-genre"]}]
    write_jsonl(tmp_path / "j" / "train.jsonl", rows)
    write_jsonl(tmp_path / "j" / "eval.jsonl", rows[1:])
    cfg = DataConfig(format="jsonl", path=str(tmp_path / "j"), text_column="utt", label_column="intent",
                     slots_column="tags")
    task = tabular.load(cfg)
    assert task.kind == JOINT and task.slot_labels == ["O", "B-city", "I-city", "B-genre"]
    assert task.splits["train"][0]["words"] == ["fly", "to", "new", "york"]
    assert task.splits["validation"][0]["slots"] == [0, 3]


def test_parquet_regression(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    pd.DataFrame({"s": ["a", "b"], "score": [0.5, 4]}).to_parquet(folder / "train.parquet")
    pd.DataFrame({"s": ["c"], "score": [1.25]}).to_parquet(folder / "validation.parquet")
    task = tabular.load(DataConfig(format="parquet", path=str(folder), text_column="s", label_column="score",
                                   regression=True))
    assert task.kind == REGRESSION and task.labels == [] and task.splits["train"][:]["label"] == [0.5, 4.0]


@pytest.mark.parametrize("train, problem", [
    ("text,tag\na,x\n", r"train.csv: missing column 'label' \(set data.label_column\)"),
    ("text,label\na,x\n,y\n", r"train.csv:3: missing value for column 'text'"),
    ("text,label\na,x\nb\n", r"train.csv:3: missing value for column 'label'"),
    ("", r"train.csv: empty file"),
    ("text,label\n", r"train.csv: no rows"),
])
def test_bad_csv(tmp_path, train, problem):
    folder = write_csv(tmp_path / "c", {"train.csv": train, "dev.csv": "text,label\nb,x\n"})
    with pytest.raises(InputError, match=problem):
        tabular.load(DataConfig(format="csv", path=str(folder)))


def test_bad_jsonl_rows(tmp_path):
    folder = tmp_path / "j"
    write_jsonl(folder / "validation.jsonl", [{"text": "a b", "label": "x", "slots": "O O"}])
    write_jsonl(folder / "train.jsonl", [{"text": "a b", "label": "x", "slots": "O O"},
                                         {"text": "a b c", "label": "x", "slots": "O O"}])
    cfg = DataConfig(format="jsonl", path=str(folder), slots_column="slots")
    with pytest.raises(InputError, match=r"train.jsonl:2: 2 slot tags for 3 words"):
        tabular.load(cfg)
    write_jsonl(folder / "train.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": "x"}])
    with pytest.raises(InputError, match=r"train.jsonl: missing column 'score'"):
        tabular.load(DataConfig(format="jsonl", path=str(folder), label_column="score", regression=True))
    write_jsonl(folder / "train.jsonl", [{"text": "a", "label": "x"}, {"text": "b"}])
    with pytest.raises(InputError, match=r"train.jsonl:2: missing value for column 'label'"):
        tabular.load(DataConfig(format="jsonl", path=str(folder)))
    write_jsonl(folder / "train.jsonl", [{"text": "a", "label": "high"}])
    write_jsonl(folder / "validation.jsonl", [{"text": "a", "label": 1}])
    with pytest.raises(InputError, match=r"train.jsonl:1: label 'high' in column 'label' is not a number"):
        tabular.load(DataConfig(format="jsonl", path=str(folder), regression=True))


def test_missing_and_ambiguous_split_files(tmp_path):
    folder = write_csv(tmp_path / "c", {"train.csv": "text,label\na,x\n"})
    with pytest.raises(InputError, match=r"c/validation.csv: no such file \(the validation split\)"):
        tabular.load(DataConfig(format="csv", path=str(folder)))
    write_csv(folder, {"dev.csv": "text,label\na,x\n", "eval.csv": "text,label\na,x\n"})
    with pytest.raises(InputError, match=r"several validation files \(dev.csv, eval.csv\)"):
        tabular.load(DataConfig(format="csv", path=str(folder)))
    with pytest.raises(InputError, match=r"format 'parquet' expects a .parquet file"):
        tabular.load(DataConfig(format="parquet", path=str(folder / "dev.csv")))


def test_saved_dataset_dict(tmp_path):
    label = datasets.ClassLabel(names=["neg", "pos"])
    feats = datasets.Features({"sentence": datasets.Value("string"), "label": label})
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"sentence": ["good", "bad", "fine"], "label": [1, 0, 1]}, features=feats),
        "dev": datasets.Dataset.from_dict({"sentence": ["ok"], "label": [1]}, features=feats),
        "test": datasets.Dataset.from_dict({"sentence": ["?"], "label": [-1]}, features=feats),
        "unsupervised": datasets.Dataset.from_dict({"sentence": ["x"], "label": [-1]}, features=feats),
    })
    dd.save_to_disk(str(tmp_path / "saved"))
    task = hub.load(DataConfig(format="hf", path=str(tmp_path / "saved"), text_column="sentence"))
    assert task.task_name == "saved" and set(task.splits) == {"train", "validation"}
    assert task.labels == ["neg", "pos"] and task.splits["train"][:]["label"] == [1, 0, 1]
    assert task.splits["validation"][0] == {"id": 0, "text": "ok", "label": 1}


def test_saved_dataset_problems(tmp_path):
    single = datasets.Dataset.from_dict({"text": ["a"], "label": ["x"]})
    single.save_to_disk(str(tmp_path / "single"))
    with pytest.raises(InputError, match=r"single: a single Dataset"):
        hub.load(DataConfig(format="hf", path=str(tmp_path / "single")))
    datasets.DatasetDict({"train": single}).save_to_disk(str(tmp_path / "no_val"))
    with pytest.raises(InputError, match=r"no_val: no validation split \(has: train\)"):
        hub.load(DataConfig(format="hf", path=str(tmp_path / "no_val")))
    datasets.DatasetDict({"train": single, "validation": single}).save_to_disk(str(tmp_path / "ok"))
    with pytest.raises(InputError, match=r"ok\[train\]: missing column 'sentence' \(set data.text_column\)"):
        hub.load(DataConfig(format="hf", path=str(tmp_path / "ok"), text_column="sentence"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match=r"plain: not a dataset saved with save_to_disk"):
        hub.load(DataConfig(format="hf", path=str(tmp_path / "plain")))


def test_hub_failure_is_an_input_error(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'someone/data' on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(InputError, match=r"someone/data/en: cannot load from the hub \(Couldn't reach"):
        hub.load(DataConfig(format="hf", name="someone/data", task="en"))
