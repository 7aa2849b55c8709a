"""Early stopping of dominated trials (``study.early_stop``).

The rule (`decide`) is pure: from the reference's per-epoch curve (same seed),
the points the study has finished (each a cost and a score) and one pruning
trial's report at a pruning event, it says whether the trial can still reach
the front. "Cost" is the study's time objective (``total_time_s`` by default,
or ``wall_time_s`` / ``examples_trained``), counted as a run alone counts it:
not ``cost_s``.

A trial is stopped only when both hold:

1. its score is more than ``margin`` points below the reference's score at the
   same epoch (``gap = reference score at epoch e - trial score > margin``);
2. even its best case is dominated by a finished point. The best case is
   - the lowest final cost it can have: its cost so far plus each remaining
     epoch at the cheapest per-epoch cost it has had so far (a pruned run's
     epochs train the same kept share; an epoch with a scoring pass costs more,
     not less), and
   - the highest final score it is credited with: the reference's final score
     less the current gap plus the margin (it may close up to ``margin`` points
     of its gap by the end, and no more).

With ``study.seeds > 1`` a trial's point is the mean over its seeds' runs, which
run one after another. The run being judged is compared with the reference's
run of its seed, and the bounds are of the mean: a seed already run counts at
its final cost and score, a seed still to run at its reference's final score
plus the margin and at the cheapest epoch so far for every epoch. The
fewer-epochs curve counts as finished points once every seed of the reference
has reported an epoch (the mean over seeds, as the table has it).

A point dominated by a finished point never ends on the front (whatever
dominates it stays on the front or is dominated by a point that is), so the
rule drops a front trial only when a bound is wrong: a later epoch cheaper
than every epoch so far (timing noise; exact for ``examples_trained``), or a
trial that catches up more than ``margin`` points after falling behind. The
second is a bet; `benchmarks/early_stop_replay.py` checks it on recorded
studies.

`StudyEarlyStop` holds a study's state (the reference's curve, the finished
points, each trial's per-epoch costs) and asks `decide` at each pruning
event; `tune_stopper` and `tune_callback` plug it into Ray Tune. The state
lives in the study's driver process and sees what Tune hands it: a trial that
reaches a pruning event before the reference has reported that epoch and its
last one is kept. After ``--resume`` it first takes, without judging them,
the reports Tune recorded before the interruption (`recorded_reports`,
`replay`), so a resumed study stops what the uninterrupted one would.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from raypruning import keys as K
from raypruning.config import apply_overrides, from_dict
from raypruning.schedule import PruningSchedule


@dataclass(frozen=True)
class CurvePoint:
    """The reference after `epoch` epochs (1-based count of epochs trained)."""

    epoch: int
    score: float
    cost: float


@dataclass(frozen=True)
class FrontPoint:
    """A finished point of the study: its cost and score (a trial, or the reference's curve)."""

    cost: float
    score: float


@dataclass(frozen=True)
class TrialReport:
    """One pruning trial after `epoch` of its `epochs` epochs."""

    epoch: int  # epochs trained so far
    epochs: int  # E, the run's epoch budget
    score: float
    cost: float  # cost so far (cumulative)
    epoch_costs: tuple[float, ...]  # the cost of each epoch trained so far


@dataclass(frozen=True)
class OtherSeed:
    """Another seed's run of the trial being judged (study.seeds > 1)."""

    score: float | None  # its final score once run, else its reference's final score (None: not reported yet)
    cost: float | None = None  # its final cost once run; None: it is still to run


@dataclass(frozen=True)
class Decision:
    """What `decide` found; `stop` is the answer, the rest says why."""

    stop: bool
    reason: str
    gap: float | None = None  # the reference's score at the epoch less the trial's, points
    best_cost: float | None = None  # lower bound of the trial's final cost
    best_score: float | None = None  # the final score it is credited with at most
    dominated_by: FrontPoint | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def cheapest_epoch(report: TrialReport) -> float:
    """The lowest cost of an epoch the trial has trained (0 before any): what any later epoch costs at least."""
    return max(min(report.epoch_costs, default=0.0), 0.0)


def best_cost(report: TrialReport) -> float:
    """The lowest final cost the trial can have: cost so far plus each remaining epoch at the
    cheapest per-epoch cost it has had so far."""
    return report.cost + max(report.epochs - report.epoch, 0) * cheapest_epoch(report)


def _dominates(p: FrontPoint, cost: float, score: float) -> bool:
    """p at least as good on both and strictly better on one (the table's Pareto rule)."""
    return p.cost <= cost and p.score >= score and (p.cost < cost or p.score > score)


def decide(reference: Sequence[CurvePoint], front: Sequence[FrontPoint], report: TrialReport,
           margin: float, others: Sequence[OtherSeed] = ()) -> Decision:
    """Whether a pruning trial, at a pruning event, can still reach the front (module docstring).

    Args:
        reference: the reference run's curve (same seed), one point per epoch it has reported;
            its final point is the one at report.epochs.
        front: the finished points (any finished point will do; dominated ones never decide).
        report: the trial now.
        margin: points (> 0) the trial may still gain on the reference's curve.
        others: the trial's other seeds (study.seeds > 1): its point is the mean over all.

    Returns:
        A Decision: stop is True only when the trial is more than margin below the curve and its
        best case is dominated by a front point.
    """
    curve = {p.epoch: p for p in reference}
    now, final = curve.get(report.epoch), curve.get(report.epochs)
    if now is None or final is None:
        return Decision(False, f"the reference has not reported epochs {report.epoch} and {report.epochs} yet")
    gap = now.score - report.score
    cost = best_cost(report)
    score = final.score - gap + margin
    if not gap > margin:
        return Decision(False, f"{gap:.2f} points below the reference's curve, not more than {margin:g}",
                        gap, cost, score)
    if any(o.score is None for o in others):
        return Decision(False, "the reference has not finished the run of every seed yet", gap, cost, score)
    if others:  # the mean over seeds: a seed still to run may gain the margin on its reference
        floor = cheapest_epoch(report) * report.epochs
        cost = (cost + sum(floor if o.cost is None else o.cost for o in others)) / (1 + len(others))
        score = (score + sum(o.score + margin if o.cost is None else o.score for o in others)) / (1 + len(others))
    beaten = next((p for p in front if _dominates(p, cost, score)), None)
    if beaten is None:
        return Decision(False, "its best case is not dominated by a finished point", gap, cost, score)
    return Decision(True, f"{gap:.2f} points below the reference's curve at epoch {report.epoch}; "
                          f"even at cost {cost:.4g} and score {score:.2f} a finished point "
                          f"({beaten.cost:.4g}, {beaten.score:.2f}) dominates it", gap, cost, score, beaten)


def at_event(schedule: PruningSchedule, epoch: int) -> bool:
    """Whether a report after `epoch` epochs comes at a pruning event: the next epoch starts with
    one, and the trial has trained on a pruned set before (never in its warmup)."""
    return schedule.prunes and schedule.warmup_epochs < epoch < schedule.epochs and schedule.is_event(epoch)


def recorded_reports(tune_dir: Path) -> list[dict]:
    """Every report of a study's trials as Tune recorded them (``<tune>/<trial>/result.json``,
    one line each with the trial's id, config and a timestamp), in the order the study got them."""
    out = []
    for order, path in enumerate(sorted(Path(tune_dir).glob("*/result.json"))):
        for line_no, line in enumerate(path.read_text().splitlines()):
            if line.strip():
                result = json.loads(line)
                out.append((result.get("timestamp", 0), line_no, order, result))
    return [r for *_, r in sorted(out, key=lambda item: item[:3])]


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass
class StudyEarlyStop:
    """One study's early-stopping state, fed every Tune result (`observe`).

    Args:
        reference: the reference point's searched values (the trial that draws the curve).
        base_config: the study's base config, as a dict (its train.seed and study.seeds say
            which seeds every trial runs).
        time_col: the study's time objective: the cost the rule bounds.
        margin: study.early_stop_margin.
        epoch_curve: the reference's curve points are rows of the table (study.epoch_baseline
            curve), so they count as finished points too.
    """

    reference: dict
    base_config: dict
    time_col: str
    margin: float
    epoch_curve: bool = False
    curves: dict[int, list[CurvePoint]] = field(default_factory=dict)  # seed -> the reference's run of it
    front: list[FrontPoint] = field(default_factory=list)
    stopped: dict[str, Decision] = field(default_factory=dict)
    _references: set = field(default_factory=set)  # trial ids of the reference point: they draw the curves
    _schedules: dict = field(default_factory=dict)  # trial id -> PruningSchedule, for the trials that may stop
    _costs: dict = field(default_factory=dict)  # (trial id, seed) -> {epoch: cumulative cost}
    _finals: dict = field(default_factory=dict)  # trial id -> {seed: FrontPoint of its run of that seed}

    @property
    def seeds(self) -> list[int]:
        first = int(self.base_config["train"]["seed"])
        return list(range(first, first + int(self.base_config["study"]["seeds"])))

    def start(self, trial_id: str, params: dict) -> None:
        """Note a trial's Tune config: only a sampled pruning trial may be stopped."""
        from raypruning.study.trials import BASELINE_KEY

        if BASELINE_KEY in params:
            return
        if all(params.get(k) == v for k, v in self.reference.items()):
            self._references.add(trial_id)
            return
        cfg = from_dict(apply_overrides(self.base_config, params), source=f"<trial {trial_id}>")
        schedule = PruningSchedule.from_config(cfg)
        if schedule.prunes:
            self._schedules[trial_id] = schedule

    def observe(self, trial_id: str, result: dict) -> bool:
        """Take one Tune result of a trial; True when the trial should stop now."""
        taken = self._take(trial_id, result)
        if taken is None:
            return False
        seed, report = taken
        others = [self._other(trial_id, s, report.epochs) for s in self.seeds if s != seed]
        decision = decide(self.curves.get(seed, []), self.front, report, self.margin, others)
        if decision.stop:
            self.stopped[trial_id] = decision
        return decision.stop

    def replay(self, reports: Iterable[dict]) -> int:
        """Take the reports of an interrupted study (`recorded_reports`) without judging them:
        the curves, the finished points and each trial's costs so far. Returns how many trials."""
        seen: set[str] = set()
        for result in reports:
            trial_id = str(result.get("trial_id"))
            if trial_id not in seen:
                seen.add(trial_id)
                self.start(trial_id, dict(result.get("config") or {}))
            self._take(trial_id, result)
        return len(seen)

    def _other(self, trial_id: str, seed: int, epochs: int) -> OtherSeed:
        """The trial's run of another seed: its final point once run, else its reference's final score."""
        done = self._finals.get(trial_id, {}).get(seed)
        if done is not None:
            return OtherSeed(done.score, done.cost)
        final = {p.epoch: p for p in self.curves.get(seed, [])}.get(epochs)
        return OtherSeed(None if final is None else final.score)

    def _take(self, trial_id: str, result: dict) -> tuple[int, TrialReport] | None:
        """Record a result; the seed and report to judge when it is a stoppable trial's at a pruning event."""
        score, cost = _number(result.get(K.SCORE)), _number(result.get(self.time_col))
        if score is None or cost is None:
            return None
        if result.get(K.DONE) and K.SEED_RUNS in result:  # a trial's final report: a finished point
            self.front.append(FrontPoint(cost, score))
            return None
        epoch = int(result.get(K.EPOCH) or 0)
        seed = int(result.get(K.SEED, self.seeds[0]))  # reports written before they named their seed: one seed
        if trial_id in self._references:
            self.curves.setdefault(seed, []).append(CurvePoint(epoch, score, cost))
            if self.epoch_curve:
                self._add_curve_point(epoch)
            return None
        schedule = self._schedules.get(trial_id)
        if schedule is None or trial_id in self.stopped:
            return None
        # By epoch: a trial resumed from a checkpoint reports again the epochs after it.
        costs = self._costs.setdefault((trial_id, seed), {})
        costs[epoch] = cost
        if epoch == schedule.epochs:
            self._finals.setdefault(trial_id, {})[seed] = FrontPoint(cost, score)
        if not at_event(schedule, epoch):
            return None
        so_far = [costs[e] for e in sorted(costs) if e <= epoch]
        steps = tuple(b - a for a, b in zip([0.0, *so_far[:-1]], so_far))
        return seed, TrialReport(epoch, schedule.epochs, score, cost, steps)

    def _add_curve_point(self, epoch: int) -> None:
        """The fewer-epochs point after `epoch` epochs, once every seed's reference has reported it
        (the table's point is the mean over seeds)."""
        points = [{p.epoch: p for p in self.curves.get(s, [])}.get(epoch) for s in self.seeds]
        if all(p is not None for p in points):
            self.front.append(FrontPoint(sum(p.cost for p in points) / len(points),
                                         sum(p.score for p in points) / len(points)))

    def tag(self, trial_id: str, result: dict) -> None:
        """Mark a stopped trial's last result, so the trials table reads it as stopped."""
        decision = self.stopped.get(trial_id)
        if decision is not None:
            result[K.EARLY_STOP] = decision.to_json()

    # ---- Ray Tune

    def tune_stopper(self):
        """A `ray.tune.Stopper` that asks the rule at each result of a trial."""
        from ray.tune import Stopper

        state = self

        class StopDominatedTrials(Stopper):
            def __call__(self, trial_id, result):
                return state.observe(trial_id, result)

            def stop_all(self):
                return False

        return StopDominatedTrials()

    def tune_callback(self):
        """A `ray.tune.Callback` that gives the state each trial's config, and tags a stopped
        trial's result (Tune lets callbacks change a result in place before it is kept)."""
        from ray.tune import Callback

        state = self

        class TagStoppedTrials(Callback):
            def on_trial_start(self, iteration, trials, trial, **info):
                state.start(trial.trial_id, dict(trial.config))

            def on_trial_result(self, iteration, trials, trial, result, **info):
                state.tag(trial.trial_id, result)

        return TagStoppedTrials()
