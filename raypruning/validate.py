"""Value checks of a config, as data: each check returns `Problem` records.

Types are checked where a config is built (`raypruning.config`); this module
checks the values the types cannot express, in three groups:

- RUN checks (`run_problems`): one training run's config, on its own;
- STUDY checks (`study_problems`): the search space against the run config,
  the objectives, the baselines and ``study.name``;
- MODEL checks (`model_problems`): ``model.name`` and ``model.num_layers``
  against what this machine can load, without loading any weights.

A `Problem` names its dotted key, so callers filter problems by key, never by
message text. ``Problem.line()`` is the line the user reads:
``<file>: key 'x.y': <message>``.

This module imports nothing from `raypruning.config` (config imports it), so
the study checks build a trial config through the config's own
``with_values`` method. It runs past 400 lines because it holds every value
rule of every section in one place, which is what lets a reader find them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from raypruning.errors import InputError
from raypruning.keys import BASELINES, OBJECTIVES, SCORE
from raypruning.search_space import KINDS, RANGE_KINDS, full_key

# The values a config key accepts (config.py documents each key beside its field).
DATA_FORMATS = ("synthetic", "jointbert", "massive", "mtop", "glue", "csv", "jsonl", "parquet", "hf")
PRUNING_MODES = ("full", "static", "dynamic", "soft")
SOFT_SCORES = ("loss", "el2n")  # soft pruning scores from the training forward pass
SCORES = ("el2n", "loss", "grand", "forgetting", "random")
JOINT_COMBINE = ("norm", "sum", "mean")
SMOOTHING = ("none", "ema", "ucb")
LR_SCHEDULES = ("constant", "linear", "cosine")
PRECISIONS = ("auto", "no", "bf16", "fp16")
BATCHINGS = ("length", "random")
SLOT_LOSSES = ("batch", "epoch")
BUDGETS = ("examples", "tokens")
SAMPLERS = ("tpe", "nsga2", "random", "grid")
EVAL_SPLITS = ("validation", "test")
EPOCH_BASELINES = ("auto", "curve", "runs", "off")
TRACKERS = ("mlflow", "wandb")
KEEP_MODELS = ("front", "all", "none")
SYNTHETIC_TASKS = ("joint", "sentence")
PLACEMENT_STRATEGIES = ("PACK", "SPREAD", "STRICT_SPREAD")

# Objectives a study trades against the score: the front, its hypervolume and its plot are 2-D.
TIME_OBJECTIVES = tuple(name for name, direction in OBJECTIVES.items() if direction == "min")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: the dotted key, what is wrong, and where it came from."""

    key: str  # dotted config key ("pruning.keep_fraction"); "" for the file as a whole
    message: str
    source: str = ""  # the config file (or "<command line>", "<defaults>", ...)

    def line(self) -> str:
        """The one line a user reads: ``<source>: key 'x.y': <message>``."""
        where = f"key '{self.key}': " if self.key else ""
        return f"{self.source}: {where}{self.message}"


def raise_problems(problems: list[Problem]) -> None:
    """Raise one InputError with a line per problem (nothing when the list is empty)."""
    if problems:
        raise InputError([p.line() for p in problems])


def covered(problem: Problem, keys: set[str]) -> bool:
    """Whether the problem is about one of `keys` or a key inside one of them."""
    return any(problem.key == k or problem.key.startswith(k + ".") for k in keys)


# ---------------------------------------------------------------- run checks


class _Checks:
    """Collects problems for one source; the small helpers every value check uses."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(Problem(key, message, self.source))

    def choice(self, key: str, value, allowed) -> None:
        if value not in allowed:
            self.add(key, f"{value!r} is not one of {', '.join(allowed)}")

    def at_least(self, key: str, value, low, strict: bool = False) -> None:
        if value is not None and (value <= low if strict else value < low):
            self.add(key, f"must be {'>' if strict else '>='} {low}, got {value}")

    def fraction(self, key: str, value, closed_high: bool = False) -> None:
        """``[0, 1)``, or ``[0, 1]`` with closed_high."""
        if not (0.0 <= value <= 1.0 if closed_high else 0.0 <= value < 1.0):
            self.add(key, f"must be in [0, 1{']' if closed_high else ')'}, got {value}")


def run_problems(cfg, source: str = "") -> list[Problem]:
    """Every value problem of one run's config (a `Config`): its values and their relations."""
    return run_value_problems(cfg, source) + run_relation_problems(cfg, source)


def run_value_problems(cfg, source: str = "") -> list[Problem]:
    """Problems of the run keys' values, each key judged with the rest of its section."""
    c = _Checks(source)
    d, m, t, pr, s = cfg.data, cfg.model, cfg.train, cfg.pruning, cfg.scaling
    c.choice("data.format", d.format, DATA_FORMATS)
    c.choice("data.eval_split", d.eval_split, EVAL_SPLITS)
    if d.format in ("jointbert", "massive", "mtop", "csv", "jsonl", "parquet") and not d.path:
        c.add("data.path", f"format {d.format!r} needs a path")
    if d.format == "hf" and not (d.name or d.path):
        c.add("data.name", "format 'hf' needs a dataset hub id (or data.path to a saved dataset)")
    if d.format == "glue" and not (d.path or d.name or d.task):
        c.add("data.path", "format 'glue' needs a task folder (or data.name for the hub)")
    c.at_least("data.max_train_examples", d.max_train_examples, 1)
    c.at_least("data.sample_seed", d.sample_seed, 0)
    c.fraction("data.validation_fraction", d.validation_fraction)
    if d.test_split is not None:
        c.choice("data.test_split", d.test_split, ("auto", *EVAL_SPLITS))
    syn = d.synthetic
    c.choice("data.synthetic.task", syn.task, SYNTHETIC_TASKS)
    c.at_least("data.synthetic.num_train", syn.num_train, 10)
    c.at_least("data.synthetic.num_eval", syn.num_eval, 10)
    c.at_least("data.synthetic.num_intents", syn.num_intents, 2)
    for key in ("mislabel_fraction", "redundant_fraction", "hard_fraction"):
        c.fraction(f"data.synthetic.{key}", getattr(syn, key))
    if syn.mislabel_fraction + syn.redundant_fraction + syn.hard_fraction >= 1.0:
        c.add("data.synthetic", "mislabel, redundant and hard fractions must sum below 1")

    c.at_least("model.num_layers", m.num_layers, 1)
    c.at_least("model.hidden_size", m.hidden_size, 8)
    c.at_least("model.tiny_layers", m.tiny_layers, 1)
    c.fraction("model.dropout", m.dropout)

    c.at_least("train.epochs", t.epochs, 1)
    c.at_least("train.batch_size", t.batch_size, 1)
    c.at_least("train.eval_batch_size", t.eval_batch_size, 1)
    c.at_least("train.lr", t.lr, 0.0, strict=True)
    c.at_least("train.weight_decay", t.weight_decay, 0.0)
    c.choice("train.lr_schedule", t.lr_schedule, LR_SCHEDULES)
    c.fraction("train.warmup_ratio", t.warmup_ratio)
    c.at_least("train.max_grad_norm", t.max_grad_norm, 0.0)
    c.at_least("train.max_length", t.max_length, 8)
    c.choice("train.precision", t.precision, PRECISIONS)
    c.choice("train.batching", t.batching, BATCHINGS)
    c.choice("train.slot_loss", t.slot_loss, SLOT_LOSSES)
    c.at_least("train.checkpoint_every", t.checkpoint_every, 1)
    c.at_least("train.max_failures", t.max_failures, -1)

    c.choice("pruning.mode", pr.mode, PRUNING_MODES)
    c.choice("pruning.score", pr.score, SCORES)
    c.choice("pruning.joint_combine", pr.joint_combine, JOINT_COMBINE)
    c.choice("pruning.smoothing", pr.smoothing, SMOOTHING)
    c.choice("pruning.budget", pr.budget, BUDGETS)
    c.at_least("pruning.warmup_epochs", pr.warmup_epochs, 0)
    c.at_least("pruning.period_epochs", pr.period_epochs, 1)
    if not 0.0 < pr.keep_fraction <= 1.0:
        c.add("pruning.keep_fraction", f"must be in (0, 1], got {pr.keep_fraction}")
    c.fraction("pruning.explore", pr.explore, closed_high=True)
    if not 0.0 <= pr.offset < 1.0:
        c.fraction("pruning.offset", pr.offset)
    elif pr.offset + pr.keep_fraction > 1.0 + 1e-9 and pr.keep_fraction < 1.0:
        c.add("pruning.offset", f"offset + keep_fraction must be <= 1, got {pr.offset + pr.keep_fraction:g}")
    c.fraction("pruning.reuse_calibration", pr.reuse_calibration, closed_high=True)
    c.fraction("pruning.ema_alpha", pr.ema_alpha)
    c.at_least("pruning.ucb_c", pr.ucb_c, 0.0)
    c.fraction("pruning.prune_ratio", pr.prune_ratio)
    c.fraction("pruning.anneal_fraction", pr.anneal_fraction, closed_high=True)
    if pr.mode == "soft" and pr.score not in SOFT_SCORES:
        c.add("pruning.score", f"mode 'soft' takes its scores from the training forward pass: "
                               f"one of {', '.join(SOFT_SCORES)}, got {pr.score!r}")

    c.at_least("scaling.num_workers", s.num_workers, 1)
    c.choice("scaling.placement_strategy", s.placement_strategy, PLACEMENT_STRATEGIES)
    c.at_least("scaling.cpus_per_worker", s.cpus_per_worker, 0.0, strict=True)

    se = cfg.search
    c.choice("search.sampler", se.sampler, SAMPLERS)
    c.at_least("search.num_samples", se.num_samples, 1)
    c.at_least("search.max_concurrent", se.max_concurrent, 1)
    return c.problems


def run_relation_problems(cfg, source: str = "") -> list[Problem]:
    """Problems that tie one key to another section: a searched value may break them
    in a single run's search space without the run itself being wrong."""
    c = _Checks(source)
    pr, t = cfg.pruning, cfg.train
    if pr.warmup_epochs >= 0 and t.epochs >= 1 and pr.warmup_epochs > t.epochs:
        c.add("pruning.warmup_epochs", f"{pr.warmup_epochs} is longer than train.epochs ({t.epochs})")
    return c.problems


# ---------------------------------------------------------------- study checks


def study_problems(cfg, source: str = "", against_run: bool = False) -> list[Problem]:
    """Problems of the study keys: the search space, objectives, baselines and name.

    Args:
        cfg: a `Config`.
        source: the file named in each problem.
        against_run: also require every searched value to fit the rest of the run
            (a warmup no longer than train.epochs), and a base config whose
            full-data reference can be run (not mode soft unless the mode is
            searched). A study needs that; a single run, which ignores its
            search space, does not.
    """
    c = _Checks(source)
    st = cfg.study
    name = st.name
    if not name.strip() or name in (".", "..") or "/" in name or "\\" in name:
        c.add("study.name", f"must be a folder name (not empty, '.' or '..', no '/' or '\\'), got {name!r}")
    unknown = [obj for obj in st.objectives if not isinstance(obj, str) or obj not in OBJECTIVES]
    for obj in unknown:
        c.add("study.objectives", f"{obj!r} is not reported by a run (known: {', '.join(OBJECTIVES)})")
    times = [obj for obj in st.objectives if obj in TIME_OBJECTIVES]
    if not unknown and (len(st.objectives) != 2 or SCORE not in st.objectives or len(times) != 1):
        c.add("study.objectives", f"must be [{SCORE}, T] with T one of {', '.join(TIME_OBJECTIVES)} "
                                  f"(the front, its hypervolume and its plot are 2-D), got {st.objectives!r}")
    allowed = [m.value for m in BASELINES]
    for base in st.baselines:
        if base not in allowed:
            c.add("study.baselines", f"{base!r} is not one of {', '.join(allowed)}")
    c.at_least("study.seeds", st.seeds, 1)
    if st.epoch_baseline is not False:
        c.choice("study.epoch_baseline", st.epoch_baseline, EPOCH_BASELINES)
    c.choice("study.keep_models", st.keep_models, KEEP_MODELS)
    if not isinstance(st.share_warmup, bool):  # a Config built in Python skips the YAML type check
        c.add("study.share_warmup", f"expected true or false, got {st.share_warmup!r}")
    if not isinstance(st.early_stop, bool):
        c.add("study.early_stop", f"expected true or false, got {st.early_stop!r}")
    margin = st.early_stop_margin
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin <= 0:
        c.add("study.early_stop_margin", f"must be a number of points > 0, got {margin!r}")
    for name in st.trackers:
        if name not in TRACKERS:
            c.add("study.trackers", f"{name!r} is not one of {', '.join(TRACKERS)}")
        elif importlib.util.find_spec(name) is None:
            c.add("study.trackers", f"{name} is not installed (pip install 'raypruning[{name}]')")
    if against_run and cfg.pruning.mode == "soft":  # a single run has no reference
        modes = cfg.search.space.get("mode", cfg.search.space.get("pruning.mode"))
        choices = modes.get("choice", []) if isinstance(modes, dict) else []
        if not any(m != "soft" for m in choices):
            c.add("pruning.mode", "a study's reference trains on all the data (keep_fraction 1), which mode "
                                  "'soft' ignores: base the study on mode dynamic, or search "
                                  "mode: {choice: [dynamic, soft]}")
    return c.problems + space_problems(cfg, source, against_run)


def space_problems(cfg, source: str = "", against_run: bool = False) -> list[Problem]:
    """Problems of ``search.space``: its format, and every end of every range as a run value."""
    space = cfg.search.space
    if not space:
        return [Problem("search.space", "is empty; name at least one key to search", source)]
    known = set(_leaf_keys(cfg))
    problems = []
    for key, spec in space.items():
        where = f"search.space.{key}"
        dotted = full_key(str(key))
        if dotted not in known or dotted.startswith(("search.", "study.")):
            problems.append(Problem(where, f"{dotted!r} is not a config key that a run reads", source))
            continue
        values, message = _spec_values(spec)
        if message:
            problems.append(Problem(where, message, source))
            continue
        if dotted == "pruning.keep_fraction" and next(iter(spec)) == "choice" and 1.0 not in values:
            # The study runs its full-data reference first, as a point of this space.
            problems.append(Problem(where, f"a choice must include 1.0, the full-data reference's keep_fraction "
                                           f"(the study runs it first), got {values!r}", source))
            continue
        for value in values:
            wrong = _trial_value_problems(cfg, dotted, value, against_run)
            if wrong:
                problems.append(Problem(where, f"value {value!r} is invalid: {wrong[0].message}", source))
                break
    return problems


def _spec_values(spec) -> tuple[list, str]:
    """The values whose validity stands for a spec's (the choices, or a range's two ends),
    or a message saying what is wrong with the spec."""
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        return [], f"expected one of {{uniform|loguniform|int: [a, b]}} or {{choice: [...]}}, got {spec!r}"
    kind, args = next(iter(spec.items()))
    if kind == "choice":
        if not (isinstance(args, list) and args):
            return [], "choice needs a non-empty list"
        return list(args), ""
    assert kind in RANGE_KINDS
    if not (isinstance(args, list) and len(args) == 2
            and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)):
        return [], f"{kind} needs two numbers [low, high], got {args!r}"
    if args[0] > args[1]:
        return [], f"low {args[0]} is above high {args[1]}"
    if kind == "int" and not all(float(a).is_integer() for a in args):
        return [], f"int needs integer bounds, got {args!r}"
    if kind == "loguniform" and args[0] <= 0:
        return [], "loguniform needs positive bounds"
    return list(args), ""


# A searched key whose value can break a check reported under another key: pruning.mode
# soft with the base pruning.score grand is a problem of the searched mode.
_TIED_KEYS = {"pruning.mode": ("pruning.score",)}


def _trial_value_problems(cfg, dotted: str, value, against_run: bool) -> list[Problem]:
    """The problems of `dotted` in the run config with `value` set there."""
    trial, problems = cfg.with_values({dotted: value})
    if not problems:
        problems = run_value_problems(trial) + (run_relation_problems(trial) if against_run else [])
    return [p for p in problems if p.key == dotted or p.key in _TIED_KEYS.get(dotted, ())]


def _leaf_keys(node, prefix: str = ""):
    """Every dotted leaf key of a tree of dataclasses."""
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaf_keys(value, prefix + f.name + ".")
        else:
            yield prefix + f.name


# ---------------------------------------------------------------- model checks


def model_problems(model_cfg, source: str = "", this_machine: bool = True) -> list[Problem]:
    """Problems of ``model.name`` and ``model.num_layers``, found without loading weights.

    The depth comes from the model's config.json (``num_hidden_layers``; ``tiny``
    has ``model.tiny_layers``). A hub id not in the local cache is looked up on the
    hub (config.json only) unless the hub is offline, which is a problem.

    Args:
        model_cfg: a `ModelConfig`.
        source: the file named in each problem.
        this_machine: the model is loaded here. False (a job for a cluster) keeps
            only what holds everywhere: the depth of a model whose config is known here.
    """
    from raypruning.models import MINILM, MINILM_MISSING, TINY, minilm_path  # torch: only for model checks

    c = _Checks(source)
    name = model_cfg.name
    if name == TINY:
        depth = model_cfg.tiny_layers
    else:
        try:
            folder = minilm_path() if name == MINILM else None
        except InputError:  # the packaged MiniLM is not installed here
            if this_machine:
                c.add("model.name", MINILM_MISSING)
            return c.problems
        config_json, message = _config_json(name, folder)
        if message and this_machine:
            c.add("model.name", message)
        depth = _depth(config_json)
    if model_cfg.num_layers is not None and depth is not None and model_cfg.num_layers > depth:
        c.add("model.num_layers", f"{model_cfg.num_layers} is more than the {depth} layers of {name!r}")
    return c.problems


def _looks_like_path(name: str) -> bool:
    """A name that can only mean a folder: a hub id is ``name`` or ``owner/name``."""
    return (name.startswith(("/", "./", "../", "~")) or name in (".", "..") or name.count("/") > 1
            or "\\" in name or (os.sep != "/" and os.sep in name))


def _config_json(name: str, folder: str | None) -> tuple[Path | None, str]:
    """The model's config.json (None when not found here) and a problem message ("" for none)."""
    local = Path(folder if folder is not None else name).expanduser()
    if local.is_dir():
        found = local / "config.json"
        return (found, "") if found.is_file() else (None, f"the folder {name!r} has no config.json")
    if _looks_like_path(name):
        return None, f"no such folder {name!r}" if not local.exists() else f"{name!r} is a file, not a model folder"
    import huggingface_hub
    from huggingface_hub import errors

    try:
        cached = huggingface_hub.try_to_load_from_cache(name, "config.json")
    except errors.HFValidationError:
        return None, f"{name!r} is neither a local folder nor a valid model hub id"
    if isinstance(cached, str):
        return Path(cached), ""
    if _hub_offline():
        return None, f"{name!r} is not in the local cache and the model hub is offline (HF_HUB_OFFLINE=1)"
    try:
        # One HEAD request, no retries: a hub out of reach answers in seconds, not minutes.
        huggingface_hub.get_hf_file_metadata(huggingface_hub.hf_hub_url(name, "config.json"), timeout=5)
        return Path(huggingface_hub.hf_hub_download(name, "config.json")), ""
    except errors.RepositoryNotFoundError:  # also gated or private models without a token
        return None, f"{name!r} is not on the model hub (or needs a login: hf auth login)"
    except errors.RemoteEntryNotFoundError:
        return None, f"{name!r} on the model hub has no config.json"
    except Exception as exc:  # no network, proxy, timeout: the hub cannot be reached
        return None, f"{name!r} is not in the local cache and the model hub cannot be reached ({type(exc).__name__})"


def _hub_offline() -> bool:
    """HF_HUB_OFFLINE, as huggingface_hub read it at import or as the environment says now."""
    import huggingface_hub

    return huggingface_hub.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def _depth(config_json: Path | None) -> int | None:
    """The encoder's layer count from its config.json (None when it does not say)."""
    if config_json is None:
        return None
    try:
        data = json.loads(config_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key in ("num_hidden_layers", "n_layers"):  # BERT-like; DistilBERT
        if isinstance(data, dict) and isinstance(data.get(key), int):
            return data[key]
    return None
