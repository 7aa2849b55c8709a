"""The fewer-epochs baseline: what full-data training reaches for the cost a pruned run paid.

With a constant learning rate, the first k epochs of the E-epoch full-data
reference are the run that training for k epochs would have been, so the
reference's score after each epoch against its cumulative cost (training
steps plus scoring, `total_time_s`) is the "full data, fewer epochs" curve.
A pruned run beats that curve when its score is above the curve's at its own
cost: pruning then bought more than simply stopping earlier would have.

No Ray, no torch: plain numbers, so that the interpolation is unit-tested.
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class EpochCurve:
    """Cumulative cost (seconds) and score after each epoch of one full-data run."""

    times: tuple[float, ...]
    scores: tuple[float, ...]

    def __post_init__(self):
        if not self.times or len(self.times) != len(self.scores):
            raise ValueError("an epoch curve needs one score per epoch, at least one epoch")
        if any(b <= a for a, b in zip(self.times, self.times[1:])):
            raise ValueError(f"cumulative times must increase: {self.times}")

    @classmethod
    def from_run(cls, run: dict, score_key: str = "test_score_by_epoch", time_scale: float = 1.0) -> EpochCurve | None:
        """The curve of a slimmed full-data run (benchmarks/common.py slim), or None when a score is missing.

        `time_scale` stretches the times, so that the curve ends at the
        reference time the time savings divide by (the mean of the two
        bracketing reference runs), not at the first run's own.
        """
        times, scores = run.get("total_time_by_epoch") or [], run.get(score_key) or []
        if not times or len(times) != len(scores) or any(v is None for v in (*times, *scores)):
            return None
        return cls(tuple(t * time_scale for t in times), tuple(scores))

    def score_at(self, cost: float) -> float:
        """The score at this cost, linear between epochs; clamped outside the curve.

        Below the first epoch's cost the curve has no point: it gets the first
        epoch's score (generous to the baseline, so a pruned run's lead is not
        overstated); above the last epoch's cost, the last epoch's score.
        """
        return _interpolate(self.times, self.scores, cost)

    def epochs_at(self, cost: float) -> float:
        """How many epochs (fractional) of full data this cost buys, clamped to 1..E like score_at."""
        return _interpolate(self.times, tuple(float(k) for k in range(1, len(self.times) + 1)), cost)


def _interpolate(xs: tuple[float, ...], ys: tuple[float, ...], x: float) -> float:
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


@dataclass(frozen=True)
class EqualCost:
    """A pruned method against the fewer-epochs curve, averaged over seeds."""

    delta: float  # mean over seeds of (pruned score - curve score at the pruned run's cost)
    delta_std: float  # their sample standard deviation (0 with one seed)
    epochs: float  # mean fractional epoch count of the curve at those costs
    per_seed: dict[str, float]  # seed -> delta


def equal_cost(pruned: dict[str, tuple[float, float]], curves: dict[str, EpochCurve]) -> EqualCost | None:
    """`pruned`: seed -> (cost, score) of the pruned runs; `curves`: seed -> the same seed's reference curve.

    Each seed is compared with its own reference, then the deltas averaged;
    None when no seed has both.
    """
    seeds = [s for s in pruned if s in curves]
    if not seeds:
        return None
    deltas = {s: pruned[s][1] - curves[s].score_at(pruned[s][0]) for s in seeds}
    values = list(deltas.values())
    return EqualCost(delta=statistics.mean(values),
                     delta_std=statistics.stdev(values) if len(values) > 1 else 0.0,
                     epochs=statistics.mean(curves[s].epochs_at(pruned[s][0]) for s in seeds),
                     per_seed=deltas)


def mean_curve(curves: list[EpochCurve], reference_costs: list[float], reference_scores: list[float]) -> list[dict]:
    """The curve averaged over seeds, as the plot draws it: per epoch the cost as a fraction of each seed's
    reference cost and the score minus each seed's reference score (so the last epoch sits at 1.0, 0)."""
    if not curves or len({len(c.times) for c in curves}) != 1:
        return []
    out = []
    for k in range(len(curves[0].times)):
        out.append({"epoch": k + 1,
                    "time_fraction": statistics.mean(c.times[k] / t for c, t in zip(curves, reference_costs)),
                    "score_delta": statistics.mean(c.scores[k] - s for c, s in zip(curves, reference_scores))})
    return out
