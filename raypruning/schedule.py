"""The pruning curriculum's calendar: which epochs score and re-select, and
what the run costs compared with full-data training.

Warm up tau epochs on everything; then every T epochs (dynamic) or once
(static) score all examples and keep the fraction f. With f = 1 or mode
``full`` nothing is ever pruned.

Mode ``soft`` (InfoBatch, `raypruning.soft`) selects before every epoch from
the training-pass scores: epoch 0 and the last ceil(anneal_fraction * E)
epochs train everything, the epochs between skip a random share r of the
below-mean examples. How many that is depends on the scores, so its ideal
fraction is known only as the run goes (`soft_ideal_fraction`).
"""

from __future__ import annotations

from dataclasses import dataclass

from raypruning.selection import num_kept
from raypruning.soft import epoch_sizes, pruned_epochs


@dataclass(frozen=True)
class PruningSchedule:
    epochs: int  # E
    mode: str  # full, static, dynamic, soft
    warmup_epochs: int  # tau
    period_epochs: int  # T
    keep_fraction: float  # f
    budget: str = "examples"  # what f counts: examples or tokens
    prune_ratio: float = 0.5  # soft: r, the share of below-mean examples skipped
    anneal_fraction: float = 0.125  # soft: the final share of epochs on all data

    @classmethod
    def from_config(cls, cfg) -> "PruningSchedule":
        return cls(cfg.train.epochs, cfg.pruning.mode, cfg.pruning.warmup_epochs,
                   cfg.pruning.period_epochs, cfg.pruning.keep_fraction, cfg.pruning.budget,
                   cfg.pruning.prune_ratio, cfg.pruning.anneal_fraction)

    @property
    def soft(self) -> bool:
        return self.mode == "soft"

    @property
    def prunes(self) -> bool:
        if self.soft:
            return self.prune_ratio > 0 and len(pruned_epochs(self.epochs, self.anneal_fraction)) > 0
        return self.mode != "full" and self.keep_fraction < 1.0 and self.warmup_epochs < self.epochs

    def is_event(self, epoch: int) -> bool:
        """Whether the examples are scored and re-selected before this (0-based) epoch
        (soft: a selection before every epoch, from the training-pass scores)."""
        if self.soft:
            return self.prunes
        if not self.prunes or epoch < self.warmup_epochs:
            return False
        if self.mode == "static":
            return epoch == self.warmup_epochs
        return (epoch - self.warmup_epochs) % self.period_epochs == 0

    def scores_from_training(self, epoch: int) -> bool:
        """Whether this epoch's training pass can stand in for the next event's scoring pass.

        Never the first epoch: its training pass meets each example before the model has
        learnt anything, so those scores would mostly reflect the visiting order.
        Soft pruning has no scoring pass: every epoch before its last pruned one keeps
        its training-pass scores, the first included.
        """
        if self.soft:
            return self.prunes and epoch + 1 < pruned_epochs(self.epochs, self.anneal_fraction).stop
        return 1 <= epoch and epoch + 1 < self.epochs and self.is_event(epoch + 1)

    def checkpoint_after(self, epoch: int, every: int) -> bool:
        """Whether the run checkpoints after this (0-based) epoch: every ``every`` epochs, after the
        last epoch, and just before each pruning event (a failure in the event then loses no training)."""
        last = epoch + 1 == self.epochs
        return last or (epoch + 1) % every == 0 or self.is_event(epoch + 1)

    def event_epochs(self) -> list[int]:
        return [e for e in range(self.epochs) if self.is_event(e)]

    def examples_per_epoch(self, num_examples: int) -> list[int]:
        """Examples trained in each epoch (with a token budget an estimate: f of the examples,
        since how many examples fill f of the tokens depends on which are kept; soft: all of
        them, an upper bound, see soft_ideal_fraction)."""
        k = num_kept(num_examples, self.keep_fraction)
        pruned = self.prunes
        return [num_examples if (not pruned or e < self.warmup_epochs) else k for e in range(self.epochs)]

    def ideal_fraction(self, num_examples: int | None = None) -> float:
        """Training work relative to full data: (tau + f (E - tau)) / E.

        With an example budget and N given, exact example counts (f N rounded); with a token
        budget the work is counted in tokens, of which each pruned epoch trains the share f.
        """
        if num_examples and self.budget == "examples":
            return sum(self.examples_per_epoch(num_examples)) / (self.epochs * num_examples)
        if not self.prunes or self.soft:
            return 1.0
        tau = self.warmup_epochs
        return (tau + self.keep_fraction * (self.epochs - tau)) / self.epochs

    def soft_ideal_fraction(self, num_examples: int, below_mean: dict[int, int]) -> float:
        """A soft run's training work relative to full data, from the below-mean count of each
        pruned epoch (known only once that epoch's selection is made, so computed as the run goes):
        sum_e (N - floor(r * below_e)) / (N E), exact, not an expectation."""
        sizes = epoch_sizes(num_examples, self.epochs, self.anneal_fraction, self.prune_ratio, below_mean)
        return sum(sizes) / (self.epochs * num_examples)
