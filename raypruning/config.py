"""Typed, validated run and study configuration.

A config is a frozen tree of dataclasses loaded from YAML, with dotted
``key=value`` overrides from the command line. Every problem (unknown key,
wrong type, value out of range) is collected and raised at once as an
`InputError` whose lines name the file and the dotted key, before any Ray work
starts. Field comments are the documentation of each key.
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
from raypruning.keys import BASELINES, OBJECTIVES

DATA_FORMATS = ("synthetic", "jointbert", "massive", "mtop", "glue", "csv", "jsonl", "parquet", "hf")
PRUNING_MODES = ("full", "static", "dynamic")
SCORES = ("el2n", "loss", "grand", "forgetting", "random")
JOINT_COMBINE = ("norm", "sum", "mean")
SMOOTHING = ("none", "ema", "ucb")
LR_SCHEDULES = ("constant", "linear", "cosine")
PRECISIONS = ("auto", "no", "bf16", "fp16")
BATCHINGS = ("length", "random")
BUDGETS = ("examples", "tokens")
SAMPLERS = ("tpe", "nsga2", "random", "grid")
EVAL_SPLITS = ("validation", "test")
SYNTHETIC_TASKS = ("joint", "sentence")
PLACEMENT_STRATEGIES = ("PACK", "SPREAD", "STRICT_SPREAD")

# Keys of DataConfig that only one family of formats reads; an override of
# data.format resets the ones the new format does not use (design.md).
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
    max_train_examples: int | None = None  # keep only the first N training examples (CPU budgets)
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
    # Epochs between checkpoints; the last epoch and every epoch just before a pruning event
    # checkpoint regardless. Every epoch is reported either way.
    checkpoint_every: int = 1
    compile: bool = False  # torch.compile the encoder (pays off on GPU; the first steps compile)


@dataclass(frozen=True)
class PruningConfig:
    mode: str = "dynamic"  # full, static (scores once) or dynamic (re-scores every period)
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
    smoothing: str = "none"  # none, ema, or ucb (ema + c * ew-std bonus)
    ema_alpha: float = 0.8  # weight of the previous smoothed score
    ucb_c: float = 1.0  # std bonus weight for ucb
    # What keep_fraction, offset and explore count: examples, or tokens (keep the top examples
    # until they hold keep_fraction of the training tokens; ideal_fraction is then in tokens too)
    budget: str = "examples"


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

    def replace(self, **dotted: Any) -> "Config":
        """A copy with dotted keys changed and re-validated (used for trials)."""
        return from_dict(apply_overrides(self.to_dict(), dotted), source="<override>")


# ---------------------------------------------------------------- loading


def load_config(path: str | Path | None, overrides: list[str] | dict | None = None) -> Config:
    """Load a YAML file (or the defaults when path is None) and apply overrides."""
    source = str(path) if path is not None else "<defaults>"
    raw: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"{source}: no such file")
        try:
            loaded = yaml.safe_load(p.read_text())
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
    """Build a validated Config; raise InputError with every problem found."""
    problems: list[str] = []
    cfg = _build(Config, raw, "", source, problems)
    # Range checks run on what could be built; keys that already failed their type
    # check hold defaults, so lines about them are dropped.
    bad_keys = {line.split("'")[1] for line in problems if "'" in line}
    problems.extend(f"{source}: {line}" for line in _check_ranges(cfg)
                    if not any(f"'{key}'" in line for key in bad_keys))
    if problems:
        raise InputError(problems)
    return cfg


def _build(cls, raw: Any, prefix: str, source: str, problems: list[str]):
    if not isinstance(raw, dict):
        problems.append(f"{source}: key '{prefix.rstrip('.') or '<top>'}': expected a mapping, got {raw!r}")
        return cls()
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            problems.append(f"{source}: key '{prefix}{key}': unknown key (known: {', '.join(sorted(names))})")
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
            problems.append(f"{source}: key '{dotted}': expected {_type_name(typ)}, got {value!r}")
    return cls(**kwargs)


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


def _check_ranges(cfg: Config, check_space: bool = True) -> list[str]:
    """Value checks that the types alone cannot express (check_space: also the search space)."""
    p: list[str] = []

    def choice(key: str, value, allowed):
        if value not in allowed:
            p.append(f"key '{key}': {value!r} is not one of {', '.join(allowed)}")

    def at_least(key: str, value, low, strict=False):
        if value is not None and (value <= low if strict else value < low):
            p.append(f"key '{key}': must be {'>' if strict else '>='} {low}, got {value}")

    d, m, t, pr, s = cfg.data, cfg.model, cfg.train, cfg.pruning, cfg.scaling
    choice("data.format", d.format, DATA_FORMATS)
    choice("data.eval_split", d.eval_split, EVAL_SPLITS)
    if d.format in ("jointbert", "massive", "mtop", "csv", "jsonl", "parquet") and not d.path:
        p.append(f"key 'data.path': format {d.format!r} needs a path")
    if d.format == "hf" and not (d.name or d.path):
        p.append("key 'data.name': format 'hf' needs a dataset hub id (or data.path to a saved dataset)")
    if d.format == "glue" and not (d.path or d.name or d.task):
        p.append("key 'data.path': format 'glue' needs a task folder (or data.name for the hub)")
    at_least("data.max_train_examples", d.max_train_examples, 1)
    syn = d.synthetic
    choice("data.synthetic.task", syn.task, SYNTHETIC_TASKS)
    at_least("data.synthetic.num_train", syn.num_train, 10)
    at_least("data.synthetic.num_eval", syn.num_eval, 10)
    at_least("data.synthetic.num_intents", syn.num_intents, 2)
    for key in ("mislabel_fraction", "redundant_fraction", "hard_fraction"):
        v = getattr(syn, key)
        if not 0.0 <= v < 1.0:
            p.append(f"key 'data.synthetic.{key}': must be in [0, 1), got {v}")
    if syn.mislabel_fraction + syn.redundant_fraction + syn.hard_fraction >= 1.0:
        p.append("key 'data.synthetic': mislabel, redundant and hard fractions must sum below 1")

    at_least("model.num_layers", m.num_layers, 1)
    at_least("model.hidden_size", m.hidden_size, 8)
    at_least("model.tiny_layers", m.tiny_layers, 1)
    if not 0.0 <= m.dropout < 1.0:
        p.append(f"key 'model.dropout': must be in [0, 1), got {m.dropout}")

    at_least("train.epochs", t.epochs, 1)
    at_least("train.batch_size", t.batch_size, 1)
    at_least("train.eval_batch_size", t.eval_batch_size, 1)
    at_least("train.lr", t.lr, 0.0, strict=True)
    at_least("train.weight_decay", t.weight_decay, 0.0)
    choice("train.lr_schedule", t.lr_schedule, LR_SCHEDULES)
    if not 0.0 <= t.warmup_ratio < 1.0:
        p.append(f"key 'train.warmup_ratio': must be in [0, 1), got {t.warmup_ratio}")
    at_least("train.max_grad_norm", t.max_grad_norm, 0.0)
    at_least("train.max_length", t.max_length, 8)
    choice("train.precision", t.precision, PRECISIONS)
    at_least("train.max_failures", t.max_failures, -1)
    choice("train.batching", t.batching, BATCHINGS)
    at_least("train.checkpoint_every", t.checkpoint_every, 1)

    choice("pruning.mode", pr.mode, PRUNING_MODES)
    choice("pruning.score", pr.score, SCORES)
    choice("pruning.joint_combine", pr.joint_combine, JOINT_COMBINE)
    choice("pruning.smoothing", pr.smoothing, SMOOTHING)
    choice("pruning.budget", pr.budget, BUDGETS)
    at_least("pruning.warmup_epochs", pr.warmup_epochs, 0)
    at_least("pruning.period_epochs", pr.period_epochs, 1)
    if not 0.0 < pr.keep_fraction <= 1.0:
        p.append(f"key 'pruning.keep_fraction': must be in (0, 1], got {pr.keep_fraction}")
    if not 0.0 <= pr.explore <= 1.0:
        p.append(f"key 'pruning.explore': must be in [0, 1], got {pr.explore}")
    if not 0.0 <= pr.offset < 1.0:
        p.append(f"key 'pruning.offset': must be in [0, 1), got {pr.offset}")
    elif pr.offset + pr.keep_fraction > 1.0 + 1e-9 and pr.keep_fraction < 1.0:
        p.append(f"key 'pruning.offset': offset + keep_fraction must be <= 1, got {pr.offset + pr.keep_fraction:g}")
    if pr.warmup_epochs >= 0 and t.epochs >= 1 and pr.warmup_epochs > t.epochs:
        p.append(f"key 'pruning.warmup_epochs': {pr.warmup_epochs} is longer than train.epochs ({t.epochs})")  # RUN_RELATION
    if not 0.0 <= pr.ema_alpha < 1.0:
        p.append(f"key 'pruning.ema_alpha': must be in [0, 1), got {pr.ema_alpha}")
    at_least("pruning.ucb_c", pr.ucb_c, 0.0)

    at_least("scaling.num_workers", s.num_workers, 1)
    choice("scaling.placement_strategy", s.placement_strategy, PLACEMENT_STRATEGIES)
    at_least("scaling.cpus_per_worker", s.cpus_per_worker, 0.0, strict=True)

    se = cfg.search
    choice("search.sampler", se.sampler, SAMPLERS)
    at_least("search.num_samples", se.num_samples, 1)
    at_least("search.max_concurrent", se.max_concurrent, 1)
    if check_space:
        from raypruning.search_space import space_problems

        p.extend(space_problems(se.space, cfg))

    st = cfg.study
    if not st.name or "/" in st.name:
        p.append(f"key 'study.name': must be a non-empty name without '/', got {st.name!r}")
    if not st.objectives:
        p.append("key 'study.objectives': needs at least one objective")
    for obj in st.objectives:
        if obj not in OBJECTIVES:
            p.append(f"key 'study.objectives': {obj!r} is not reported by a run (known: {', '.join(OBJECTIVES)})")
    for base in st.baselines:
        if base not in [m.value for m in BASELINES]:
            p.append(f"key 'study.baselines': {base!r} is not one of {', '.join(m.value for m in BASELINES)}")
    return p


def config_keys(cls=Config, prefix: str = "") -> dict[str, Any]:
    """Every dotted leaf key with its type (used to validate search spaces)."""
    out = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            out.update(config_keys(typ, prefix + f.name + "."))
        else:
            out[prefix + f.name] = typ
    return out


def to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
