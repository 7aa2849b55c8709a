"""MASSIVE 1.0 (FitzGerald et al. 2022) joint intent + slot data, one JSONL per locale.

Each line is an object with ``partition`` (train/dev/test; dev becomes
"validation"), ``intent``, ``utt`` and ``annot_utt``, where slots sit inline as
``[slot_name : words]``. The words are the whitespace-split ``annot_utt``
with the brackets removed (a bracket also ends a word, which matters for
locales written without spaces) and get word-level BIO tags. They must spell
``utt`` (compared with whitespace removed); an ``annot_utt`` that does not,
or whose brackets are unbalanced, nested or empty, is an error naming the
file and line.

``data.path`` is the locale's ``.jsonl`` file, or a folder holding
``<locale>.jsonl`` (directly or in ``data/``, as in the release) with
``data.task`` the locale (default en-US). Task name: ``massive-<locale>``.
"""

from __future__ import annotations

from pathlib import Path

from raypruning.config import DataConfig
from raypruning.data._io import SPLIT_ALIASES, bad, field, read_jsonl, require_file
from raypruning.data.labels import bio_tags, build_task_data
from raypruning.data.schema import JOINT, TaskData

DEFAULT_LOCALE = "en-US"


def load(data: DataConfig) -> TaskData:
    path = locate(Path(data.path), data.task or DEFAULT_LOCALE)
    raw: dict[str, dict[str, list]] = {}
    for line, row in read_jsonl(path):
        partition = field(path, line, row, "partition")
        if partition not in ("train", "dev", "test"):
            raise bad(path, f"partition {partition!r} is not train, dev or test", line)
        split = SPLIT_ALIASES[partition]
        try:
            words, tags = parse_annotation(field(path, line, row, "annot_utt"))
        except ValueError as exc:
            raise bad(path, f"annot_utt: {exc}", line) from None
        utt = field(path, line, row, "utt")
        if words != utt.split() and "".join(words) != "".join(utt.split()):
            raise bad(path, f"annot_utt words {' '.join(words)!r} do not spell utt {utt!r}", line)
        cols = raw.setdefault(split, {"text": [], "label": [], "words": [], "slots": []})
        cols["text"].append(" ".join(words))
        cols["label"].append(field(path, line, row, "intent"))
        cols["words"].append(words)
        cols["slots"].append(tags)
    for split, partition in (("train", "train"), ("validation", "dev")):
        if split not in raw:
            raise bad(path, f"no rows with partition '{partition}'")
    return build_task_data(JOINT, raw, task_name=f"massive-{path.stem}")


def locate(path: Path, locale: str) -> Path:
    """The locale's file: path itself, or <path>/<locale>.jsonl, or <path>/data/<locale>.jsonl."""
    if path.is_dir():
        candidates = [path / f"{locale}.jsonl", path / "data" / f"{locale}.jsonl"]
        path = next((p for p in candidates if p.is_file()), candidates[0])
    return require_file(path)


def parse_annotation(annot: str) -> tuple[list[str], list[str]]:
    """Words and BIO tags of an ``annot_utt``; ValueError says what is malformed."""
    words: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    while pos < len(annot):
        start, close = annot.find("[", pos), annot.find("]", pos)
        if close != -1 and (start == -1 or close < start):
            raise ValueError(f"']' without '[' at column {close + 1}")
        if start == -1:
            words.extend(annot[pos:].split())
            break
        words.extend(annot[pos:start].split())
        end = annot.find("]", start + 1)
        if end == -1:
            raise ValueError(f"'[' at column {start + 1} is never closed")
        inner = annot[start + 1:end]
        if "[" in inner:
            raise ValueError(f"nested '[' in the slot at column {start + 1}")
        name, colon, value = inner.partition(":")
        name, value_words = name.strip(), value.split()
        if not colon or not name or len(name.split()) != 1:
            raise ValueError(f"slot at column {start + 1} is not '[slot_name : words]'")
        if not value_words:
            raise ValueError(f"slot '{name}' at column {start + 1} has no words")
        spans.append((len(words), len(words) + len(value_words), name))
        words.extend(value_words)
        pos = end + 1
    if not words:
        raise ValueError("no words")
    return words, bio_tags(len(words), spans)
