"""Console progress of a run: one line per epoch, and the summary table at the end."""

from __future__ import annotations

import ray.train

from raypruning import keys as K


def epoch_line(m: dict) -> str:
    return (f"epoch {m[K.EPOCH]:>3}  kept {m[K.KEPT_FRACTION]:6.1%}  loss {m[K.LOSS]:.4f}  "
            f"{m[K.METRIC]} {m[K.SCORE]:6.2f}  train {m[K.TRAIN_TIME]:7.1f}s  scoring {m[K.SCORING_TIME]:6.1f}s")


class EpochProgress(ray.train.UserCallback):
    """Prints rank 0's report after every epoch (runs in the Ray Train controller)."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix

    def after_report(self, run_context, metrics, checkpoint):
        if metrics and K.EPOCH in metrics[0]:
            print(f"{self.prefix}{epoch_line(metrics[0])}", flush=True)


def summary_table(summary: dict) -> str:
    """A readable end-of-run table."""
    full = summary[K.FULL_DATA_EXAMPLES]
    rows = [
        (summary[K.METRIC], f"{summary[K.SCORE]:.2f}"),
        *[(f"  {k}", f"{v:.2f}") for k, v in summary[K.METRICS].items() if k != summary[K.METRIC]],
        ("examples trained", f"{summary[K.EXAMPLES_TRAINED]} of {full} ({summary[K.EXAMPLES_TRAINED] / full:.1%})"),
        ("ideal time fraction", f"{summary.get(K.IDEAL_FRACTION, float('nan')):.3f}"),
        ("train time", f"{summary[K.TRAIN_TIME]:.1f} s"),
        ("scoring time", f"{summary[K.SCORING_TIME]:.1f} s"),
        ("total (train + scoring)", f"{summary[K.TOTAL_TIME]:.1f} s"),
        ("wall time", f"{summary[K.WALL_TIME]:.1f} s"),
        ("pruning events", str(len(summary[K.PRUNING_EVENTS]))),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
