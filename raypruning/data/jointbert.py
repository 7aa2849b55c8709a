"""Joint intent + slot data in the JointBERT layout (ATIS, SNIPS).

The folder holds ``train/``, ``dev/`` and optionally ``test/``, each with
three line-aligned files: ``seq.in`` (the words), ``seq.out`` (one BIO tag per
word) and ``label`` (the intent). ``dev`` becomes the "validation" split.
Words come from `str.split` (SNIPS lines end with a space). ATIS multi-intent
labels such as ``atis_flight#atis_airfare`` stay one label of their own. The
vocabularies are built from train (``intent_label.txt`` / ``slot_label.txt``
are ignored: they carry JointBERT's UNK/PAD entries); labels only dev/test
hold are appended and reported in ``unseen`` (see `raypruning.data.labels`).
The task name is the folder's name, lower-cased ("atis").
"""

from __future__ import annotations

from pathlib import Path

from raypruning.config import DataConfig
from raypruning.data._io import bad, read_lines, require_dir
from raypruning.data.labels import build_task_data
from raypruning.data.schema import JOINT, TaskData

FOLDERS = {"train": "train", "validation": "dev", "test": "test"}


def load(data: DataConfig) -> TaskData:
    root = require_dir(Path(data.path))
    raw = {}
    for split, folder in FOLDERS.items():
        if split == "test" and not (root / folder).exists():
            continue
        raw[split] = read_split(require_dir(root / folder))
    return build_task_data(JOINT, raw, task_name=root.resolve().name.lower())


def read_split(folder: Path) -> dict[str, list]:
    """The raw columns of one split folder (seq.in, seq.out, label)."""
    paths = {name: folder / name for name in ("seq.in", "seq.out", "label")}
    lines = {name: read_lines(path) for name, path in paths.items()}
    counts = {name: len(v) for name, v in lines.items()}
    if len(set(counts.values())) > 1:
        longest = max(counts, key=counts.get)
        shortest = min(counts, key=counts.get)
        raise bad(paths[longest], f"no matching line in {shortest} ({longest} has {counts[longest]} lines, "
                                  f"{shortest} has {counts[shortest]})", counts[shortest] + 1)
    cols: dict[str, list] = {"text": [], "label": [], "words": [], "slots": []}
    for i, (seq_in, seq_out, label) in enumerate(zip(lines["seq.in"], lines["seq.out"], lines["label"])):
        words, tags, label = seq_in.split(), seq_out.split(), label.strip()
        if not words:
            raise bad(paths["seq.in"], "empty utterance", i + 1)
        if len(tags) != len(words):
            raise bad(paths["seq.out"], f"{len(tags)} tags for the {len(words)} words of seq.in", i + 1)
        if not label:
            raise bad(paths["label"], "empty intent label", i + 1)
        cols["text"].append(" ".join(words))
        cols["label"].append(label)
        cols["words"].append(words)
        cols["slots"].append(tags)
    return cols
