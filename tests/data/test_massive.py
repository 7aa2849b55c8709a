"""MASSIVE JSONL reader on files written here in the release's format."""

import json
from pathlib import Path

import pytest

from raypruning.config import DataConfig
from raypruning.data import massive
from raypruning.errors import InputError

ROWS = [
    ("train", "alarm_set", "wake me up at five am this week",
     "wake me up at [time : five am] [date : this week]"),
    ("train", "weather_query", "what's the weather in new york", "what's the weather in [place_name : new york]"),
    ("train", "alarm_set", "set an alarm", "set an alarm"),
    ("dev", "weather_query", "is it raining at 5:30 pm", "is it raining at [time : 5:30 pm]"),
    ("test", "music_play", "play queen", "play [artist_name : queen]"),
]


def write(path: Path, rows=ROWS, locale="en-US") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": str(i), "locale": locale, "partition": p, "scenario": intent.split("_")[0],
                         "intent": intent, "utt": utt, "annot_utt": annot, "worker_id": "7"})
             for i, (p, intent, utt, annot) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def load(path, task=None):
    return massive.load(DataConfig(format="massive", path=str(path), task=task))


def tags(task, split, row):
    return [task.slot_labels[i] for i in task.splits[split][row]["slots"]]


def test_round_trip_to_bio(tmp_path):
    task = load(write(tmp_path / "en-US.jsonl"))
    assert task.task_name == "massive-en-US"
    assert {k: len(v) for k, v in task.splits.items()} == {"train": 3, "validation": 1, "test": 1}
    first = task.splits["train"][0]
    assert first["words"] == "wake me up at five am this week".split()
    assert tags(task, "train", 0) == ["O", "O", "O", "O", "B-time", "I-time", "B-date", "I-date"]
    assert tags(task, "train", 1) == ["O", "O", "O", "O", "B-place_name", "I-place_name"]
    assert tags(task, "train", 2) == ["O", "O", "O"]
    assert tags(task, "validation", 0) == ["O", "O", "O", "O", "B-time", "I-time"]  # ':' inside a value
    assert task.labels[:2] == ["alarm_set", "weather_query"]
    assert task.unseen == {"test": {"music_play": 1, "slot:B-artist_name": 1}}


def test_folder_with_locale(tmp_path):
    write(tmp_path / "data" / "fr-FR.jsonl", locale="fr-FR")
    assert load(tmp_path, task="fr-FR").task_name == "massive-fr-FR"
    write(tmp_path / "en-US.jsonl")
    assert load(tmp_path).task_name == "massive-en-US"  # default locale
    with pytest.raises(InputError, match=r"de-DE.jsonl: no such file"):
        load(tmp_path, task="de-DE")


def test_bracket_beside_text_splits_words(tmp_path):
    rows = ROWS[:1] + [("train", "qa", "明天的天气", "[date : 明天]的天气"), ROWS[3]]
    task = load(write(tmp_path / "zh-CN.jsonl", rows))
    assert task.splits["train"][1]["words"] == ["明天", "的天气"]
    assert tags(task, "train", 1) == ["B-date", "O"]


@pytest.mark.parametrize("annot, problem", [
    ("play [artist_name : queen", "never closed"),
    ("play artist_name : queen]", r"'\]' without '\['"),
    ("play [artist_name : [x : queen]]", "nested"),
    ("play [artist_name : ]", "has no words"),
    ("play [queen]", "is not '\\[slot_name : words\\]'"),
])
def test_malformed_annotation_names_file_and_line(tmp_path, annot, problem):
    rows = ROWS[:2] + [("train", "music_play", "play queen", annot)] + ROWS[3:]
    path = write(tmp_path / "en-US.jsonl", rows)
    with pytest.raises(InputError, match=rf"en-US.jsonl:3: annot_utt: .*{problem}"):
        load(path)


def test_words_must_spell_utt(tmp_path):
    rows = ROWS[:1] + [("train", "music_play", "play queen now", "play [artist_name : queen]")] + ROWS[3:]
    with pytest.raises(InputError, match=r"en-US.jsonl:2: annot_utt words 'play queen' do not spell utt"):
        load(write(tmp_path / "en-US.jsonl", rows))


def test_bad_lines(tmp_path):
    path = write(tmp_path / "en-US.jsonl")
    text = path.read_text().splitlines()
    path.write_text("\n".join(text[:2] + ["{not json"] + text[3:]))
    with pytest.raises(InputError, match=r"en-US.jsonl:3: not valid JSON"):
        load(path)
    row = json.loads(text[1])
    del row["intent"]
    path.write_text("\n".join([text[0], json.dumps(row)] + text[2:]))
    with pytest.raises(InputError, match=r"en-US.jsonl:2: missing field 'intent'"):
        load(path)
    path.write_text("\n".join([text[0], text[1].replace('"train"', '"validation"')] + text[2:]))
    with pytest.raises(InputError, match=r"en-US.jsonl:2: partition 'validation' is not train, dev or test"):
        load(path)


def test_missing_dev_partition_and_empty_file(tmp_path):
    with pytest.raises(InputError, match=r"en-US.jsonl: no rows with partition 'dev'"):
        load(write(tmp_path / "en-US.jsonl", [r for r in ROWS if r[0] != "dev"]))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match=r"empty.jsonl: empty file"):
        load(tmp_path / "empty.jsonl")
