"""Evaluation batches rows by length but returns predictions in the rows' order."""

from raypruning.config import load_config
from raypruning.data.encode import encode_task
from raypruning.data.sources import load_task_data
from raypruning.evaluation import predict, predict_all
from raypruning.models import build_model, load_tokenizer


def test_length_sorted_predictions_come_back_in_row_order():
    cfg = load_config(None, ["data.synthetic.num_train=40", "data.synthetic.num_eval=30", "model.hidden_size=32"])
    task = load_task_data(cfg.data)
    tokenizer = load_tokenizer(cfg.model, task.splits["train"][:]["text"])
    rows = encode_task(task, tokenizer, 32)["validation"].to_list()
    assert len({r["length"] for r in rows}) > 3 and [r["length"] for r in rows] != sorted(r["length"] for r in rows)
    model = build_model(cfg.model, task.kind, task.num_labels, len(task.slot_labels), len(tokenizer), seed=1)
    pad = tokenizer.pad_token_id
    got = predict_all(model, rows, task.kind, pad, batch_size=8, device="cpu")
    one_by_one = [predict(model, [r], task.kind, pad, 1, "cpu")[int(r["id"])] for r in rows]
    assert [p for p, _ in got] == [p for p, _ in one_by_one]
    assert [s for _, s in got] == [s for _, s in one_by_one]
    assert len({tuple(s) for _, s in got}) > 3  # the check compares varied slot predictions
