"""Export a run folder's model and load it with standard tools: same logits as the run's model.

The run folder is built in the test the way `raypruning train --output` lays it
out (summary.json with the config, ray/<name>/checkpoint_*/model.pt), from a
real TextClassifier state dict; training itself is covered by the e2e tests.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import raypruning
from raypruning.cli import main
from raypruning.config import from_dict
from raypruning.data.encode import encode_split
from raypruning.data.schema import REGRESSION, TaskData
from raypruning.data.sources import load_task_data
from raypruning.evaluation import predict as run_predict
from raypruning.export import find_checkpoint, sequence_classifier
from raypruning.models import build_model, load_tokenizer
from raypruning.run_state import MODEL_FILE, STATE_FILE, SUMMARY_FILE


def _config(task: str):
    return from_dict({
        "data": {"format": "synthetic", "synthetic": {"task": task, "num_train": 80, "num_eval": 24}},
        "model": {"name": "tiny", "hidden_size": 32, "tiny_layers": 2},
        "train": {"epochs": 2, "max_length": 32, "seed": 0},
        "pruning": {"mode": "dynamic", "warmup_epochs": 1, "period_epochs": 1, "keep_fraction": 0.5},
    })


def _trained_like_model(cfg, task, tokenizer, seed):
    """A TextClassifier whose weights differ from what build_model(seed=cfg.train.seed) gives."""
    model = build_model(cfg.model, task.kind, task.num_labels, len(task.slot_labels), vocab_size=len(tokenizer),
                        seed=seed)
    with torch.no_grad():
        model.head[1].bias.normal_(0, 1, generator=torch.Generator().manual_seed(seed))
    return model.eval()


def _make_run(tmp_path: Path, task_name: str):
    """A run folder with two checkpoints; the later one (epoch 2, with the summary) holds `model`."""
    cfg = _config(task_name)
    task = load_task_data(cfg.data)
    train = task.splits["train"][:]
    tokenizer = load_tokenizer(cfg.model, train["text"])
    run_dir = tmp_path / "run-f05"
    summary = {"metric": "accuracy", "score": 61.5, "metrics": {"accuracy": 61.5}, "train_time_s": 2.0,
               "scoring_time_s": 0.5, "total_time_s": 2.5, "wall_time_s": 4.0, "examples_trained": 120,
               "full_data_examples": 160, "ideal_fraction": 0.75, "epochs": 2, "config": cfg.to_dict()}
    models = {}
    for epoch, stamp, seed in ((1, "2026-01-01_00-00-01.000000", 11), (2, "2026-01-01_00-00-02.000000", 12)):
        folder = run_dir / "ray" / "run" / f"checkpoint_{stamp}"
        folder.mkdir(parents=True)
        models[epoch] = _trained_like_model(cfg, task, tokenizer, seed)
        torch.save(models[epoch].state_dict(), folder / MODEL_FILE)
        (folder / STATE_FILE).write_text(json.dumps({"next_epoch": epoch}))
        if epoch == 2:
            (folder / SUMMARY_FILE).write_text(json.dumps(summary))
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary))
    return run_dir, cfg, task, tokenizer, models[2]


def test_classifier_export_loads_with_auto_classes_and_matches_the_run(tmp_path, capsys):
    run_dir, cfg, task, tokenizer, model = _make_run(tmp_path, "sentence")
    assert find_checkpoint(run_dir).name.endswith("02.000000")
    out = tmp_path / "export"
    assert main(["export", str(run_dir), "--output", str(out)]) == 0

    hf = AutoModelForSequenceClassification.from_pretrained(out).eval()
    hf_tokenizer = AutoTokenizer.from_pretrained(out)
    assert hf.config.id2label == dict(enumerate(task.labels))
    assert hf.config.label2id == {name: i for i, name in enumerate(task.labels)}
    texts = task.splits["validation"][:]["text"]
    enc = hf_tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    assert enc["input_ids"].tolist() == tokenizer(texts, padding=True, truncation=True, max_length=32,
                                                  return_tensors="pt")["input_ids"].tolist()
    with torch.inference_mode():
        theirs = hf(**enc).logits
        ours = model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])["logits"]
    assert (theirs - ours).abs().max().item() < 1e-5
    assert ours.std().item() > 0.1  # the comparison has something to find

    card = (out / "README.md").read_text()
    for expected in ("dynamic el2n", "keep the 0.5 share", "seed: 0", "accuracy on the validation split: 61.50",
                     "examples trained: 120 of 160", "raypruning train config.yaml --output run-f05"):
        assert expected in card
    assert (out / "config.yaml").is_file()

    capsys.readouterr()
    assert main(["predict", str(out), texts[0], texts[1], "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    probs = ours[:2].softmax(-1)
    assert [r["label"] for r in rows] == [task.labels[i] for i in probs.argmax(-1).tolist()]
    np.testing.assert_allclose([r["probability"] for r in rows], probs.max(-1).values.numpy(), atol=1e-5)


def test_joint_export_loads_with_load_model_and_predicts_word_tags(tmp_path, capsys, monkeypatch):
    run_dir, cfg, task, tokenizer, model = _make_run(tmp_path, "joint")
    out = tmp_path / "export"
    assert main(["export", str(run_dir), "--output", str(out)]) == 0
    assert (out / "heads.safetensors").is_file() and (out / "config.json").is_file()

    loaded = raypruning.load_model(out)
    texts = [" ".join(words) for words in task.splits["validation"][:]["words"]]
    enc, theirs = loaded.outputs(texts)
    with torch.inference_mode():
        ours = model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    assert (theirs["logits"] - ours["logits"]).abs().max().item() < 1e-5
    assert (theirs["slot_logits"] - ours["slot_logits"]).abs().max().item() < 1e-5

    # `raypruning predict` (texts on stdin) agrees with the run's own evaluation path on intents and word tags.
    rows = encode_split(task.splits["validation"], tokenizer, task.kind, 32, False).to_list()
    expected = run_predict(model, rows, task.kind, tokenizer.pad_token_id, 64, "cpu")
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(texts) + "\n"))
    capsys.readouterr()
    assert main(["predict", str(out), "--json"]) == 0
    predicted = json.loads(capsys.readouterr().out)
    assert len(predicted) == len(texts)
    for row, source in zip(predicted, rows):
        intent, slots = expected[int(source["id"])]
        assert row["intent"] == task.labels[intent]
        assert [s["word"] for s in row["slots"]] == row["text"].split()
        assert [s["tag"] for s in row["slots"]] == [task.slot_labels[t] for t in slots]

    assert main(["predict", str(out), texts[0]]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(predicted[0]["intent"] + "\t") and f"{texts[0].split()[0]}/" in line


def test_regression_head_matches():
    cfg = _config("sentence")
    model = build_model(cfg.model, REGRESSION, 1, vocab_size=50, seed=3).eval()
    hf = sequence_classifier(model, TaskData(kind=REGRESSION, splits={}))
    ids = torch.randint(5, 50, (4, 9), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        ours = model(ids, mask)["logits"]
        theirs = hf(input_ids=ids, attention_mask=mask).logits
    assert hf.config.problem_type == "regression" and theirs.shape == (4, 1)
    assert (theirs.view(-1) - ours).abs().max().item() < 1e-5


def test_bad_folders_exit_2_with_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--output", str(tmp_path / "out")]) == 2
    assert "no checkpoint with model.pt" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), "some text"]) == 2
    assert "raypruning export" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--help"])


@pytest.mark.slow  # a real Ray Train run
def test_a_trained_sentence_run_exports_with_its_own_predictions(soft_run, tmp_path, capsys):
    """The session's soft-pruning run of the quickstart's sentence-classification variant
    (tests/conftest.py: 2 workers, 8 epochs), exported: the run's own predictions come back
    through AutoModelForSequenceClassification and `predict`."""
    from raypruning.export import load_run

    run_dir, summary = soft_run
    out = tmp_path / "export"
    assert main(["export", str(run_dir), "--output", str(out)]) == 0
    run = load_run(run_dir)  # the run's own model, as its checkpoint holds it
    texts = run.task.splits["test"][:]["text"]
    hf = AutoModelForSequenceClassification.from_pretrained(out).eval()
    enc = AutoTokenizer.from_pretrained(out)(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        theirs = hf(**enc).logits.argmax(-1)
        ours = run.model(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])["logits"].argmax(-1)
    assert theirs.tolist() == ours.tolist()
    # The run's test score is the accuracy of those same predictions (the run counts in float32;
    # one row is 1.7 points of the 60).
    labels = torch.tensor(run.task.splits["test"][:]["label"])
    assert summary["test_score"] == pytest.approx(100 * (ours == labels).double().mean().item(), abs=1e-4)
    capsys.readouterr()
    assert main(["predict", str(out), texts[0], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"] == run.task.labels[int(ours[0])]
