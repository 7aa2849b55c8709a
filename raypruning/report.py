"""How a study's front is shown: the console table, the PNG and the hover-able HTML page.

Rendering only; which rows are on the front comes from `raypruning.pareto`.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from raypruning import keys as K
from raypruning.errors import InputError
from raypruning.keys import Method
from raypruning.pareto import fewer_epochs_rival, pareto_mask, time_column

_AXIS_LABELS = {
    "score": "score (points)",
    "total_time_s": "training + scoring time (s)",
    "wall_time_s": "wall time (s)",
    "examples_trained": "examples trained",
}


# --- plots and tables -----------------------------------------------------------------


def _plot_axes(objectives: dict[str, str]) -> tuple[str, str]:
    """(x column, y column): y is `score` (or the first maximized objective), x the next objective."""
    if len(objectives) < 2:
        raise InputError(f"plot: needs two objectives, got {list(objectives)}")
    cols = list(objectives)
    if "score" in objectives:
        y = "score"
    else:
        y = next((c for c in cols if objectives[c] == "max"), cols[0])
    x = next(c for c in cols if c != y)
    return x, y


def _front_path(front: pd.DataFrame, x: str, y: str, x_direction: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Front points sorted by x, and the step style that draws its attainment line."""
    ordered = front.sort_values([x, y], kind="mergesort")
    # With x minimized, the best y reachable at x is that of the last point to its left.
    where = "post" if x_direction == "min" else "pre"
    return ordered[x].to_numpy(dtype=float), ordered[y].to_numpy(dtype=float), where


def _step_points(xs: np.ndarray, ys: np.ndarray, where: str) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for i, (px, py) in enumerate(zip(xs, ys)):
        if i:
            points.append((px, ys[i - 1]) if where == "post" else (xs[i - 1], py))
        points.append((px, py))
    return points


def _keep_label(row: pd.Series) -> str:
    """f=0.50 beside a pruned point; the epoch count beside a point of the fewer-epochs curve."""
    if row.get(K.METHOD) == Method.FULL_EPOCHS.value:
        return f"{int(row[K.EPOCHS])} ep"
    if _is_soft(row):
        ratio = _soft_value(row, "prune_ratio")
        return "soft" if ratio is None else f"r={ratio:.2f}"
    keep = row.get("keep_fraction", np.nan)
    try:
        return f"f={float(keep):.2f}" if np.isfinite(float(keep)) else ""
    except (TypeError, ValueError):
        return ""


_SOFT = (Method.SOFT_EL2N.value, Method.SOFT_LOSS.value)


def _is_soft(row: pd.Series) -> bool:
    return row.get(K.METHOD) in _SOFT


def _soft_value(row: pd.Series, name: str) -> float | None:
    """A soft setting's pruning.<name> (prune_ratio, anneal_fraction): its column when searched,
    else its stored overrides; None when the row ran the base config's value."""
    value = row.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        try:
            value = json.loads(row.get(K.OVERRIDES) or "{}").get(f"pruning.{name}")
        except (TypeError, ValueError):
            value = None
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _is_reference(df: pd.DataFrame) -> np.ndarray:
    mask = np.zeros(len(df), dtype=bool)
    if "is_reference" in df.columns:
        mask |= df["is_reference"].astype("boolean").fillna(False).astype(bool).to_numpy()
    if K.METHOD in df.columns:
        mask |= (df[K.METHOD] == Method.REFERENCE.value).fillna(False).to_numpy(dtype=bool)
    return mask


def _methods(df: pd.DataFrame) -> np.ndarray:
    if K.METHOD not in df.columns:
        return np.full(len(df), "", dtype=object)
    return df[K.METHOD].fillna("").astype(str).to_numpy(dtype=object)


_BASELINE_MARKERS = {Method.STATIC_EL2N.value: ("s", "tab:orange"), Method.DYNAMIC_RANDOM.value: ("^", "tab:green"),
                      Method.SOFT_EL2N.value: ("D", "tab:brown"), Method.SOFT_LOSS.value: ("D", "tab:pink")}


def plot_front(df: pd.DataFrame, objectives: dict[str, str], png_path: str | os.PathLike, html_path: str | os.PathLike | None = None, title: str = "") -> None:
    """Draw score (y) against time (x): all trials grey, the Pareto front as a step line.

    The reference is a labelled star; baselines (method static-el2n or
    dynamic-random) and soft pruning (soft-el2n, soft-loss) have their own
    markers; every point is annotated with its keep fraction (soft: its prune
    ratio r). Rows with a missing objective are not drawn. With html_path,
    also writes a self-contained HTML page with an inline SVG of the same
    points, each with a tooltip listing its settings.

    Args:
        df: the trials table.
        objectives: column -> "max"/"min"; the front is computed on all of
            them, the axes are `score` (or the first maximized one) and the
            next objective.
        png_path: the PNG to write.
        html_path: optional interactive HTML to write.
        title: figure title.
    """
    from matplotlib.figure import Figure  # no pyplot: leaves the global backend alone

    x, y = _plot_axes(objectives)
    mask = pareto_mask(df, objectives)
    xs = pd.to_numeric(df[x], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ys = pd.to_numeric(df[y], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    drawn = np.isfinite(xs) & np.isfinite(ys)
    ref = _is_reference(df) & drawn
    methods = _methods(df)

    fig = Figure(figsize=(7, 4.5), dpi=120)
    ax = fig.add_subplot()
    ax.scatter(xs[drawn], ys[drawn], s=18, color="0.65", label="trials", zorder=2)
    if K.SCORE_STD in df.columns and y == K.SCORE:
        err = pd.to_numeric(df[K.SCORE_STD], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bars = drawn & np.isfinite(err)
        if bars.any():
            ax.errorbar(xs[bars], ys[bars], yerr=err[bars], fmt="none", ecolor="0.6", elinewidth=0.8, capsize=2,
                        zorder=1)
    curve = drawn & ((methods == Method.FULL_EPOCHS.value) | ref)
    if (methods == Method.FULL_EPOCHS.value).any() and curve.sum() > 1:
        order = np.argsort(xs[curve], kind="stable")
        ax.plot(xs[curve][order], ys[curve][order], "--", color="tab:purple", marker="x", markersize=5,
                label="full data, fewer epochs", zorder=3)
    for method, (marker, color) in _BASELINE_MARKERS.items():
        sel = drawn & (methods == method) & ~ref
        if sel.any():
            ax.scatter(xs[sel], ys[sel], s=36, marker=marker, color=color, label=method, zorder=3)
    if mask.any():
        fx, fy, where = _front_path(df[mask], x, y, objectives[x])
        ax.step(fx, fy, where=where, color="tab:blue", zorder=4)
        # Rings, so a baseline or reference marker on the front stays visible inside.
        ax.plot(fx, fy, "o", color="tab:blue", markerfacecolor="none", markersize=9, label="Pareto front", zorder=5)
    if ref.any():
        ax.scatter(xs[ref], ys[ref], s=160, marker="*", color="tab:red", label="reference (full data)", zorder=6)
        for px, py in zip(xs[ref], ys[ref]):
            ax.annotate("reference", (px, py), xytext=(6, -12), textcoords="offset points", fontsize=8, color="tab:red")
    for i in np.flatnonzero(drawn):
        label = _keep_label(df.iloc[i])
        if label:
            ax.annotate(label, (xs[i], ys[i]), xytext=(4, 4), textcoords="offset points", fontsize=6, color="0.3")
    ax.set_xlabel(_AXIS_LABELS.get(x, x))
    ax.set_ylabel(_AXIS_LABELS.get(y, y))
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path)

    if html_path is not None:
        html_path = Path(html_path)
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(_front_html(df, objectives, x, y, mask, title), encoding="utf-8")


def _tooltip(row: pd.Series, on_front: bool) -> str:
    parts = []
    for col in ["trial_id", K.METHOD, "warmup_epochs", "period_epochs", "keep_fraction", "score", "score_delta", "total_time_s", "time_saving", "wall_time_s", "examples_trained"]:
        if col in row.index and not (isinstance(row[col], float) and math.isnan(row[col])):
            parts.append(f"{col}: {_fmt_value(row[col])}")
    if on_front:
        parts.append("on the Pareto front")
    return "\n".join(parts)


def _fmt_value(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


def _front_html(df: pd.DataFrame, objectives: dict[str, str], x: str, y: str, mask: np.ndarray, title: str) -> str:
    """A self-contained page: inline SVG, one <g class="trial"> per drawn trial with a <title> tooltip."""
    from matplotlib.ticker import MaxNLocator

    width, height, left, right, top, bottom = 720, 460, 70, 20, 40, 50
    xs = pd.to_numeric(df[x], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ys = pd.to_numeric(df[y], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    drawn = np.isfinite(xs) & np.isfinite(ys)
    ref = _is_reference(df) & drawn
    methods = _methods(df)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">']
    if drawn.any():
        x_ticks = MaxNLocator(nbins=6).tick_values(xs[drawn].min(), xs[drawn].max())
        y_ticks = MaxNLocator(nbins=6).tick_values(ys[drawn].min(), ys[drawn].max())
        x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

        def px(v: float) -> float:
            return left + (v - x0) / ((x1 - x0) or 1.0) * (width - left - right)

        def py(v: float) -> float:
            return height - bottom - (v - y0) / ((y1 - y0) or 1.0) * (height - top - bottom)

        for t in x_ticks:
            svg.append(f'<line x1="{px(t):.1f}" y1="{top}" x2="{px(t):.1f}" y2="{height - bottom}" stroke="#eee"/>')
            svg.append(f'<text x="{px(t):.1f}" y="{height - bottom + 15}" text-anchor="middle">{t:g}</text>')
        for t in y_ticks:
            svg.append(f'<line x1="{left}" y1="{py(t):.1f}" x2="{width - right}" y2="{py(t):.1f}" stroke="#eee"/>')
            svg.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
        if mask.any():
            fx, fy, where = _front_path(df[mask], x, y, objectives[x])
            points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in _step_points(fx, fy, where))
            svg.append(f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
        for i in np.flatnonzero(drawn):
            row = df.iloc[i]
            cx, cy = px(xs[i]), py(ys[i])
            if ref[i]:
                color, shape = "#d62728", _star(cx, cy, 9)
            elif methods[i] == Method.STATIC_EL2N.value:
                color, shape = "#ff7f0e", f'<rect x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" height="8"/>'
            elif methods[i] == Method.DYNAMIC_RANDOM.value:
                color, shape = "#2ca02c", f'<polygon points="{cx:.1f},{cy - 5:.1f} {cx - 5:.1f},{cy + 4:.1f} {cx + 5:.1f},{cy + 4:.1f}"/>'
            elif methods[i] in _SOFT:
                color = "#8c564b" if methods[i] == Method.SOFT_EL2N.value else "#e377c2"
                shape = f'<polygon points="{cx:.1f},{cy - 5:.1f} {cx - 5:.1f},{cy:.1f} {cx:.1f},{cy + 5:.1f} {cx + 5:.1f},{cy:.1f}"/>'
            else:
                color = "#1f77b4" if mask[i] else "#a6a6a6"
                shape = f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4"/>'
            label = _keep_label(row)
            text = f'<text x="{cx + 5:.1f}" y="{cy - 5:.1f}" font-size="8" fill="#555">{label}</text>' if label else ""
            svg.append(f'<g class="trial" fill="{color}"><title>{html.escape(_tooltip(row, bool(mask[i])))}</title>{shape}{text}</g>')
    svg.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">{html.escape(_AXIS_LABELS.get(x, x))}</text>')
    svg.append(f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 {(top + height - bottom) / 2})">{html.escape(_AXIS_LABELS.get(y, y))}</text>')
    svg.append("</svg>")
    heading = html.escape(title or "Pareto front")
    legend = "grey: trials, blue: Pareto front, red star: full-data reference, orange square: static-el2n, green triangle: dynamic-random. Hover a point for its settings."
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
        + heading
        + "</title></head>\n<body style=\"font-family:sans-serif\">\n<h3>"
        + heading
        + "</h3>\n"
        + "\n".join(svg)
        + f"\n<p style=\"font-size:12px;color:#555\">{legend} {int(drawn.sum())} of {len(df)} trials drawn.</p>\n</body></html>\n"
    )


def _star(cx: float, cy: float, r: float) -> str:
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
    pts = " ".join(f"{cx + rad * np.cos(a):.1f},{cy - rad * np.sin(a):.1f}" for a, rad in zip(angles, radii))
    return f'<polygon points="{pts}"/>'


def _cell(row: pd.Series, col: str, fmt: str) -> str:
    if col not in row.index:
        return "-"
    value = row[col]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "-"
    if fmt == "int" and number.is_integer():
        return str(int(number))
    if fmt == "int":
        return f"{number:.3g}"
    if fmt == "pct":
        return f"{100 * number:.1f}%"
    return format(number, fmt)


def front_table(df: pd.DataFrame, objectives: dict[str, str]) -> str:
    """The Pareto front as a fixed-width text table, fastest first.

    Columns: trial_id, warmup, period, keep, score (std and seeds when a
    setting ran several seeds), score_delta, time (the first minimized
    objective, total_time_s by default), time_saving, then test score, epochs
    and method when the table has them.
    """
    mask = pareto_mask(df, objectives)
    time_col = time_column(objectives)
    front = df[mask]
    if time_col in front.columns:
        sort_by = [time_col] + (["score"] if "score" in front.columns else [])
        front = front.sort_values(sort_by, ascending=[True] + [False] * (len(sort_by) - 1), kind="mergesort")
    columns = [
        ("trial_id", "trial_id", "str"),
        ("warmup", "warmup_epochs", "int"),
        ("period", "period_epochs", "int"),
        ("keep", "keep_fraction", ".2f"),
        ("score", "score", ".2f"),
        ("score_delta", "score_delta", "+.2f"),
        ("time" if time_col == "total_time_s" else time_col, time_col, ".1f"),
        ("time_saving", "time_saving", "pct"),
    ]
    if "prune_ratio" in df.columns and K.METHOD in df.columns and df[K.METHOD].isin(_SOFT).any():
        columns.insert(4, ("r", "prune_ratio", ".2f"))  # soft pruning's r, when searched
    if K.SEEDS in df.columns and (pd.to_numeric(df[K.SEEDS], errors="coerce") > 1).any():
        at = [col for _, col, _ in columns].index("score_delta")
        columns[at:at] = [("std", K.SCORE_STD, ".2f"), ("seeds", K.SEEDS, "int")]
    if K.TEST_SCORE in df.columns and pd.to_numeric(df[K.TEST_SCORE], errors="coerce").notna().any():
        columns.append(("test", K.TEST_SCORE, ".2f"))
    if K.EPOCHS in df.columns:
        columns.append(("epochs", K.EPOCHS, "int"))
    if K.METHOD in df.columns:
        columns.append(("method", K.METHOD, "str"))
    header = [name for name, _, _ in columns]
    rows = [[str(row[col]) if fmt == "str" and col in row.index
             else "-" if _unused(row, col) else _cell(row, col, fmt) for _, col, fmt in columns]
            for _, row in front.iterrows()]
    if not rows:
        return "  ".join(header) + "\n(no trial has every objective)"
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(header)]
    # Text columns align left, numbers right.
    align = ["<" if fmt == "str" else ">" for _, _, fmt in columns]
    lines = ["  ".join(format(h, f"{a}{w}") for h, a, w in zip(header, align, widths))]
    lines += ["  ".join(format(c, f"{a}{w}") for c, a, w in zip(r, align, widths)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


# tau, T and f: soft pruning does not read them (the front table shows "-").
_NOT_SOFT = (K.WARMUP, K.PERIOD, K.KEEP)


def _unused(row: pd.Series, col: str) -> bool:
    """Whether the row's method ignores this column's key: tau, T, f for soft, r for the others."""
    return col in _NOT_SOFT if _is_soft(row) else col == "prune_ratio"


def describe_setting(row: pd.Series) -> str:
    """One line naming a setting of the front: its method and values, score and saving."""
    method = row.get(K.METHOD, "")
    if method == Method.FULL_EPOCHS.value:
        what = f"full data for {int(row[K.EPOCHS])} epoch(s)"
    elif method in (Method.REFERENCE.value, Method.FULL.value):
        what = "full data (the reference)"
    elif _is_soft(row):
        values = [f"{short}={v:g}" for short, name in (("r", "prune_ratio"), ("anneal", "anneal_fraction"))
                  if (v := _soft_value(row, name)) is not None]
        what = " ".join([method, ", ".join(values)]) if values else method
    else:
        what = (f"{method} tau={int(row[K.WARMUP])}, T={int(row[K.PERIOD])}, f={float(row[K.KEEP]):.3f}")
    spread = ""
    if int(row.get(K.SEEDS, 1) or 1) > 1:
        spread = f" +- {float(row[K.SCORE_STD]):.2f} over {int(row[K.SEEDS])} seeds"
    test = row.get(K.TEST_SCORE)
    test_part = f", test {float(test):.2f}" if test is not None and pd.notna(test) else ""
    return (f"trial {row[K.TRIAL_ID]} ({what}): score {float(row[K.SCORE]):.2f}{spread} "
            f"({float(row.get(K.SCORE_DELTA, float('nan'))):+.2f}){test_part}, "
            f"time saving {float(row.get(K.TIME_SAVING, float('nan'))):.1%}")


def rival_note(settings: pd.DataFrame, pruned: pd.Series, time_col: str) -> str | None:
    """A plain line when full data for fewer epochs is at least as fast and as accurate as the
    best pruned setting: then stopping earlier beats pruning."""
    rival = fewer_epochs_rival(settings, pruned, time_col)
    if rival is None:
        return None
    return (f"note: full data for {int(rival[K.EPOCHS])} epoch(s) ({time_col} {float(rival[time_col]):.1f}, "
            f"score {float(rival[K.SCORE]):.2f}) is at least as fast and as accurate as the best pruned setting "
            f"(trial {pruned[K.TRIAL_ID]}: {float(pruned[time_col]):.1f}, {float(pruned[K.SCORE]):.2f}): "
            f"training on all the data for fewer epochs beats pruning here")
