"""MTOP reader on files written here in the release's eight-column format."""

import json
import re
from pathlib import Path

import pytest

from raypruning.config import DataConfig
from raypruning.data import mtop
from raypruning.errors import InputError


def line(utterance: str, intent: str, slots: str, tokens=None) -> str:
    """One release line; tokens (default: whitespace words) carry their char spans."""
    if tokens is None:
        tokens = [(m.group(), m.start()) for m in re.finditer(r"\S+", utterance)]
    tok = {"tokens": [t for t, _ in tokens], "tokenSpans": [{"start": s, "length": len(t)} for t, s in tokens]}
    return "\t".join(["1234", intent, slots, utterance, "weather", "en_XX", f"[{intent} ]", json.dumps(tok)])


def span(utterance: str, words: str, name: str) -> str:
    start = utterance.index(words)
    return f"{start}:{start + len(words)}:SL:{name}"


WEATHER = "what is the weather in new york tomorrow"
REMIND = "remind me to call john"
TRAIN = [
    line(WEATHER, "IN:GET_WEATHER", ",".join([span(WEATHER, "new york", "LOCATION"),
                                               span(WEATHER, "tomorrow", "DATE_TIME")])),
    # compositional frame: the nested SL:CONTACT inside SL:TODO is skipped, the outer slot wins
    line(REMIND, "IN:CREATE_REMINDER", ",".join([span(REMIND, "me", "PERSON_REMINDED"),
                                                  span(REMIND, "call john", "TODO"),
                                                  span(REMIND, "john", "CONTACT")])),
    line("hello there", "IN:GREET", ""),
]
EVAL = [line(WEATHER, "IN:GET_WEATHER", span(WEATHER, "new york", "LOCATION"))]


def write(folder: Path, train=TRAIN, eval_=EVAL, test=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in (("train.txt", train), ("eval.txt", eval_), ("test.txt", test)):
        if lines is not None:
            (folder / name).write_text("\n".join(lines) + "\n")
    return folder


def load(path, task=None):
    return mtop.load(DataConfig(format="mtop", path=str(path), task=task))


def tags(task, split, row):
    return [task.slot_labels[i] for i in task.splits[split][row]["slots"]]


def test_release_format_gives_bio_tags(tmp_path):
    task = load(write(tmp_path / "en"))
    assert task.task_name == "mtop-en" and set(task.splits) == {"train", "validation"}
    assert task.splits["train"][0]["words"] == WEATHER.split()
    assert tags(task, "train", 0) == ["O"] * 5 + ["B-LOCATION", "I-LOCATION", "B-DATE_TIME"]
    assert tags(task, "train", 1) == ["O", "B-PERSON_REMINDED", "O", "B-TODO", "I-TODO"]
    assert tags(task, "train", 2) == ["O", "O"]
    assert task.labels == ["IN:CREATE_REMINDER", "IN:GET_WEATHER", "IN:GREET"]
    assert tags(task, "validation", 0) == ["O"] * 5 + ["B-LOCATION", "I-LOCATION", "O"]


def test_parent_folder_with_language_and_test_split(tmp_path):
    write(tmp_path / "de", test=[line("hallo", "IN:GREET", "")])
    task = load(tmp_path, task="de")
    assert task.task_name == "mtop-de" and len(task.splits["test"]) == 1


def test_tokens_differ_from_whitespace(tmp_path):
    utt = "call mom's phone"
    tokens = [("call", 0), ("mom", 5), ("'s", 8), ("phone", 11)]
    train = TRAIN[:1] + [line(utt, "IN:CREATE_CALL", span(utt, "mom", "CONTACT"), tokens)]
    task = load(write(tmp_path / "en", train=train))
    assert task.splits["train"][1]["words"] == ["call", "mom", "'s", "phone"]
    assert tags(task, "train", 1) == ["O", "B-CONTACT", "O", "O"]


@pytest.mark.parametrize("slots, problem", [
    ("x:5:SL:DATE_TIME", "bad slot span 'x:5:SL:DATE_TIME'"),
    ("3:5", "bad slot span '3:5'"),
    ("8:99:SL:DATE_TIME", "outside the utterance"),
    ("5:5:SL:DATE_TIME", "outside the utterance"),
    ("0:7:SL:A,5:11:SL:B", "crosses"),
    ("5:6:SL:A", "covers no token"),
])
def test_bad_span_names_file_and_line(tmp_path, slots, problem):
    train = TRAIN[:1] + [line("hello there world", "IN:GREET", slots)]
    with pytest.raises(InputError, match=rf"train.txt:2: .*{problem}"):
        load(write(tmp_path / "en", train=train))


def test_bad_rows(tmp_path):
    folder = write(tmp_path / "en", eval_=EVAL + ["only\tthree\tcolumns"])
    with pytest.raises(InputError, match=r"eval.txt:2: expected 8 tab-separated columns, got 3"):
        load(folder)
    broken = EVAL[0].rsplit("\t", 1)[0] + "\t{\"tokens\": ["
    with pytest.raises(InputError, match=r"eval.txt:1: tokens column is not"):
        load(write(tmp_path / "en", eval_=[broken]))


def test_missing_and_empty_files(tmp_path):
    folder = write(tmp_path / "en")
    (folder / "eval.txt").unlink()
    with pytest.raises(InputError, match=r"en/eval.txt: no such file"):
        load(folder)
    (folder / "eval.txt").write_text("")
    with pytest.raises(InputError, match=r"en/eval.txt: empty file"):
        load(folder)
