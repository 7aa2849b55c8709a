"""JointBERT layout reader: the real ATIS/SNIPS copies and small folders made here."""

from pathlib import Path

import pytest

from raypruning.config import DataConfig
from raypruning.data import jointbert
from raypruning.data.schema import JOINT
from raypruning.errors import InputError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"{path} not available")
    return path


def write_split(root: Path, split: str, seq_in: list[str], seq_out: list[str], labels: list[str]) -> None:
    folder = root / split
    folder.mkdir(parents=True)
    for name, lines in (("seq.in", seq_in), ("seq.out", seq_out), ("label", labels)):
        (folder / name).write_text("".join(line + "\n" for line in lines))


@pytest.fixture
def tiny(tmp_path) -> Path:
    root = tmp_path / "Tiny"
    write_split(root, "train", ["fly to boston ", "play jazz"], ["O O B-city", "O B-genre"], ["flight", "music"])
    write_split(root, "dev", ["fly to new york"], ["O O B-city I-city"], ["flight#fare"])
    return root


def load(path) -> object:
    return jointbert.load(DataConfig(format="jointbert", path=str(path)))


def test_atis_sizes_and_unseen_labels():
    task = load(shared("atis"))
    assert task.kind == JOINT and task.task_name == "atis"
    assert {k: len(v) for k, v in task.splits.items()} == {"train": 4478, "validation": 500, "test": 893}
    assert task.slot_labels[0] == "O"
    assert "atis_flight#atis_airfare" in task.labels  # multi-intent labels are labels of their own
    assert task.unseen["test"]["atis_day_name"] == 2
    assert "slot:I-return_date.day_number" in task.unseen["validation"]
    train_labels = set(task.splits["train"][:]["label"])
    # labels absent from train come after every train label
    assert task.labels.index("atis_day_name") >= len(train_labels)
    assert task.splits["test"]["id"][:3] == [0, 1, 2]


def test_snips_sizes():
    task = load(shared("snips"))
    assert {k: len(v) for k, v in task.splits.items()} == {"train": 13084, "validation": 700, "test": 700}
    assert task.unseen == {}


def test_tiny_folder_round_trip(tiny):
    task = load(tiny)
    assert task.task_name == "tiny" and set(task.splits) == {"train", "validation"}
    assert task.labels == ["flight", "music", "flight#fare"]
    assert task.slot_labels == ["O", "B-city", "B-genre", "I-city"]
    row = task.splits["train"][0]
    assert row["text"] == "fly to boston" and row["words"] == ["fly", "to", "boston"]
    assert [task.slot_labels[i] for i in row["slots"]] == ["O", "O", "B-city"]
    dev = task.splits["validation"][0]
    assert [task.slot_labels[i] for i in dev["slots"]] == ["O", "O", "B-city", "I-city"]
    assert task.unseen == {"validation": {"flight#fare": 1, "slot:I-city": 1}}


def test_mismatched_line_counts(tiny):
    (tiny / "train" / "label").write_text("flight\nmusic\nextra\n")
    with pytest.raises(InputError, match=r"train/label:3: no matching line in seq.in"):
        load(tiny)


def test_tag_count_differs_from_word_count(tiny):
    (tiny / "dev" / "seq.out").write_text("O O B-city\n")
    with pytest.raises(InputError, match=r"dev/seq.out:1: 3 tags for the 4 words"):
        load(tiny)


def test_empty_file(tiny):
    (tiny / "dev" / "label").write_text("")
    with pytest.raises(InputError, match=r"dev/label: empty file"):
        load(tiny)


def test_missing_split_and_file(tiny, tmp_path):
    (tiny / "train" / "seq.out").unlink()
    with pytest.raises(InputError, match=r"train/seq.out: no such file"):
        load(tiny)
    with pytest.raises(InputError, match=r"nowhere/dev: no such folder"):
        write_split(tmp_path / "nowhere", "train", ["a"], ["O"], ["x"])
        load(tmp_path / "nowhere")


def test_empty_utterance_line(tiny):
    (tiny / "train" / "seq.in").write_text("fly to boston\n  \n")
    with pytest.raises(InputError, match=r"train/seq.in:2: empty utterance"):
        load(tiny)
