"""MTOP (Li et al. 2021) joint intent + slot data, one folder per language.

The folder holds ``train.txt``, ``eval.txt`` ("validation") and optionally
``test.txt``: tab separated, no header, eight columns: id, intent (kept as
given, e.g. ``IN:GET_WEATHER``), slots (comma-separated ``start:end:SL:NAME``
character spans of the utterance, end exclusive; empty when none),
utterance, domain, locale, decoupled logical form, and the tokens JSON
(``{"tokens": [...], "tokenSpans": [{"start": s, "length": n}, ...]}``).

The words are the JSON's tokens; a slot tags the tokens whose character span
overlaps its own, ``B-NAME`` on the first and ``I-NAME`` after (the ``SL:``
prefix is dropped). A span nested inside another (compositional frames) is
skipped so the outer slot wins; spans that cross, fall outside the
utterance, or cover no token are errors naming file and line.

``data.path`` is the language folder, or its parent with ``data.task`` the
language ("en"). Task name: ``mtop-<language folder>``.
"""

from __future__ import annotations

import json
from pathlib import Path

from raypruning.config import DataConfig
from raypruning.data._io import bad, read_lines, require_dir
from raypruning.data.labels import bio_tags, build_task_data
from raypruning.data.schema import JOINT, TaskData

FILES = {"train": "train.txt", "validation": "eval.txt", "test": "test.txt"}
NUM_COLUMNS = 8


def load(data: DataConfig) -> TaskData:
    folder = require_dir(Path(data.path))
    if not (folder / FILES["train"]).exists() and data.task:
        folder = require_dir(folder / data.task)
    raw = {split: read_file(folder / name) for split, name in FILES.items()
           if split != "test" or (folder / name).exists()}
    return build_task_data(JOINT, raw, task_name=f"mtop-{folder.resolve().name}")


def read_file(path: Path) -> dict[str, list]:
    cols: dict[str, list] = {"text": [], "label": [], "words": [], "slots": []}
    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split("\t")
        if len(fields) != NUM_COLUMNS:
            raise bad(path, f"expected {NUM_COLUMNS} tab-separated columns, got {len(fields)}", number)
        try:
            words, spans = _tokens(fields[7])
            tags = bio_tags(len(words), _word_spans(fields[2], fields[3], spans))
        except ValueError as exc:
            raise bad(path, str(exc), number) from None
        if not fields[1].strip():
            raise bad(path, "empty intent", number)
        cols["text"].append(" ".join(words))
        cols["label"].append(fields[1].strip())
        cols["words"].append(words)
        cols["slots"].append(tags)
    return cols


def _tokens(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Tokens and their (start, end) character spans from the tokens JSON column."""
    try:
        obj = json.loads(text)
        words, raw_spans = obj["tokens"], obj["tokenSpans"]
        spans = [(int(s["start"]), int(s["start"]) + int(s["length"])) for s in raw_spans]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise ValueError("tokens column is not {\"tokens\": [...], \"tokenSpans\": [{\"start\", \"length\"}]}") from None
    if not words or len(words) != len(spans) or not all(isinstance(w, str) and w.strip() for w in words):
        raise ValueError(f"tokens column: {len(words)} tokens for {len(spans)} token spans (or an empty token)")
    return words, spans


def _word_spans(slots: str, utterance: str, tokens: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Slot character spans -> (first token, end token, name), outermost spans only."""
    chars = []
    for item in filter(None, (s.strip() for s in slots.split(","))):
        start, _, rest = item.partition(":")
        end, _, label = rest.partition(":")
        name = label.removeprefix("SL:")
        if not (start.isdigit() and end.isdigit() and name):
            raise ValueError(f"bad slot span {item!r} (expected start:end:SL:NAME)")
        start, end = int(start), int(end)
        if not start < end <= len(utterance):
            raise ValueError(f"slot span {item!r} is outside the utterance ({len(utterance)} characters)")
        chars.append((start, end, name, item))
    out: list[tuple[int, int, str]] = []
    outer: list[tuple[int, int, str]] = []
    for start, end, name, item in sorted(chars, key=lambda c: (c[0], -c[1])):
        if outer and start < outer[-1][1]:
            if end <= outer[-1][1]:
                continue  # nested inside the previous outer slot
            raise ValueError(f"slot span {item!r} crosses {outer[-1][2]!r}")
        hit = [i for i, (ts, te) in enumerate(tokens) if ts < end and te > start]
        if not hit:
            raise ValueError(f"slot span {item!r} covers no token")
        if out and hit[0] < out[-1][1]:
            raise ValueError(f"slot span {item!r} shares a token with {outer[-1][2]!r}")
        outer.append((start, end, item))
        out.append((hit[0], hit[-1] + 1, name))
    return out
