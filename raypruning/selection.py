"""Which examples to keep, given their scores: pure functions, no Ray, no torch.

Keeping the highest scores trains on the examples the model finds hardest;
an optional offset skips the very top (likely mislabelled) share first, and
an optional explore share of the budget goes to random other examples.
Ties are broken by a seeded random permutation so that equal scores do not
favour low ids.

The budget is counted in examples (`select_top`, `select_random`) or in tokens
(`select_top_tokens`, `select_random_tokens`): with tokens, examples are taken
in rank order until they hold the kept fraction of all the training tokens, so
a long example costs its length.
"""

from __future__ import annotations

import numpy as np


def num_kept(num_examples: int, keep_fraction: float) -> int:
    """How many examples a keep fraction keeps (at least one)."""
    return max(1, min(num_examples, int(round(keep_fraction * num_examples))))


def select_top(scores: np.ndarray, keep_fraction: float, rng: np.random.Generator,
               offset: float = 0.0, explore: float = 0.0) -> np.ndarray:
    """Ids (positions in `scores`) of the kept examples, sorted ascending.

    Keeps k = num_kept(N, keep_fraction) examples: the (1 - explore) share of
    k ranked from offset * N down by descending score, and the explore share
    drawn uniformly from all the others (epsilon-greedy, Raju et al. 2021: an
    example whose score is stale or noisy still gets a chance to be seen).
    NaN scores rank last.
    """
    n = len(scores)
    k = num_kept(n, keep_fraction)
    greedy = k - int(round(explore * k))
    skip = min(int(round(offset * n)), n - greedy)
    tiebreak = rng.permutation(n)
    key = np.where(np.isnan(scores), -np.inf, scores)
    order = np.lexsort((tiebreak, -key))  # primary: score descending; then random
    top = order[skip: skip + greedy]
    if greedy == k:
        return np.sort(top)
    rest = np.concatenate([order[:skip], order[skip + greedy:]])
    explored = rng.choice(rest, size=k - greedy, replace=False)
    return np.sort(np.concatenate([top, explored]))


def _ranked(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ids by descending score, NaN last, ties in a seeded random order."""
    tiebreak = rng.permutation(len(scores))
    key = np.where(np.isnan(scores), -np.inf, scores)
    return np.lexsort((tiebreak, -key))


def _filling(lengths_in_order: np.ndarray, budget: float) -> int:
    """How many leading examples it takes for their tokens to reach budget (0 for no budget)."""
    if budget <= 0 or len(lengths_in_order) == 0:
        return 0
    return min(len(lengths_in_order), int(np.searchsorted(np.cumsum(lengths_in_order), budget)) + 1)


def select_top_tokens(scores: np.ndarray, lengths: np.ndarray, keep_fraction: float, rng: np.random.Generator,
                      offset: float = 0.0, explore: float = 0.0) -> np.ndarray:
    """Like `select_top` with a token budget: ids sorted ascending.

    Skips the top-ranked examples holding the offset share of all tokens, then
    keeps examples in rank order until they hold (1 - explore) * keep_fraction
    of all tokens, then random other examples until the kept ones hold
    keep_fraction of all tokens. Each share is reached or just passed by its
    last example; at least one example is kept.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    total = float(lengths.sum())
    budget = keep_fraction * total
    order = _ranked(scores, rng)
    skip = _filling(lengths[order], offset * total) if offset > 0 else 0
    greedy = max(1, _filling(lengths[order[skip:]], (1.0 - explore) * budget)) if explore < 1 else 0
    top = order[skip: skip + greedy]
    rest = np.concatenate([order[:skip], order[skip + greedy:]])
    if explore <= 0 or len(rest) == 0:
        return np.sort(top)
    shuffled = rng.permutation(rest)
    explored = shuffled[: _filling(lengths[shuffled], budget - lengths[top].sum())]
    kept = np.concatenate([top, explored])
    return np.sort(kept if len(kept) else shuffled[:1])


def select_random_tokens(lengths: np.ndarray, keep_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random subset holding keep_fraction of all tokens (at least one example), sorted."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = rng.permutation(len(lengths))
    return np.sort(order[: max(1, _filling(lengths[order], keep_fraction * float(lengths.sum())))])


def select_random(num_examples: int, keep_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random subset of ids, sorted ascending."""
    k = num_kept(num_examples, keep_fraction)
    return np.sort(rng.choice(num_examples, size=k, replace=False))


def smooth(scores: np.ndarray, state: dict | None, mode: str, alpha: float = 0.8,
           c: float = 1.0) -> tuple[np.ndarray, dict | None]:
    """Smooth scores across pruning events.

    ``ema``: m = alpha m_prev + (1 - alpha) s. ``ucb``: m plus c times an
    exponentially weighted standard deviation (a bonus for examples whose
    score moves). Returns the scores to select on and the new state.
    """
    if mode == "none":
        return scores, state
    if state is None:
        mean, var = scores.astype(np.float64), np.zeros_like(scores, dtype=np.float64)
    else:
        prev = state["mean"]
        diff = scores - prev
        mean = prev + (1 - alpha) * diff
        var = alpha * (state["var"] + (1 - alpha) * diff**2)
    new_state = {"mean": mean, "var": var}
    if mode == "ema":
        return mean, new_state
    return mean + c * np.sqrt(var), new_state
