"""Typed, validated run and study configuration.

A config is a frozen tree of dataclasses loaded from YAML, with dotted
``key=value`` overrides from the command line. Every problem (unknown key,
wrong type, value out of range) is collected and raised at once as an
`InputError` whose lines name the file and the dotted key, before any Ray work
starts. Field comments are the documentation of each key.

This module builds the types; the value checks (ranges, choices, the study
keys) are `raypruning.validate`'s, as `Problem` records. About 400 lines: the
documented fields of every section are the bulk, and they belong together.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from raypruning.errors import InputError
from raypruning.search_space import RANGE_KINDS
# The accepted values of each choice key live with the checks; imported here for the
# field comments below and for the modules that read them from the config.
from raypruning.validate import (BATCHINGS, BUDGETS, DATA_FORMATS, EVAL_SPLITS, JOINT_COMBINE,  # noqa: F401
                                 LR_SCHEDULES, PLACEMENT_STRATEGIES, PRECISIONS, PRUNING_MODES, SAMPLERS,
                                 SCORES, SLOT_LOSSES, SMOOTHING, SYNTHETIC_TASKS, Problem, covered, raise_problems, run_problems, study_problems)

# Keys of DataConfig that only one family of formats reads; an override of
# data.format resets the ones the new format does not use.
_FORMAT_OPTIONS = {
    "task": ("glue", "mtop", "massive", "hf"),
    "name": ("glue", "hf"),
    "path": ("jointbert", "massive", "mtop", "glue", "csv", "jsonl", "parquet", "hf"),
}


@dataclass(frozen=True)
class SyntheticConfig:
    task: str = "joint"  # joint (intent + slots) or sentence (classification only)
    num_train: int = 1200  # training examples
    num_eval: int = 300  # validation (and test) examples
    num_intents: int = 6  # intent / class count
    mislabel_fraction: float = 0.05  # training labels flipped on purpose
    redundant_fraction: float = 0.4  # near-duplicate easy examples
    hard_fraction: float = 0.15  # ambiguous examples mixing two intents' cues
    seed: int = 0  # the generator's own seed (independent of train.seed)


@dataclass(frozen=True)
class DataConfig:
    format: str = "synthetic"  # one of DATA_FORMATS
    path: str | None = None  # folder or file for file formats
    name: str | None = None  # hub id (hf) or GLUE task name (glue without path)
    task: str | None = None  # task inside a format holding several (GLUE task, MTOP/MASSIVE locale)
    text_column: str = "text"  # generic formats: the input text
    text_pair_column: str | None = None  # generic formats: second text of a pair task
    label_column: str = "label"  # generic formats: class / intent / regression target
    slots_column: str | None = None  # generic formats: space-separated BIO tags per word
    regression: bool = False  # generic formats: the label is a real number
    eval_split: str = "validation"  # split scored as the run's result: validation or test
    test_split: str | None = "auto"  # split evaluated once after training: auto (test if labelled), a name, or null
    validation_fraction: float = 0.0  # > 0: carve a stratified validation split from train (old one -> test or dropped)
    max_train_examples: int | None = None  # keep a seeded, label-stratified sample of N training rows (CPU budgets)
    sample_seed: int = 0  # seeds the sample and the validation carve (not train.seed: same data across trial seeds)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass(frozen=True)
class ModelConfig:
    name: str = "tiny"  # hub id, local folder, "minilm" or "tiny"
    num_layers: int | None = None  # keep only the first N encoder layers
    hidden_size: int = 64  # tiny only: hidden width
    tiny_layers: int = 2  # tiny only: encoder layers
    dropout: float = 0.1  # classifier head dropout


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 4  # total epoch budget E
    batch_size: int = 32  # per worker
    eval_batch_size: int = 128  # evaluation and scoring batch size
    lr: float = 2e-3  # AdamW learning rate (suits the tiny model; pretrained models want 2e-5 to 1e-4)
    weight_decay: float = 0.01
    lr_schedule: str = "constant"  # constant (the paper), linear or cosine decay
    warmup_ratio: float = 0.0  # share of steps with linear LR warmup
    max_grad_norm: float = 1.0  # gradient clipping (0 disables)
    max_length: int = 64  # tokens per example (pairs included)
    seed: int = 0
    precision: str = "auto"  # auto: bf16 on GPU, fp32 on CPU
    max_failures: int = 0  # worker-group restarts allowed, resuming from the last checkpoint
    # length: batches of similar length (shuffle, sort 50-batch mega-batches by length, shuffle
    # the batches), little padding; random: shuffled batches
    batching: str = "length"
    # What a joint task's slot loss is averaged over. epoch: the batch's examples times the
    # mean labelled tokens per example of the epoch's training set, so every slot token weighs
    # the same whatever batch it lands in. batch: the batch's labelled slot tokens (the paper's
    # mean cross-entropy), which with length-grouped batches gives a short utterance's tokens
    # several times the weight of a long one's; with random batches the two agree on average.
    slot_loss: str = "epoch"
    # Epochs between checkpoints; the last epoch and every epoch just before a pruning event
    # checkpoint regardless. Every epoch is reported either way.
    checkpoint_every: int = 1
    compile: bool = False  # torch.compile the encoder (pays off on GPU; the first steps compile)


@dataclass(frozen=True)
class PruningConfig:
    mode: str = "dynamic"  # full, static (scores once), dynamic (re-scores every period) or soft (InfoBatch)
    score: str = "el2n"  # el2n, loss, grand, forgetting, random
    warmup_epochs: int = 1  # tau: full-data epochs before the first pruning event
    period_epochs: int = 1  # T: epochs trained on one subset before re-scoring
    keep_fraction: float = 0.5  # f: share of training examples kept after each event
    joint_combine: str = "norm"  # joint EL2N: norm, sum or mean of intent and slot errors
    offset: float = 0.0  # skip this top share of the hardest examples
    explore: float = 0.0  # share of the kept budget drawn at random from the rest (epsilon-greedy)
    # Take the scores of the examples trained in the epoch before an event from their
    # training forward pass (train mode, free) and re-score only the others (InfoBatch's
    # idea): a cheaper event, at the price of scores from a model mid-epoch. Not after
    # the first epoch, whose training pass scores examples the model has never seen.
    reuse_train_scores: bool = False
    # With reuse: the share of the reused examples also scored in eval mode, to map training-pass
    # scores onto the eval scale (quantile mapping) before both populations are ranked together;
    # 0 ranks the raw training-pass scores beside eval-mode ones (benchmarks/reuse_ranking.py).
    reuse_calibration: float = 0.1
    smoothing: str = "none"  # none, ema, or ucb (ema + c * ew-std bonus)
    ema_alpha: float = 0.8  # weight of the previous smoothed score
    ucb_c: float = 1.0  # std bonus weight for ucb
    # What keep_fraction, offset and explore count: examples, or tokens (keep the top examples
    # until they hold keep_fraction of the training tokens; ideal_fraction is then in tokens too)
    budget: str = "examples"
    # soft only (InfoBatch): every epoch skip a random share r of the examples whose last
    # training-pass score (pruning.score: loss or el2n) is below the mean, and scale the loss
    # of the kept below-mean ones by 1/(1-r); tau, T and f are not used.
    prune_ratio: float = 0.5  # r: share of the below-mean examples skipped each pruned epoch
    anneal_fraction: float = 0.125  # the last ceil(anneal_fraction * E) epochs train on all data


@dataclass(frozen=True)
class ScalingConfig:
    num_workers: int = 1  # data-parallel Ray Train workers per run
    use_gpu: bool = False
    cpus_per_worker: float = 1.0  # logical CPUs each worker reserves
    placement_strategy: str = "PACK"  # PACK, SPREAD or STRICT_SPREAD (one worker per node)


@dataclass(frozen=True)
class SearchConfig:
    # Plain-data search space: dotted config key -> {uniform|loguniform: [a, b]},
    # {int: [a, b]} (inclusive) or {choice: [...]}. Bare keys mean pruning.<key>.
    space: dict = field(
        default_factory=lambda: {
            "warmup_epochs": {"int": [0, 2]},
            "period_epochs": {"int": [1, 2]},
            "keep_fraction": {"uniform": [0.2, 1.0]},
        }
    )
    num_samples: int = 8  # sampled trials (the full-data reference comes on top)
    sampler: str = "tpe"  # tpe, nsga2, random or grid
    max_concurrent: int | None = None  # trials at once; default from the cluster's CPUs
    seed: int = 0  # sampler seed


@dataclass(frozen=True)
class StudyConfig:
    name: str = "study"  # folder under storage_path, and the Optuna study name
    storage_path: str = "raypruning_results"  # local folder, shared path or s3:// / gs:// URI
    optuna_storage: str | None = None  # SQLAlchemy URL; default SQLite in the study folder
    objectives: list = field(default_factory=lambda: ["score", "total_time_s"])
    baselines: list = field(default_factory=list)  # static-el2n, dynamic-random
    seeds: int = 1  # runs per setting (train.seed, +1, ...); the front uses their means
    # Full data for k = 1..E-1 epochs beside the pruned trials: "curve" reads it from the
    # reference's per-epoch history (exact with a constant learning rate), "runs" trains
    # each k, "off" skips it; "auto" is curve with a constant schedule, runs otherwise.
    epoch_baseline: str | bool = "auto"  # YAML 1.1 reads a bare `off` as false, which means off too
    trackers: list = field(default_factory=list)  # mlflow and/or wandb: every trial as a tracked run
    # Trial checkpoints kept when the study ends, for `raypruning export`: front (the front's
    # settings and the best one within 1 point), all, or none.
    keep_models: str = "front"
    # The reference keeps its checkpoint after each searched warmup length and pruning trials
    # branch from it instead of training the warmup again: same result, less study time.
    # A trial whose warmup would differ from the reference's (a decaying learning rate, other
    # non-pruning keys, forgetting or training-pass scores, soft mode) runs alone.
    share_warmup: bool = True
    # End a pruning trial at a pruning event when its score is more than early_stop_margin points
    # below the reference's curve at that epoch and even its best case (the cheapest epochs it
    # has trained, the reference's final score less that gap plus the margin) is dominated by a
    # finished trial (`raypruning.study.early_stop`). Less study time; the stopped trial's row
    # says status stopped and is never on the front. Off by default: the rule's score bound is a
    # bet that a trial does not catch up more than the margin after falling behind.
    early_stop: bool = False
    # Points, > 0. 15: replayed on three small synthetic studies, margins up to 10 stopped a
    # trial that ended on the front, 12 and above none (benchmarks/results/NOTES.md).
    early_stop_margin: float = 15.0


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pruning: PruningConfig = field(default_factory=PruningConfig)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    study: StudyConfig = field(default_factory=StudyConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def load(cls, path: str | Path | None = None, overrides: list[str] | dict | None = None) -> "Config":
        """A YAML file (the defaults when None) with dotted overrides, validated."""
        return load_config(path, overrides)

    def replace(self, **dotted: Any) -> "Config":
        """A copy with dotted keys changed and re-validated (used for trials)."""
        return from_dict(apply_overrides(self.to_dict(), dotted), source="<override>")

    def with_values(self, dotted: dict) -> tuple["Config", list[Problem]]:
        """A copy with dotted keys changed, and its type problems (values unchecked).

        What the study checks try each searched value with; a key whose value has
        the wrong type keeps its default in the copy.
        """
        problems: list[Problem] = []
        cfg = _build(Config, apply_overrides(self.to_dict(), dotted), "", "<search>", problems)
        return cfg, problems


# ---------------------------------------------------------------- loading


def with_absolute_data_path(cfg: Config) -> Config:
    """The config with a relative local data.path made absolute against this process's working
    directory. Ray Train workers run in folders of their own, where a relative path that the
    driver's checks found would name nothing. URLs and absolute paths are left as they are."""
    path = cfg.data.path
    if not path or "://" in path or Path(path).is_absolute():
        return cfg
    return cfg.replace(**{"data.path": str(Path(path).absolute())})


def load_config(path: str | Path | None, overrides: list[str] | dict | None = None) -> Config:
    """Load a YAML file (or the defaults when path is None) and apply overrides."""
    source = str(path) if path is not None else "<defaults>"
    raw: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"{source}: no such file")
        data = p.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise InputError(f"{source}: line {line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            where = f" line {line + 1}" if line is not None else ""
            raise InputError(f"{source}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise InputError(f"{source}: the top level must be a mapping of sections")
        raw = loaded
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides, source)
    if overrides:
        raw = apply_overrides(raw, overrides)
    return from_dict(raw, source=source)


def parse_overrides(items: list[str], source: str = "<command line>") -> dict:
    """Parse ``a.b=value`` strings; values are read as YAML scalars/lists."""
    out: dict = {}
    problems = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"<command line>: override '{item}' is not key=value")
            continue
        try:
            out[key.strip()] = yaml.safe_load(value) if value != "" else None
        except yaml.YAMLError:
            out[key.strip()] = value
    if problems:
        raise InputError(problems)
    return out


def apply_overrides(raw: dict, overrides: dict) -> dict:
    """Return a deep copy of raw with each dotted key set.

    Changing ``data.format`` resets the options that belong to other formats,
    so that switching format by override alone works (design.md).
    """
    out = copy.deepcopy(raw)
    fmt = overrides.get("data.format")
    if fmt is not None and isinstance(out.get("data"), dict):
        # A new format with a new path: the old task and hub name described other data.
        new_source = fmt != out["data"].get("format") and "data.path" in overrides
        for key in _FORMAT_OPTIONS:
            kept = fmt in _FORMAT_OPTIONS[key] and not (new_source and key in ("task", "name"))
            if not kept and f"data.{key}" not in overrides:
                out["data"].pop(key, None)
    for dotted, value in overrides.items():
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
    return out


def from_dict(raw: dict, source: str = "<config>") -> Config:
    """Build a validated Config; raise InputError with every problem found.

    Types first; then the run and study value checks of `raypruning.validate`
    on what could be built. A key that failed its type check holds its default,
    so value problems about it (or inside it) are dropped.
    """
    problems: list[Problem] = []
    cfg = _build(Config, raw, "", source, problems)
    cfg = _read_space_numbers(cfg)
    mistyped = {p.key for p in problems}
    checked = run_problems(cfg, source) + study_problems(cfg, source)
    raise_problems(problems + [p for p in checked if not covered(p, mistyped)])
    return cfg


def _build(cls, raw: Any, prefix: str, source: str, problems: list[Problem]):
    if not isinstance(raw, dict):
        problems.append(Problem(prefix.rstrip(".") or "<top>", f"expected a mapping, got {raw!r}", source))
        return cls()
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            problems.append(Problem(f"{prefix}{key}", f"unknown key (known: {', '.join(sorted(names))})", source))
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        typ = hints[f.name]
        dotted = prefix + f.name
        if dataclasses.is_dataclass(typ):
            kwargs[f.name] = _build(typ, value if value is not None else {}, dotted + ".", source, problems)
            continue
        ok, converted = _coerce(value, typ)
        if ok:
            kwargs[f.name] = converted
        else:
            problems.append(Problem(dotted, f"expected {_type_name(typ)}, got {value!r}", source))
    return cls(**kwargs)


def _read_space_numbers(cfg: Config) -> Config:
    """The config with the range bounds of its search space read as numbers (1e-3 included)."""
    space = cfg.search.space
    read = {}
    for key, spec in space.items():
        kind, args = next(iter(spec.items())) if isinstance(spec, dict) and len(spec) == 1 else (None, None)
        read[key] = {kind: [read_number(a) for a in args]} if kind in RANGE_KINDS and isinstance(args, list) else spec
    if read == space:
        return cfg
    return dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, space=read))


_EXPONENT_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def read_number(value: Any) -> Any:
    """YAML 1.1 reads 1e-3 (no dot) as a string: turn such strings into floats, leave the rest."""
    if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


def _coerce(value: Any, typ) -> tuple[bool, Any]:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(typ)
        if value is None and type(None) in args:
            return True, None
        for arg in args:
            if arg is type(None):
                continue
            ok, conv = _coerce(value, arg)
            if ok:
                return True, conv
        return False, None
    if typ is bool:
        return isinstance(value, bool), value
    if typ is int:
        if isinstance(value, bool):
            return False, None
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        return False, None
    if typ is float:
        value = read_number(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return True, float(value)
        return False, None
    if typ is str:
        return isinstance(value, str), value
    if typ is list or origin is list:
        if isinstance(value, (list, tuple)):
            return True, list(value)
        return False, None
    if typ is dict or origin is dict:
        return isinstance(value, dict), value
    return False, None


def _type_name(typ) -> str:
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(typ))
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false",
            list: "a list", dict: "a mapping", type(None): "null"}.get(typ, getattr(typ, "__name__", str(typ)))


def to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
