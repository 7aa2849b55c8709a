"""Take a trained model out of a run folder, in a form standard tools load.

``raypruning export RUN_DIR --output DIR`` reads the run's ``summary.json``
(its config) and the model of its last Ray checkpoint
(``RUN_DIR/ray/<name>/checkpoint_*/model.pt``), rebuilds the tokenizer the
run used (``tiny`` relearns its vocabulary from the training texts, which
gives the same vocabulary), and writes DIR:

- classification and regression: a ``transformers`` sequence classifier, so
  ``AutoModelForSequenceClassification.from_pretrained(DIR)`` and
  ``AutoTokenizer.from_pretrained(DIR)`` work (``id2label`` from the task's
  labels). raypruning's head is one linear layer on the first token, while
  the stock heads put a dense + tanh layer before theirs; the export sets that
  dense layer to epsilon times the identity and divides the output layer by
  epsilon, so tanh(eps x) / eps = x - eps^2 x^3 / 3 reproduces the run's logits
  (the export checks they agree within 1e-5 and records the difference). Such
  a head is for inference: re-initialise it before training further.
  Encoders whose stock head has no tanh layer (DistilBERT, ELECTRA) are refused.
- joint intent + slot: the encoder in ``transformers`` format
  (``AutoModel.from_pretrained(DIR)``) with the two heads beside it in
  ``heads.safetensors``; ``raypruning.load_model(DIR)`` loads the whole model.
- every kind: ``raypruning.json`` (kind, labels, slot tags, max length), the
  run's ``config.yaml``, and a model card ``README.md`` (data, pruning
  setting, seed, scores, cost, the command that trained it).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from raypruning import keys as K
from raypruning.config import Config, from_dict, to_yaml
from raypruning.data.schema import JOINT, REGRESSION
from raypruning.errors import InputError
from raypruning.run_state import MODEL_FILE, STATE_FILE, SUMMARY_FILE

META_FILE = "raypruning.json"
HEADS_FILE = "heads.safetensors"
CONFIG_FILE = "config.yaml"
CARD_FILE = "README.md"
FORMAT_VERSION = 1
# The stock head's dense layer is EPSILON * identity: tanh(eps x) / eps differs from x by
# eps^2 x^3 / 3 (about 3e-8 at |x| = 10), far below float32 rounding of the logits.
EPSILON = 1e-5
TOLERANCE = 1e-5  # largest logit difference an export accepts on its own check
CHECK_EXAMPLES = 32  # training examples the export's self-check runs through both models
# model_type -> how to reach the stock head's (dense layer before tanh, output layer).
_STOCK_HEADS = {
    "bert": lambda m: (m.bert.pooler.dense, m.classifier),
    **{t: (lambda m: (m.classifier.dense, m.classifier.out_proj))
       for t in ("roberta", "xlm-roberta", "camembert", "data2vec-text", "xmod")},
}


@dataclass
class RunModel:
    """A run's config, summary and trained model, as the run built it."""

    cfg: Config
    summary: dict
    checkpoint: Path
    task: object  # TaskData
    tokenizer: object
    model: nn.Module  # raypruning.models.TextClassifier, in eval mode


def find_checkpoint(run_dir: Path) -> Path:
    """The run's last checkpoint folder holding a model: the one furthest into training."""
    # `raypruning train --output DIR` keeps Ray's run under DIR/ray/<name>; a study trial's run
    # folder (<study>/runs/trial-<id>) holds the checkpoints themselves.
    candidates = [p.parent for pattern in (f"ray/*/checkpoint_*/{MODEL_FILE}", f"checkpoint_*/{MODEL_FILE}")
                  for p in Path(run_dir).glob(pattern)]
    if not candidates:
        raise InputError(f"{run_dir}: no checkpoint with {MODEL_FILE} under ray/<name>/checkpoint_*/ "
                         "(is it a folder written by `raypruning train --output`?)")

    def progress(folder: Path):
        state = folder / STATE_FILE
        epoch = json.loads(state.read_text()).get("next_epoch", 0) if state.is_file() else -1
        return ((folder / SUMMARY_FILE).is_file(), epoch, folder.name)

    return max(candidates, key=progress)


def load_run(run_dir: str | Path) -> RunModel:
    """Rebuild a run's data, tokenizer and model from its folder."""
    from raypruning.data.sources import load_task_data
    from raypruning.models import build_model, load_tokenizer

    run_dir = Path(run_dir)
    checkpoint = find_checkpoint(run_dir)
    summary_path = next((p for p in (run_dir / SUMMARY_FILE, checkpoint / SUMMARY_FILE) if p.is_file()), None)
    if summary_path is None:
        raise InputError(f"{run_dir}: no {SUMMARY_FILE} (is it a finished run folder?)")
    summary = json.loads(summary_path.read_text())
    if K.CONFIG not in summary:
        raise InputError(f"{summary_path}: no '{K.CONFIG}' key")
    cfg = from_dict(summary[K.CONFIG], source=str(summary_path))
    import datasets

    datasets.disable_progress_bars()
    with contextlib.redirect_stdout(io.StringIO()):  # datasets' fingerprinting may print (see recipe)
        task = load_task_data(cfg.data)
        train = task.splits["train"][:]
    texts = train["text"] + (train["text_pair"] if task.has_pair else [])
    tokenizer = load_tokenizer(cfg.model, texts)  # tiny: same texts, same vocabulary
    model = build_model(cfg.model, task.kind, task.num_labels, len(task.slot_labels), vocab_size=len(tokenizer),
                        seed=cfg.train.seed)
    state = torch.load(checkpoint / MODEL_FILE, map_location="cpu")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"{checkpoint / MODEL_FILE}: does not fit the model its config builds "
                         f"({str(exc).splitlines()[0]})") from None
    model.eval()
    return RunModel(cfg, summary, checkpoint, task, tokenizer, model)


def export(source: str | Path, output: str | Path, trial: str = "best") -> Path:
    """Export a run folder's model, or a study trial's (`trial`: best, or a trial id)."""
    from raypruning.study.layout import STUDY_FILE, resolve_study

    folder = Path(source) if Path(source).is_dir() else None
    if folder is not None and not (folder / STUDY_FILE).is_file():
        return export_run(folder, output)
    run_dir, row = study_trial_run(resolve_study(str(source)), trial)
    return export_run(run_dir, output, study_row=row)


def study_trial_run(folder: Path, trial: str) -> tuple[Path, dict]:
    """The run folder of a study trial (its first seed) and the trial's row of per-setting means.

    `best` is the fastest setting within 1 point of the reference that has a model
    (the fewer-epochs rows are read from the reference's history and have none).
    """
    from raypruning import pareto
    from raypruning.keys import Method
    from raypruning.study.layout import RUNS_DIR, read_meta
    from raypruning.study.trials import load_trials

    settings = pareto.per_setting(load_trials(folder))
    if trial == "best":
        has_model = (settings[K.METHOD] != Method.FULL_EPOCHS.value).to_numpy()
        row = pareto.best_within_drop(settings, 1.0, pareto.time_column(read_meta(folder).objectives),
                                      among=has_model)
        if row is None:
            raise InputError(f"{folder}: no finished trial with a model to export")
    else:
        rows = settings[settings[K.TRIAL_ID].astype(str) == trial]
        if rows.empty:
            raise InputError(f"--trial {trial}: no such trial in {folder} "
                             f"(trials: {', '.join(map(str, settings[K.TRIAL_ID]))})")
        row = rows.iloc[0]
        if row[K.METHOD] == Method.FULL_EPOCHS.value:
            raise InputError(f"--trial {trial}: full data for {int(row[K.EPOCHS])} epoch(s) is read from the "
                             f"reference's history and has no model of its own; train it with "
                             f"`raypruning best {folder} --json` and `raypruning train`")
    trial_id = str(row[K.TRIAL_ID])
    candidates = sorted((folder / RUNS_DIR).glob(f"trial-{trial_id}*"))
    if not candidates:
        raise InputError(f"{folder}: the model of trial {trial_id} was not kept (study.keep_models); "
                         f"retrain it from `raypruning best {folder} --json`")
    return candidates[0], {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}


def export_run(run_dir: str | Path, output: str | Path, study_row: dict | None = None) -> Path:
    """Export a run folder's model into `output` (see the module docstring). Returns the folder.

    study_row: the trial's per-setting means when the run is a study trial (seeds, saving, deltas).
    """
    run = load_run(run_dir)
    if study_row is not None:
        run.summary = {**run.summary, **{k: study_row[k] for k in (K.TIME_SAVING, K.SCORE_DELTA, K.SEEDS,
                                                                    K.SCORE_STD, K.TRIAL_ID) if k in study_row}}
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    run.tokenizer.model_max_length = run.cfg.train.max_length  # truncation=True then cuts where training did
    if run.task.kind == JOINT:
        _save_joint(run, output)
        difference = 0.0
    else:
        hf = sequence_classifier(run.model, run.task)
        difference = _max_logit_difference(run, hf)
        if not difference <= TOLERANCE:
            raise RuntimeError(f"export: the transformers model's logits differ from the run's by {difference:.2e}")
        hf.save_pretrained(output)
    run.tokenizer.save_pretrained(output)
    meta = {"format_version": FORMAT_VERSION, "kind": run.task.kind, "task": run.task.task_name,
            "labels": list(run.task.labels), "slot_labels": list(run.task.slot_labels), "has_pair": run.task.has_pair,
            "max_length": run.cfg.train.max_length, "dropout": run.cfg.model.dropout,
            "max_logit_difference": difference}
    (output / META_FILE).write_text(json.dumps(meta, indent=2))
    (output / CONFIG_FILE).write_text(to_yaml(run.cfg))
    (output / CARD_FILE).write_text(model_card(run, Path(run_dir), meta))
    return output


def sequence_classifier(model: nn.Module, task) -> nn.Module:
    """The stock transformers classifier computing the same logits as a TextClassifier (see module doc)."""
    from transformers import AutoModelForSequenceClassification

    encoder = model.encoder
    model_type = encoder.config.model_type
    if model_type not in _STOCK_HEADS:
        raise InputError(f"export: a '{model_type}' encoder's stock sequence-classification head cannot "
                         f"reproduce raypruning's linear head (supported: {', '.join(sorted(_STOCK_HEADS))})")
    config = encoder.config.__class__.from_dict(encoder.config.to_dict())
    config.architectures = None
    if task.kind == REGRESSION:
        config.num_labels, config.problem_type = 1, "regression"
    else:
        config.num_labels, config.problem_type = task.num_labels, "single_label_classification"
        config.id2label = dict(enumerate(task.labels))
        config.label2id = {name: i for i, name in enumerate(task.labels)}
    with torch.random.fork_rng(devices=[]):  # the stock head's random init is overwritten below
        hf = AutoModelForSequenceClassification.from_config(config)
    missing, unexpected = hf.base_model.load_state_dict(encoder.state_dict(), strict=False)
    if unexpected or any(not key.startswith("pooler.") for key in missing):
        raise InputError(f"export: the encoder's weights do not fit {type(hf).__name__} "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    dense, out = _STOCK_HEADS[model_type](hf)
    linear = model.head[1]
    hidden = linear.in_features
    with torch.no_grad():
        dense.weight.copy_(torch.eye(hidden) * EPSILON)
        dense.bias.zero_()
        out.weight.copy_(linear.weight / EPSILON)
        out.bias.copy_(linear.bias)
    return hf.eval()


def _max_logit_difference(run: RunModel, hf: nn.Module) -> float:
    """Largest |logit difference| between the run's model and `hf` on the first training examples."""
    train = run.task.splits["train"][:CHECK_EXAMPLES]
    pair = train["text_pair"] if run.task.has_pair else None
    enc = run.tokenizer(train["text"], pair, padding=True, truncation=True, max_length=run.cfg.train.max_length,
                        return_tensors="pt")
    with torch.inference_mode():
        ours = run.model(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"))["logits"]
        theirs = hf(**enc).logits
    return float((ours.reshape(theirs.shape) - theirs).abs().max())


def _save_joint(run: RunModel, output: Path) -> None:
    from safetensors.torch import save_file

    run.model.encoder.save_pretrained(output)
    heads = {k: v.contiguous() for k, v in run.model.state_dict().items() if k.startswith(("head.", "slot_head."))}
    save_file(heads, str(output / HEADS_FILE))


def model_card(run: RunModel, run_dir: Path, meta: dict) -> str:
    """The README.md of an export: what was trained on what, how, and what it scored and cost."""
    cfg, s, task = run.cfg, run.summary, run.task
    p = cfg.pruning
    data = cfg.data
    source = {"synthetic": f"built-in synthetic {data.synthetic.task} task ({data.synthetic.num_train} train "
                           f"examples, generator seed {data.synthetic.seed})"}.get(
        data.format, f"{data.format} data{' ' + data.name if data.name else ''}"
                     f"{' (' + data.task + ')' if data.task else ''}{' at ' + data.path if data.path else ''}")
    limit = f", first {data.max_train_examples} training examples" if data.max_train_examples else ""
    if p.mode == "soft":
        setting = (f"soft {p.score} (InfoBatch): every epoch skip a random {p.prune_ratio:g} share of the examples "
                   f"whose last training-pass score is below the mean, scaling the loss of the kept ones; "
                   f"the last {p.anneal_fraction:g} of the epochs on all data")
    elif cfg.pruning.mode == "full" or p.keep_fraction >= 1.0:
        setting = "none: every example every epoch (the full-data reference)"
    else:
        setting = (f"{p.mode} {p.score}: {p.warmup_epochs} warmup epoch(s) on all data, then "
                   f"{'once' if p.mode == 'static' else f'every {p.period_epochs} epoch(s)'} keep the "
                   f"{p.keep_fraction:g} share with the highest scores")
        extras = [f"{k} {getattr(p, k)}" for k in ("offset", "explore") if getattr(p, k)]
        if p.smoothing != "none":
            extras.append(f"smoothing {p.smoothing}")
        if p.reuse_train_scores:
            extras.append("scores reused from the training pass")
        if task.kind == JOINT:
            extras.append(f"joint combine {p.joint_combine}")
        setting += f" ({', '.join(extras)})" if extras else ""
    trained, full = s.get(K.EXAMPLES_TRAINED), s.get(K.FULL_DATA_EXAMPLES)
    lines = ["---", "library_name: transformers" if task.kind != JOINT else "library_name: raypruning",
             *(["pipeline_tag: text-classification"] if task.kind != JOINT else []),
             "tags:", "- raypruning", "- data-pruning", "---", "",
             f"# {task.task_name or 'text'} {'intent + slot model' if task.kind == JOINT else task.kind + ' model'}"
             f" finetuned with raypruning", "",
             "## Load", "", "```python"]
    if task.kind == JOINT:
        lines += ["import raypruning", "model = raypruning.load_model(\"THIS_FOLDER\")",
                  "model.predict([\"book a flight to boston\"])"]
    else:
        lines += ["from transformers import AutoModelForSequenceClassification, AutoTokenizer",
                  "model = AutoModelForSequenceClassification.from_pretrained(\"THIS_FOLDER\")",
                  "tokenizer = AutoTokenizer.from_pretrained(\"THIS_FOLDER\")"]
    lines += ["```", "", "Or from the shell: `raypruning predict THIS_FOLDER \"some text\" --json`.", ""]
    if task.kind != JOINT:
        lines += [f"The classification head is raypruning's linear head written into the stock head's layers "
                  f"(a dense layer of {EPSILON:g} times the identity before tanh); the logits match the run's "
                  f"within {meta['max_logit_difference']:.1e}. Re-initialise the head before training it further.",
                  ""]
    lines += ["## Training", "",
              f"- data: {source}{limit}; {len(task.splits['train'])} training examples",
              f"- model: {cfg.model.name}" + (f" (first {cfg.model.num_layers} layers)" if cfg.model.num_layers else ""),
              f"- {cfg.train.epochs} epochs, batch {cfg.train.batch_size} x {cfg.scaling.num_workers} worker(s), "
              f"AdamW lr {cfg.train.lr:g} ({cfg.train.lr_schedule}), max length {cfg.train.max_length}",
              f"- data pruning: {setting}",
              f"- seed: {cfg.train.seed}", "",
              "## Results", ""]
    if K.SCORE in s:
        lines.append(f"- {s.get(K.METRIC, 'score')} on the {data.eval_split} split: {s[K.SCORE]:.2f}")
    for name, value in sorted((s.get(K.METRICS) or {}).items()):
        lines.append(f"  - {name}: {value:.4g}")
    if trained and full:
        lines.append(f"- examples trained: {trained} of {full} for full data ({trained / full:.0%}; the schedule's "
                     f"ideal fraction {s.get(K.IDEAL_FRACTION, float('nan')):.0%})")
    if K.TOTAL_TIME in s:
        lines.append(f"- time: {s[K.TOTAL_TIME]:.1f} s training + scoring ({s.get(K.TRAIN_TIME, 0):.1f} s training "
                     f"steps, {s.get(K.SCORING_TIME, 0):.1f} s scoring), {s.get(K.WALL_TIME, float('nan')):.1f} s wall")
    if s.get(K.TEST_SCORE) is not None:
        lines.append(f"- {s.get(K.METRIC, 'score')} on the {s.get('test_split') or 'test'} split (reported once, "
                     f"never used to choose): {s[K.TEST_SCORE]:.2f}")
    if s.get(K.SEEDS, 1) > 1:
        lines.append(f"- over the setting's {s[K.SEEDS]} seeds: score std {s.get(K.SCORE_STD, float('nan')):.2f}, "
                     f"delta against the reference {s.get(K.SCORE_DELTA, float('nan')):+.2f} (means)")
    saving = s.get(K.TIME_SAVING)
    if saving is not None and not (isinstance(saving, float) and math.isnan(saving)):
        lines.append(f"- time saving against the full-data reference: {saving:.0%}")
    else:
        lines.append("- time saving against full data: not measured by this run alone (a `raypruning study` "
                     "runs the full-data reference beside it)")
    lines += ["", "## Reproduce", "", f"`{CONFIG_FILE}` in this folder is the run's config:", "", "```bash",
              f"raypruning train {CONFIG_FILE} --output {run_dir.name}", "```", ""]
    return "\n".join(lines)
