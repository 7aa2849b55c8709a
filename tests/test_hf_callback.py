"""DataDietCallback: a stock transformers Trainer trains exactly the kept examples each epoch."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback

from raypruning.datadiet import DataDiet
from raypruning.hf_callback import DataDietCallback, DataDietDataset

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def example():
    name = "datadiet_hf_trainer"
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


class RecordingCollator:
    """Pads a batch and records the example ids in it: what the model is about to see."""

    def __init__(self, collator):
        self.collator = collator
        self.epochs: list[list[int]] = []

    def __call__(self, rows):
        self.epochs[-1].extend(int(row["id"]) for row in rows)
        return self.collator([{k: v for k, v in row.items() if k != "id"} for row in rows])


class EpochMarks(TrainerCallback):
    def __init__(self, recorder: RecordingCollator):
        self.recorder = recorder

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.recorder.epochs.append([])


def _trainer(example, tmp_path, data, diet, batch_size=16, dataset=None, **args):
    collator = DataCollatorWithPadding(data.tokenizer)
    callback = DataDietCallback(diet, data.train, data_collator=collator)
    recorder = RecordingCollator(collator)
    trainer = Trainer(
        model=data.model,
        args=example.training_args(str(tmp_path), diet.settings.epochs, seed=0, per_device_train_batch_size=batch_size,
                                   remove_unused_columns=False, **args),  # the recorder strips the id itself
        train_dataset=callback.train_dataset if dataset is None else dataset,
        data_collator=recorder,
        callbacks=[callback, EpochMarks(recorder)],
    )
    return trainer, callback, recorder


def test_trainer_trains_exactly_the_kept_ids(example, tmp_path):
    data = example.prepare(num_train=160, seed=0)
    diet = DataDiet(len(data.train), epochs=4, keep_fraction=0.3, warmup_epochs=1, period_epochs=2, seed=0)
    trainer, callback, recorder = _trainer(example, tmp_path, data, diet)
    trainer.train()

    assert len(recorder.epochs) == 4
    for epoch, seen in enumerate(recorder.epochs):
        assert len(seen) == len(set(seen))  # every kept example once, nothing else
        assert sorted(seen) == diet.kept_ids(epoch).tolist()
    counts = [len(s) for s in recorder.epochs]
    assert counts == diet.examples_per_epoch() == [160, 48, 48, 48]
    assert sum(counts) == callback.examples_trained < 160 * 4
    assert trainer.state.global_step == sum(math.ceil(k / 16) for k in counts)
    assert [h["event"] for h in callback.history] == [False, True, False, True]
    assert recorder.epochs[1] != recorder.epochs[2]  # the Trainer's sampler reshuffles each epoch
    # The last subset is the top 30% of the table the callback's scoring pass filled.
    assert not np.isnan(diet.scores).any()
    kept = np.zeros(len(data.train), dtype=bool)
    kept[diet.kept_ids(3)] = True
    assert diet.scores[kept].min() >= diet.scores[~kept].max()


def test_misuse_is_refused_before_training(example, tmp_path):
    data = example.prepare(num_train=40, seed=0)
    diet = DataDiet(len(data.train), epochs=2, keep_fraction=0.5)
    trainer, _, _ = _trainer(example, tmp_path, data, diet, dataset=data.train)
    with pytest.raises(ValueError, match="train_dataset=callback.train_dataset"):
        trainer.train()
    trainer, _, _ = _trainer(example, tmp_path, data, diet, gradient_accumulation_steps=2)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        trainer.train()
    trainer, _, _ = _trainer(example, tmp_path, data, DataDiet(len(data.train), epochs=3, keep_fraction=0.5))
    trainer.args.num_train_epochs = 2
    with pytest.raises(ValueError, match="num_train_epochs=3"):
        trainer.train()


def test_view_needs_ids_equal_to_row_numbers():
    diet = DataDiet(2, epochs=2, keep_fraction=0.5)
    assert DataDietDataset([{"id": 0, "x": 1}, {"id": 1, "x": 2}], diet)[1] == {"id": 1, "x": 2}
    with pytest.raises(ValueError, match="must equal the row number"):
        DataDietDataset([{"id": 5}, {"id": 6}], diet)[0]
    with pytest.raises(ValueError, match="no 'id' column"):
        DataDietDataset([{"x": 1}, {"x": 2}], diet)[0]
    with pytest.raises(ValueError, match="3 rows"):
        DataDietDataset([{"id": 0}, {"id": 1}, {"id": 2}], diet)


def test_example_prints_fewer_examples_than_full_data(example, capsys):
    assert example.main(["--num-train", "120", "--epochs", "3", "--keep-fraction", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "examples trained: 240 of 360 for full data" in out  # 120 + 2 * 60
