"""GLUE reader: the real folders in ../shared, small folders made here, and the hub path offline."""

from pathlib import Path

import datasets
import pytest

from raypruning.config import DataConfig
from raypruning.data import glue
from raypruning.data.schema import CLASSIFICATION, REGRESSION
from raypruning.errors import InputError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "glue"

# Sizes and train label counts as stated in each folder's SOURCE.md.
EXPECTED = {
    "SST-2": (67349, 872, {"0": 29780, "1": 37569}, False),
    "CoLA": (8551, 1043, {"1": 6023, "0": 2528}, False),
    "RTE": (2490, 277, {"entailment": 1249, "not_entailment": 1241}, True),
    "MRPC": (3668, 408, {"1": 2474, "0": 1194}, True),
}


@pytest.mark.parametrize("name", EXPECTED)
def test_real_glue_folders(name):
    folder = SHARED / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not available")
    task = glue.load(DataConfig(format="glue", path=str(folder)))
    n_train, n_dev, counts, pair = EXPECTED[name]
    assert task.task_name == name and task.kind == CLASSIFICATION and task.has_pair is pair
    assert {k: len(v) for k, v in task.splits.items()} == {"train": n_train, "validation": n_dev}
    train_labels = task.splits["train"][:]["label"]
    assert {label: train_labels.count(i) for i, label in enumerate(task.labels)} == counts
    assert task.unseen == {}


def test_real_rte_row_starting_with_a_quote():
    folder = SHARED / "RTE"
    if not folder.is_dir():
        pytest.skip(f"{folder} not available")
    row = glue.load(DataConfig(format="glue", path=str(folder))).splits["train"][2164]
    assert row["text"].startswith('"') and row["id"] == 2164


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


STSB_HEADER = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"


def test_stsb_is_regression(tmp_path):
    row = "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane takes off.\tAn air plane is taking off.\t{}\n"
    folder = write(tmp_path / "sts-b", {"train.tsv": STSB_HEADER + row.format("5.000") + row.format("3.8"),
                                         "dev.tsv": STSB_HEADER + row.format("0.5")})
    task = glue.load(DataConfig(format="glue", path=str(folder)))
    assert task.task_name == "STS-B" and task.kind == REGRESSION and task.labels == [] and task.has_pair
    assert task.splits["train"]["label"] == [5.0, 3.8]
    assert task.splits["train"][0]["text_pair"] == "An air plane is taking off."


def test_mnli_dev_matched_and_task_override(tmp_path):
    header = "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\tlabel1\tgold_label\n"
    rows = ["0\t1\t1n\tgov\t-\t-\t-\t-\tA man sleeps.\tA person rests.\tentailment\tentailment\n",
            "1\t2\t2c\tgov\t-\t-\t-\t-\tA man sleeps.\tA man runs.\tcontradiction\tcontradiction\n"]
    folder = write(tmp_path / "my_copy", {"train.tsv": header + "".join(rows), "dev_matched.tsv": header + rows[1]})
    task = glue.load(DataConfig(format="glue", path=str(folder), task="mnli"))
    assert task.task_name == "MNLI" and task.labels == ["entailment", "neutral", "contradiction"]
    assert task.splits["train"]["label"] == [0, 2] and task.splits["validation"]["label"] == [2]
    write(tmp_path / "MNLI", {"train.tsv": header + rows[0], "dev_matched.tsv": header + rows[0]})
    parent = glue.load(DataConfig(format="glue", path=str(tmp_path), task="MNLI"))  # glue_data folder + task
    assert len(parent.splits["train"]) == 1


def test_cola_without_header_and_quotes_kept(tmp_path):
    lines = 'gj04\t1\t\t"Quoted" he said.\ngj04\t0\t*\tHim left.\n'
    folder = write(tmp_path / "cola", {"train.tsv": lines, "dev.tsv": lines.splitlines()[1]})  # no final newline
    task = glue.load(DataConfig(format="glue", path=str(folder)))
    assert task.splits["train"]["text"] == ['"Quoted" he said.', "Him left."]
    assert task.splits["train"]["label"] == [1, 0] and len(task.splits["validation"]) == 1


def test_mrpc_bom_header(tmp_path):
    text = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA \" b .\tA b .\n"
    task = glue.load(DataConfig(format="glue", path=str(write(tmp_path / "MRPC", {"train.tsv": text, "dev.tsv": text}))))
    assert task.splits["train"][0]["text"] == 'A " b .' and task.labels == ["0", "1"]


RTE_HEADER = "index\tsentence1\tsentence2\tlabel\n"


@pytest.mark.parametrize("train, problem", [
    ("index\tsentence1\tsentence2\n0\ta\tb\n", r"RTE/train.tsv:1: missing column 'label'"),
    (RTE_HEADER + "0\ta\tb\tentailment\n1\ta\n", r"RTE/train.tsv:3: expected at least 4 tab-separated columns, got 2"),
    (RTE_HEADER + "0\ta\tb\tmaybe\n", r"RTE/train.tsv:2: label 'maybe' is not one of entailment, not_entailment"),
    ("", r"RTE/train.tsv: empty file"),
    (RTE_HEADER, r"RTE/train.tsv: no rows after the header"),
])
def test_bad_files(tmp_path, train, problem):
    folder = write(tmp_path / "RTE", {"train.tsv": train, "dev.tsv": RTE_HEADER + "0\ta\tb\tentailment\n"})
    with pytest.raises(InputError, match=problem):
        glue.load(DataConfig(format="glue", path=str(folder)))


def test_missing_dev_and_unknown_task(tmp_path):
    folder = write(tmp_path / "RTE", {"train.tsv": RTE_HEADER + "0\ta\tb\tentailment\n"})
    with pytest.raises(InputError, match=r"RTE/dev.tsv: no such file"):
        glue.load(DataConfig(format="glue", path=str(folder)))
    with pytest.raises(InputError, match=r"unknown GLUE task 'squad'"):
        glue.load(DataConfig(format="glue", path=str(folder), task="squad"))


def test_hub_failure_is_an_input_error(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(InputError, match=r"nyu-mll/glue/rte: cannot load from the hub \(Couldn't reach"):
        glue.load(DataConfig(format="glue", name="RTE"))


def test_hub_mapping_offline(monkeypatch):
    names = datasets.ClassLabel(names=["unacceptable", "acceptable"])
    feats = datasets.Features({"sentence": datasets.Value("string"), "label": names, "idx": datasets.Value("int32")})
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"sentence": ["a b", "c"], "label": [1, 0], "idx": [0, 1]}, features=feats),
        "validation": datasets.Dataset.from_dict({"sentence": ["d"], "label": [0], "idx": [0]}, features=feats),
        "test": datasets.Dataset.from_dict({"sentence": ["e"], "label": [-1], "idx": [0]}, features=feats),
    })
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append(a) or dd)
    task = glue.load(DataConfig(format="glue", name="nyu-mll/glue", task="CoLA"))
    assert calls == [("nyu-mll/glue", "cola")]
    assert task.task_name == "CoLA" and task.labels == ["0", "1"] and set(task.splits) == {"train", "validation"}
    assert task.splits["train"]["label"] == [1, 0] and task.splits["train"]["text"] == ["a b", "c"]
