"""Search spaces as plain data, and the one function that turns them into Ray Tune domains.

A space maps a dotted config key to one of ``{uniform: [a, b]}``,
``{loguniform: [a, b]}``, ``{int: [a, b]}`` (both ends included) or
``{choice: [...]}``. A bare key (``keep_fraction``) means ``pruning.<key>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from raypruning.config import Config

KINDS = ("uniform", "loguniform", "int", "choice")
RUN_RELATION = "is longer than train.epochs"  # the one check that depends on the rest of the run


def full_key(key: str) -> str:
    return key if "." in key else f"pruning.{key}"


def space_problems(space: dict, cfg: "Config", against_run: bool = False) -> list[str]:
    """Problems with a search space, one line each naming the key.

    Every end of a range must be a valid value of its key. With against_run,
    it must also fit the rest of the run config (a warmup no longer than
    train.epochs): a study checks that, a single run ignores its search space.
    """
    from raypruning.config import apply_overrides, config_keys, read_number

    problems = []
    if not space:
        return ["key 'search.space': is empty; name at least one key to search"]
    known = config_keys()
    for key, spec in space.items():
        where = f"key 'search.space.{key}'"
        dotted = full_key(str(key))
        if dotted not in known or dotted.startswith(("search.", "study.")):
            problems.append(f"{where}: {dotted!r} is not a config key that a run reads")
            continue
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
            problems.append(f"{where}: expected one of {{uniform|loguniform|int: [a, b]}} or {{choice: [...]}}, got {spec!r}")
            continue
        kind, args = next(iter(spec.items()))
        if kind == "choice":
            values = args if isinstance(args, list) and args else None
            if values is None:
                problems.append(f"{where}: choice needs a non-empty list")
                continue
        else:
            if isinstance(args, list):
                args = [read_number(a) for a in args]
            if not (isinstance(args, list) and len(args) == 2 and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)):
                problems.append(f"{where}: {kind} needs two numbers [low, high], got {args!r}")
                continue
            if args[0] > args[1]:
                problems.append(f"{where}: low {args[0]} is above high {args[1]}")
                continue
            if kind == "int" and not all(float(a).is_integer() for a in args):
                problems.append(f"{where}: int needs integer bounds, got {args!r}")
                continue
            if kind == "loguniform" and args[0] <= 0:
                problems.append(f"{where}: loguniform needs positive bounds")
                continue
            values = list(args)
        # Every end of the range must itself give a valid config.
        base = cfg.to_dict()
        for v in values:
            try:
                _check_trial_value(apply_overrides(base, {dotted: v}), dotted, against_run)
            except _Bad as exc:
                problems.append(f"{where}: value {v!r} is invalid: {exc}")
                break
    return problems


class _Bad(Exception):
    pass


def _check_trial_value(raw: dict, dotted: str, against_run: bool) -> None:
    """Validate a run config with one searched value, ignoring the warmup/epochs link."""
    from raypruning.config import Config, _build, _check_ranges

    problems: list[str] = []
    cfg = _build(Config, raw, "", "", problems)
    if problems:
        raise _Bad(problems[0].split(": ", 1)[-1])
    for line in _check_ranges(cfg, check_space=False):
        if f"'{dotted}'" in line and (against_run or RUN_RELATION not in line):
            raise _Bad(line.split(": ", 1)[-1])


def to_tune_space(space: dict) -> dict:
    """Turn the plain-data space into Ray Tune domains keyed by dotted config key."""
    from ray import tune

    out = {}
    for key, spec in space.items():
        kind, args = next(iter(spec.items()))
        dotted = full_key(key)
        if kind == "uniform":
            out[dotted] = tune.uniform(float(args[0]), float(args[1]))
        elif kind == "loguniform":
            out[dotted] = tune.loguniform(float(args[0]), float(args[1]))
        elif kind == "int":
            out[dotted] = tune.randint(int(float(args[0])), int(float(args[1])) + 1)  # Tune's upper bound is exclusive
        else:
            out[dotted] = tune.choice(list(args))
    return out


def grid_points(space: dict, steps: int = 3) -> list[dict]:
    """All combinations for the grid sampler: choices as given, ranges at `steps` points."""
    import itertools

    axes = []
    for key, spec in space.items():
        kind, args = next(iter(spec.items()))
        if kind == "choice":
            values = list(args)
        elif kind == "int":
            values = list(range(int(float(args[0])), int(float(args[1])) + 1))
        else:
            lo, hi = float(args[0]), float(args[1])
            values = [lo + (hi - lo) * i / (steps - 1) for i in range(steps)] if steps > 1 else [lo]
        axes.append((full_key(key), values))
    return [dict(zip([k for k, _ in axes], combo)) for combo in itertools.product(*[v for _, v in axes])]
