"""Turn a task's text splits into token ids, and batches of them into tensors.

Encoding keeps the example ``id`` beside the tokens, so every batch says which
examples it holds (the score table is keyed by it). Nothing is padded here:
`collate` pads each batch to its own longest row, and the ``length`` column
lets scoring sort examples by length so those batches waste little padding.

Joint tasks tag words, but the model sees sub-tokens: each word's tag goes on
its first sub-token and every other position gets ``IGNORE_INDEX``, the value
the loss and the slot metrics skip.
"""

from __future__ import annotations

import datasets
import torch

from raypruning.data.schema import JOINT, REGRESSION, TaskData

IGNORE_INDEX = -100  # slot positions without a tag: later sub-tokens, special tokens, padding
_PAD_VALUES = {"attention_mask": 0, "token_type_ids": 0, "slot_labels": IGNORE_INDEX}


def encode_split(
    ds: datasets.Dataset, tokenizer, kind: str, max_length: int, has_pair: bool
) -> datasets.Dataset:
    """Tokenize one split.

    Args:
        ds: a split with the columns of `raypruning.data.schema`.
        tokenizer: a fast tokenizer (joint tasks need ``word_ids()``).
        kind: CLASSIFICATION, REGRESSION or JOINT.
        max_length: tokens per example, specials and both texts of a pair included.
        has_pair: whether ``text_pair`` is a second input.

    Returns:
        A dataset with ``id``, ``input_ids``, ``attention_mask``,
        ``token_type_ids`` (when the tokenizer makes them), ``label`` (int, or
        float for regression), ``length`` (tokens), and for joint tasks
        ``slot_labels`` (one per token) and ``word_count`` (words whose first
        sub-token survived truncation).
    """
    if kind == JOINT and has_pair:
        raise ValueError("joint tasks tag the words of a single text; they cannot have a text pair")

    segments = "token_type_ids" in tokenizer.model_input_names
    options = {"truncation": True, "max_length": max_length, "return_token_type_ids": segments}

    def encode(batch: dict) -> dict:
        if kind == JOINT:
            enc = tokenizer(batch["words"], is_split_into_words=True, **options)
        else:
            enc = tokenizer(batch["text"], batch["text_pair"] if has_pair else None, **options)
        out = {"id": batch["id"], "input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        if segments:
            out["token_type_ids"] = enc["token_type_ids"]
        if kind == REGRESSION:
            out["label"] = [float(x) for x in batch["label"]]
        else:
            out["label"] = [int(x) for x in batch["label"]]
        out["length"] = [len(ids) for ids in enc["input_ids"]]
        if kind == JOINT:
            aligned = [align_slots(enc.word_ids(i), slots) for i, slots in enumerate(batch["slots"])]
            out["slot_labels"] = aligned
            out["word_count"] = [sum(tag != IGNORE_INDEX for tag in tags) for tags in aligned]
        return out

    features = {
        "id": datasets.Value("int64"),
        "input_ids": datasets.List(datasets.Value("int32")),
        "attention_mask": datasets.List(datasets.Value("int8")),
        "label": datasets.Value("float32" if kind == REGRESSION else "int64"),
        "length": datasets.Value("int32"),
    }
    if segments:
        features["token_type_ids"] = datasets.List(datasets.Value("int8"))
    if kind == JOINT:
        features["slot_labels"] = datasets.List(datasets.Value("int64"))
        features["word_count"] = datasets.Value("int32")
    return ds.map(
        encode,
        batched=True,
        remove_columns=ds.column_names,
        features=datasets.Features(features),
        keep_in_memory=True,  # no cache files: several Ray workers may encode the same data at once
        # An explicit fingerprint spares datasets from hashing `encode` with dill, which
        # disassembles it to stdout inside Ray workers.
        new_fingerprint=_fingerprint(ds, tokenizer, kind, max_length, has_pair),
        load_from_cache_file=False,
        desc="tokenize",
    )


def _fingerprint(ds, tokenizer, kind: str, max_length: int, has_pair: bool) -> str:
    import hashlib

    vocab = hashlib.sha256(repr(sorted(tokenizer.get_vocab().items())).encode()).hexdigest()
    key = f"{ds._fingerprint}|{vocab}|{kind}|{max_length}|{has_pair}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def align_slots(word_ids: list[int | None], slots: list[int]) -> list[int]:
    """One slot tag per token: the word's tag on its first sub-token, IGNORE_INDEX elsewhere."""
    tags, previous = [], None
    for wid in word_ids:
        tags.append(slots[wid] if wid is not None and wid != previous else IGNORE_INDEX)
        previous = wid
    return tags


def collate(rows: list[dict], pad_token_id: int, width: int | None = None) -> dict[str, torch.Tensor]:
    """Pad a list of encoded rows to the batch's longest row (or to ``width`` when longer) and stack them.

    Returns ``input_ids``, ``attention_mask`` and, when present,
    ``token_type_ids`` and ``slot_labels`` as ``[B, L]`` int64 tensors
    (padding: pad_token_id, 0, 0, IGNORE_INDEX); ``id`` int64 ``[B]``;
    ``label`` ``[B]`` int64, or float32 for regression; ``word_count`` int64
    ``[B]`` when present.
    """
    width = max([len(row["input_ids"]) for row in rows] + [width or 0])
    batch: dict[str, torch.Tensor] = {}
    for key in ("input_ids", "attention_mask", "token_type_ids", "slot_labels"):
        if key not in rows[0]:
            continue
        pad = pad_token_id if key == "input_ids" else _PAD_VALUES[key]
        out = torch.full((len(rows), width), pad, dtype=torch.long)
        for i, row in enumerate(rows):
            values = torch.as_tensor(row[key], dtype=torch.long)
            out[i, : len(values)] = values
        batch[key] = out
    batch["id"] = torch.as_tensor([int(row["id"]) for row in rows], dtype=torch.long)
    values = [row["label"] for row in rows]
    labels = torch.stack(values) if isinstance(values[0], torch.Tensor) else torch.as_tensor(values)
    batch["label"] = labels.float() if labels.is_floating_point() else labels.long()
    if "word_count" in rows[0]:
        batch["word_count"] = torch.as_tensor([int(row["word_count"]) for row in rows], dtype=torch.long)
    return batch


def encode_task(task: TaskData, tokenizer, max_length: int) -> dict[str, datasets.Dataset]:
    """Encode every split of a task (same keys as ``task.splits``)."""
    return {
        name: encode_split(split, tokenizer, task.kind, max_length, task.has_pair)
        for name, split in task.splits.items()
    }
