"""Search spaces as plain data, and the one function that turns them into Ray Tune domains.

A space maps a dotted config key to one of ``{uniform: [a, b]}``,
``{loguniform: [a, b]}``, ``{int: [a, b]}`` (both ends included) or
``{choice: [...]}``. A bare key (``keep_fraction``) means ``pruning.<key>``.

Whether a space is valid (known keys, every value a valid run value) is
checked with the rest of the study in `raypruning.validate`; the functions
here take a valid space.
"""

from __future__ import annotations

KINDS = ("uniform", "loguniform", "int", "choice")
RANGE_KINDS = ("uniform", "loguniform", "int")  # [low, high]; the rest take a list of values


def full_key(key: str) -> str:
    """The dotted config key a space key stands for: a bare key means ``pruning.<key>``."""
    return key if "." in key else f"pruning.{key}"


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
