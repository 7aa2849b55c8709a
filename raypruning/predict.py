"""Load an exported model folder and predict with it (``raypruning predict DIR TEXT...``).

`load_model` reads any folder `raypruning.export.export_run` wrote:
classification and regression folders through
``AutoModelForSequenceClassification``, joint intent + slot folders as the
encoder (``AutoModel``) plus ``heads.safetensors`` in a
`raypruning.models.TextClassifier`. `ExportedModel.predict` returns one dict
per text: ``label`` and ``probability`` (classification), ``value``
(regression), or ``intent``, ``probability`` and ``slots`` as word/tag pairs
(joint; a text is split into words at whitespace, as the training data was).
Pair tasks take the two texts separated by a tab.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from raypruning.data.schema import JOINT, REGRESSION
from raypruning.errors import InputError
from raypruning.export import FORMAT_VERSION, HEADS_FILE, META_FILE

PAIR_SEPARATOR = "\t"


@dataclass
class ExportedModel:
    model: nn.Module  # a transformers sequence classifier, or a TextClassifier (joint)
    tokenizer: object
    kind: str
    labels: list[str]
    slot_labels: list[str]
    has_pair: bool
    max_length: int

    def outputs(self, texts: list[str]):
        """The tokenized batch and ``{"logits", "slot_logits" (joint)}`` for texts, without gradients."""
        options = {"padding": True, "truncation": True, "max_length": self.max_length, "return_tensors": "pt"}
        if self.kind == JOINT:
            enc = self.tokenizer([t.split() for t in texts], is_split_into_words=True, **options)
        elif self.has_pair:
            pairs = [_split_pair(t) for t in texts]
            enc = self.tokenizer([a for a, _ in pairs], [b for _, b in pairs], **options)
        else:
            enc = self.tokenizer(list(texts), **options)
        with torch.inference_mode():
            if self.kind == JOINT:
                out = self.model(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"))
            else:
                out = {"logits": self.model(**enc).logits}
        return enc, out

    def predict(self, texts: list[str], batch_size: int = 64) -> list[dict]:
        """One prediction dict per text (see the module docstring)."""
        results: list[dict] = []
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start: start + batch_size])
            enc, out = self.outputs(chunk)
            logits = out["logits"].float()
            for i, text in enumerate(chunk):
                row: dict = {"text": text}
                if self.kind == REGRESSION:
                    row["value"] = float(logits[i].reshape(-1)[0])
                    results.append(row)
                    continue
                probs = logits[i].softmax(-1)
                best = int(probs.argmax())
                row["intent" if self.kind == JOINT else "label"] = self.labels[best]
                row["probability"] = float(probs[best])
                if self.kind == JOINT:
                    row["slots"] = _word_tags(text.split(), enc.word_ids(i), out["slot_logits"][i], self.slot_labels)
                results.append(row)
        return results


def _split_pair(text: str) -> tuple[str, str]:
    if PAIR_SEPARATOR not in text:
        raise InputError(f"this model reads text pairs: separate the two texts with a tab ({text[:40]!r})")
    first, second = text.split(PAIR_SEPARATOR, 1)
    return first, second


def _word_tags(words: list[str], word_ids: list[int | None], slot_logits: torch.Tensor, tags: list[str]) -> list[dict]:
    """Each word's tag from its first sub-token (the position training tagged); None when truncated away."""
    first: dict[int, int] = {}
    for position, word in enumerate(word_ids):
        if word is not None and word not in first:
            first[word] = position
    best = slot_logits.argmax(-1).tolist()
    return [{"word": w, "tag": tags[best[first[j]]] if j in first else None} for j, w in enumerate(words)]


def load_model(path: str | Path) -> ExportedModel:
    """Load a folder written by ``raypruning export`` (any task kind), in eval mode on the CPU."""
    from transformers import AutoTokenizer

    folder = Path(path)
    meta_file = folder / META_FILE
    if not meta_file.is_file():
        raise InputError(f"{folder}: no {META_FILE} (is it a folder written by `raypruning export`?)")
    meta = json.loads(meta_file.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{meta_file}: format version {meta.get('format_version')!r}, this raypruning reads "
                         f"{FORMAT_VERSION}")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if meta["kind"] == JOINT:
        model = _load_joint(folder, meta)
    else:
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(folder)
    return ExportedModel(model.eval(), tokenizer, meta["kind"], meta["labels"], meta["slot_labels"],
                         meta["has_pair"], meta["max_length"])


def _load_joint(folder: Path, meta: dict) -> nn.Module:
    from safetensors.torch import load_file
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    from raypruning.models import TextClassifier

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the exported encoder has no pooler; its absence is expected
    try:
        with torch.random.fork_rng(devices=[]):  # the unused pooler's random init leaves the caller's RNG alone
            encoder = AutoModel.from_pretrained(folder)
    finally:
        hf_logging.set_verbosity(verbosity)
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None  # raypruning's encoders have none (see models._pretrained_encoder)
    model = TextClassifier(encoder, JOINT, len(meta["labels"]), len(meta["slot_labels"]), meta["dropout"])
    missing, unexpected = model.load_state_dict(load_file(str(folder / HEADS_FILE)), strict=False)
    if unexpected or any(not key.startswith("encoder.") for key in missing):
        raise InputError(f"{folder / HEADS_FILE}: the heads do not fit (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    return model


def predict_command(folder: str, texts: list[str], as_json: bool) -> int:
    """`raypruning predict`: texts from the arguments, or one per line from stdin."""
    if not texts:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise InputError("predict: no text given (pass TEXT arguments or lines on stdin)")
    model = load_model(folder)
    results = model.predict(texts)
    if as_json:
        print(json.dumps(results, indent=2))
        return 0
    for row in results:
        if "value" in row:
            print(f"{row['value']:.4g}\t{row['text']}")
        elif "slots" in row:
            words = " ".join(f"{s['word']}/{s['tag'] or '?'}" for s in row["slots"])
            print(f"{row['intent']}\t{row['probability']:.3f}\t{words}")
        else:
            print(f"{row['label']}\t{row['probability']:.3f}\t{row['text']}")
    return 0
