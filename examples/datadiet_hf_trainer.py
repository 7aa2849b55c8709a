"""Dynamic data pruning with a Hugging Face Trainer, through raypruning's DataDietCallback.

Run (offline, under a minute on a CPU):

    python examples/datadiet_hf_trainer.py
    python examples/datadiet_hf_trainer.py --epochs 6 --keep-fraction 0.3 --period 2

A tiny random BertForSequenceClassification learns the built-in synthetic
sentence task with a stock ``Trainer``: tau warmup epochs on every example,
then at every T-th epoch the callback re-scores all examples (EL2N, eval mode)
and the Trainer trains only the top fraction f. It prints the examples each
epoch trained, their total against full data, and the validation accuracy.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass

import datasets
import numpy as np
import torch
from transformers import (BertConfig, BertForSequenceClassification, DataCollatorWithPadding, Trainer,
                          TrainingArguments)

from raypruning.config import DataConfig, SyntheticConfig
from raypruning.data.sources import load_task_data
from raypruning.datadiet import DataDiet
from raypruning.hf_callback import DataDietCallback
from raypruning.models import train_tiny_tokenizer


@dataclass
class Prepared:
    train: datasets.Dataset  # id, input_ids, token_type_ids, attention_mask, label
    validation: datasets.Dataset
    tokenizer: object
    model: BertForSequenceClassification
    labels: list[str]


def prepare(num_train: int = 1200, seed: int = 0, max_length: int = 32) -> Prepared:
    """The synthetic sentence task tokenized for a tiny random BERT classifier."""
    datasets.disable_progress_bars()
    task = load_task_data(DataConfig(format="synthetic", synthetic=SyntheticConfig(task="sentence", num_train=num_train)))
    tokenizer = train_tiny_tokenizer(task.splits["train"]["text"])

    def tokenized(split: datasets.Dataset) -> datasets.Dataset:
        columns = split[:]  # plain lists
        enc = tokenizer(columns["text"], truncation=True, max_length=max_length)
        return datasets.Dataset.from_dict({"id": columns["id"], **enc, "label": columns["label"]})

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=256, max_position_embeddings=128, num_labels=task.num_labels,
                        id2label=dict(enumerate(task.labels)), label2id={n: i for i, n in enumerate(task.labels)})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertForSequenceClassification(config)
    return Prepared(tokenized(task.splits["train"]), tokenized(task.splits["validation"]), tokenizer, model,
                    task.labels)


def training_args(output_dir: str, epochs: int, seed: int, **overrides) -> TrainingArguments:
    options = dict(output_dir=output_dir, num_train_epochs=epochs, per_device_train_batch_size=32,
                   per_device_eval_batch_size=128, learning_rate=2e-3, lr_scheduler_type="constant", seed=seed,
                   save_strategy="no", eval_strategy="no", logging_strategy="no", report_to="none",
                   disable_tqdm=True, use_cpu=True, dataloader_pin_memory=False)
    return TrainingArguments(**(options | overrides))


def train(num_train: int = 1200, epochs: int = 4, keep_fraction: float = 0.4, warmup_epochs: int = 1,
          period_epochs: int = 1, seed: int = 0):
    """Train with the callback; returns (callback, validation accuracy 0-1)."""
    data = prepare(num_train, seed)
    collator = DataCollatorWithPadding(data.tokenizer)
    diet = DataDiet(len(data.train), epochs=epochs, keep_fraction=keep_fraction, warmup_epochs=warmup_epochs,
                    period_epochs=period_epochs, seed=seed)
    callback = DataDietCallback(diet, data.train, data_collator=collator)
    with tempfile.TemporaryDirectory() as output_dir:
        trainer = Trainer(model=data.model, args=training_args(output_dir, epochs, seed),
                          train_dataset=callback.train_dataset, data_collator=collator, callbacks=[callback])
        trainer.train()
        predictions = trainer.predict(data.validation.remove_columns("id"))
    accuracy = float(np.mean(predictions.predictions.argmax(-1) == predictions.label_ids))
    return callback, accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-train", type=int, default=1200, help="synthetic training examples")
    parser.add_argument("--epochs", type=int, default=4, help="epoch budget E")
    parser.add_argument("--warmup", type=int, default=1, help="full-data warmup epochs tau")
    parser.add_argument("--period", type=int, default=1, help="epochs per subset T")
    parser.add_argument("--keep-fraction", type=float, default=0.4, help="share kept after each event f")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    callback, accuracy = train(args.num_train, args.epochs, args.keep_fraction, args.warmup, args.period, args.seed)
    n = callback.diet.num_examples
    for h in callback.history:
        event = f"  (pruning event, scoring {h['scoring_time_s']:.1f} s)" if h["event"] else ""
        print(f"epoch {h['epoch'] + 1}/{args.epochs}: trained {h['kept']} of {n} examples{event}")
    full = n * args.epochs
    print(f"examples trained: {callback.examples_trained} of {full} for full data "
          f"({callback.examples_trained / full:.0%})")
    print(f"validation accuracy {accuracy:.1%}, {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
