"""Dynamic data pruning in a plain PyTorch training loop, with raypruning.DataDiet and no Ray.

Run (offline, under a minute on a CPU):

    python examples/datadiet_plain_loop.py
    python examples/datadiet_plain_loop.py --epochs 6 --keep-fraction 0.3 --period 2

It finetunes the tiny random BERT on the built-in synthetic sentence task:
tau warmup epochs on every example, then before every T-th epoch a scoring
pass (eval mode, every example) and training on the fraction f with the
highest EL2N. It prints the examples each epoch trained, their total against
full-data training, and the validation accuracy.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import datasets
import torch
from torch.utils.data import DataLoader

from raypruning.config import DataConfig, ModelConfig, SyntheticConfig
from raypruning.data.encode import collate, encode_task
from raypruning.data.sources import load_task_data
from raypruning.datadiet import DataDiet
from raypruning.models import build_model, load_tokenizer
from raypruning.scoring import training_loss


@dataclass
class LoopResult:
    diet: DataDiet
    seen: list[list[int]] = field(default_factory=list)  # example ids the model trained on, per epoch
    accuracy: float = 0.0  # validation accuracy after the last epoch, 0-1
    full_data_examples: int = 0  # what training every example every epoch would have cost


def load_data(num_train: int, max_length: int = 32):
    """The synthetic sentence task, its tiny tokenizer, and the encoded splits (row i holds id i)."""
    datasets.disable_progress_bars()
    task = load_task_data(DataConfig(format="synthetic", synthetic=SyntheticConfig(task="sentence", num_train=num_train)))
    model_cfg = ModelConfig(name="tiny", hidden_size=64, tiny_layers=2)
    tokenizer = load_tokenizer(model_cfg, task.splits["train"]["text"])
    encoded = encode_task(task, tokenizer, max_length)
    return task, model_cfg, tokenizer, encoded


def train(num_train: int = 1200, epochs: int = 4, keep_fraction: float = 0.4, warmup_epochs: int = 1,
          period_epochs: int = 1, batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
          log=print) -> LoopResult:
    """Train with a DataDiet and return what the model saw each epoch."""
    task, model_cfg, tokenizer, encoded = load_data(num_train)
    train_rows = encoded["train"].to_list()  # row i is example id i
    eval_rows = encoded["validation"].to_list()
    pad = tokenizer.pad_token_id

    def batches(rows, **kwargs):
        return DataLoader(rows, batch_size=batch_size, collate_fn=lambda b: collate(b, pad), **kwargs)

    model = build_model(model_cfg, task.kind, task.num_labels, vocab_size=len(tokenizer), seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    diet = DataDiet(len(train_rows), epochs=epochs, keep_fraction=keep_fraction, warmup_epochs=warmup_epochs,
                    period_epochs=period_epochs, mode="dynamic", score="el2n", seed=seed)

    def forward(batch):  # what a scoring pass needs from one batch: ids, logits, labels
        out = model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
        return batch["id"], out["logits"], batch["label"]

    result = LoopResult(diet=diet, full_data_examples=len(train_rows) * epochs)
    for epoch in range(epochs):
        if diet.needs_scores(epoch):  # the paper: re-score every example, in eval mode, before the event
            diet.score_pass(forward, batches(train_rows), model=model)
        seen: list[int] = []
        model.train()
        for batch in batches(train_rows, sampler=diet.sampler(epoch)):  # this epoch's kept ids, shuffled
            out = model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
            loss = training_loss(out, batch, task.kind)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen.extend(batch["id"].tolist())
        result.seen.append(seen)
        log(f"epoch {epoch + 1}/{epochs}: trained {len(seen)} of {len(train_rows)} examples"
            f"{'  (pruning event)' if diet.is_event(epoch) else ''}, last loss {loss.item():.3f}")

    model.eval()
    right = 0
    with torch.inference_mode():
        for batch in batches(eval_rows):
            out = model(batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
            right += int((out["logits"].argmax(-1) == batch["label"]).sum())
    result.accuracy = right / len(eval_rows)
    return result


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
    result = train(args.num_train, args.epochs, args.keep_fraction, args.warmup, args.period, seed=args.seed)
    trained = sum(len(s) for s in result.seen)
    print(f"examples trained: {trained} of {result.full_data_examples} for full data "
          f"({trained / result.full_data_examples:.0%}; the schedule says {result.diet.work_fraction():.0%})")
    print(f"validation accuracy {result.accuracy:.1%}, {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
