"""Studies: Ray Tune + Optuna map the time-accuracy trade-off of tau, T and f.

One Tune trial is one Ray Train run (the Train-inside-Tune pattern): the trial
function builds a TorchTrainer and forwards its reports to Tune. The Optuna
searcher proposes the searched keys and optimises the study's objectives
(score up, time down). The full-data reference (keep_fraction = 1) is
enqueued as the first point, so every trial's saving is measured against the
same seed and epoch budget. ``trials.parquet`` is rewritten as trials finish.

Study folder layout (``<study.storage_path>/<study.name>``):
``study.json`` (config and reference point), ``optuna.db`` (default Optuna
storage), ``tune/`` (the restorable Tune experiment with TensorBoard events),
``runs/`` (one Ray Train run per trial), ``trials.parquet``, ``pareto.png``/``.html``.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pandas as pd

from raypruning import report_keys as K
from raypruning import results as R
from raypruning.config import OBJECTIVES, Config, apply_overrides, from_dict, load_config, to_yaml
from raypruning.errors import InputError
from raypruning.storage import StudyLocation, fetch, is_uri, locate
from raypruning.search_space import full_key, grid_points, space_problems, to_tune_space

STUDY_FILE = "study.json"
TUNE_DIR = "tune"
BASELINES_DIR = "baselines"  # the Tune experiment of study.baselines
BASELINE_KEY = "baseline"  # trial config key holding a baseline's overrides
# What each study.baselines entry changes in a trial's config.
BASELINE_OVERRIDES = {"static-el2n": {"pruning.mode": "static", "pruning.score": "el2n"},
                      "dynamic-random": {"pruning.mode": "dynamic", "pruning.score": "random"}}
RUNS_DIR = "runs"
OPTUNA_FILE = "optuna.db"
PLOT_FILE = "pareto.png"
KEEP = "pruning.keep_fraction"


def resolve_study(study: str) -> Path:
    """A study folder path or URI (copied down), or a study name under the default storage folder."""
    if is_uri(study):
        return fetch(study)
    path = Path(study).expanduser()
    if path.is_dir():
        return path.resolve()
    default = Path(load_config(None).study.storage_path) / study
    if default.is_dir():
        return default.resolve()
    raise InputError(f"{study}: no study folder there (nor under {load_config(None).study.storage_path}/)")


def optuna_url(cfg: Config, folder: Path) -> str:
    """The Optuna storage URL; ``$NAME`` values come from the environment (keep passwords out of files)."""
    if cfg.study.optuna_storage:
        return os.path.expandvars(cfg.study.optuna_storage)
    return f"sqlite:///{folder / OPTUNA_FILE}"


def shown_url(url: str) -> str:
    """A storage URL safe to write into files and logs (password hidden)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL sqlalchemy can parse: show nothing of it
        return "<unparsable URL>"


def open_storage(url: str):
    """An Optuna RDB storage, or InputError naming the URL when it cannot be opened."""
    import optuna

    try:
        return optuna.storages.RDBStorage(url)
    except Exception as exc:  # noqa: BLE001 - any failure means the URL is unusable
        reason = str(exc).splitlines()[0][:200]
        raise InputError(f"key 'study.optuna_storage': cannot open {shown_url(url)!r} ({reason})") from None


def objectives(cfg: Config) -> dict[str, str]:
    return {name: OBJECTIVES[name] for name in cfg.study.objectives}


def reference_point(cfg: Config) -> dict:
    """The searched values of the full-data reference: keep_fraction 1, the base config elsewhere."""
    base = cfg.to_dict()
    point = {}
    for key, spec in cfg.search.space.items():
        dotted = full_key(key)
        kind, args = next(iter(spec.items()))
        node = base
        for part in dotted.split("."):
            node = node[part]
        value = node
        if kind == "choice" and value not in args:
            value = args[0]
        elif kind in ("uniform", "loguniform", "int") and not args[0] <= value <= args[1]:
            value = args[0]
        point[dotted] = value
    point[KEEP] = 1.0
    return point


def _sampler(cfg: Config):
    import optuna

    s = cfg.search
    if s.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=s.seed)
    if s.sampler == "random":
        return optuna.samplers.RandomSampler(seed=s.seed)
    if s.sampler == "grid":
        points = grid_points(s.space)
        values = {k: sorted({p[k] for p in points}) for k in points[0]}
        return optuna.samplers.GridSampler(values, seed=s.seed)
    return optuna.samplers.TPESampler(seed=s.seed)


def max_concurrent(cfg: Config) -> int:
    """Trials at once: as many as the cluster's CPUs (and GPUs) hold, unless configured."""
    import ray

    if cfg.search.max_concurrent:
        return cfg.search.max_concurrent
    total = ray.cluster_resources()
    per_trial_cpu = cfg.scaling.num_workers * cfg.scaling.cpus_per_worker
    fits = math.floor(total.get("CPU", 1) / per_trial_cpu + 1e-9)
    if cfg.scaling.use_gpu:
        fits = min(fits, math.floor(total.get("GPU", 0) / cfg.scaling.num_workers))
    return max(1, fits)


def trial_driver(params: dict, base_config: dict, runs_path: str) -> None:
    """Tune function trainable: one Ray Train run with the proposed values."""
    import ray.tune
    from ray.tune.integration.ray_train import TuneReportCallback

    from raypruning.run import build_trainer, fault_from_env

    cfg = from_dict(apply_overrides(base_config, flat_params(params)), source="<trial>")
    trial_id = ray.tune.get_context().get_trial_id()
    trainer = build_trainer(cfg, runs_path, f"trial-{trial_id}", [TuneReportCallback()], fault_from_env())
    result = trainer.fit()
    if result.error is not None:
        raise result.error


def flat_params(params: dict) -> dict:
    """A trial's dotted overrides (a baseline trial carries them under BASELINE_KEY)."""
    params = dict(params)
    baseline = params.pop(BASELINE_KEY, {})
    return {**params, **baseline}


def trial_rows(trials, reference: dict, base_config: dict, finishing: str | None = None) -> pd.DataFrame:
    """The results table of finished trials (design.md columns, then every searched key).

    finishing: the id of a trial Tune reports complete before marking it TERMINATED.
    """
    rows = []
    reference_seen = False
    for trial in sorted(trials, key=lambda t: t.trial_id):
        last = trial.last_result or {}
        if (trial.status != "TERMINATED" and trial.trial_id != finishing) or not last.get(K.DONE):
            continue
        params = flat_params(trial.config)
        cfg = apply_overrides(base_config, params)
        is_reference = (not reference_seen and BASELINE_KEY not in trial.config
                        and all(params.get(k) == v for k, v in reference.items()))
        reference_seen = reference_seen or is_reference
        row = {
            "trial_id": trial.trial_id,
            "warmup_epochs": cfg["pruning"]["warmup_epochs"],
            "period_epochs": cfg["pruning"]["period_epochs"],
            "keep_fraction": cfg["pruning"]["keep_fraction"],
            K.SCORE: last.get(K.SCORE),
            K.TOTAL_TIME: last.get(K.TOTAL_TIME),
            K.WALL_TIME: last.get(K.WALL_TIME),
            K.EXAMPLES_TRAINED: last.get(K.EXAMPLES_TRAINED),
            "is_reference": is_reference,
            R.METHOD_COLUMN: R.METHOD_REFERENCE if is_reference else method_name(cfg["pruning"]),
            K.TRAIN_TIME: last.get(K.TRAIN_TIME),
            K.SCORING_TIME: last.get(K.SCORING_TIME),
            K.METRIC: last.get(K.METRIC),
        }
        for key, value in params.items():
            short = key.split(".")[-1]
            if short in ("warmup_epochs", "period_epochs", "keep_fraction"):
                continue
            row[short if short not in row else key] = value  # pruning.score keeps its dotted name
        rows.append(row)
    return pd.DataFrame(rows)


def method_name(pruning: dict) -> str:
    """dynamic (EL2N), dynamic-<score>, static-<score> or full."""
    if pruning["mode"] == "full" or pruning["keep_fraction"] >= 1.0:
        return "full"
    if pruning["mode"] == "static":
        return f"static-{pruning['score']}"
    return R.METHOD_DYNAMIC if pruning["score"] == "el2n" else f"dynamic-{pruning['score']}"


def finish_table(df: pd.DataFrame, objs: dict[str, str]) -> pd.DataFrame:
    """Relative columns and the Pareto flag, computed on the study's objectives."""
    if df.empty:
        return df
    time_col = next((k for k in objs if k != K.SCORE), K.TOTAL_TIME)
    df = R.add_relative_columns(df, time_col=time_col)
    return R.order_columns(R.add_pareto_column(df, objs))


def _make_progress_callback(location: StudyLocation, total: int, reference: dict, base_config: dict, objs: dict):
    from ray.tune import Callback

    class StudyProgress(Callback):
        """Rewrites trials.parquet and prints progress as trials finish."""

        def __init__(self):
            self.start = time.monotonic()

        def on_trial_complete(self, iteration, trials, trial, **info):
            self._update(trials, trial)

        def on_trial_error(self, iteration, trials, trial, **info):
            print(f"[study] trial {trial.trial_id} failed: see {trial.local_path}", flush=True)

        def _update(self, trials, trial):
            df = finish_table(trial_rows(trials, reference, base_config, finishing=trial.trial_id), objs)
            if df.empty:
                return
            R.write_trials(df, location.local / R.TRIALS_FILE)
            location.push()
            last = trial.last_result or {}
            front = int(df["pareto"].sum()) if "pareto" in df else 0
            elapsed = time.monotonic() - self.start
            print(f"[study] {len(df)}/{total} trials done, {elapsed / 60:.1f} min | trial {trial.trial_id}: "
                  f"{last.get(K.METRIC)} {last.get(K.SCORE, float('nan')):.2f}, "
                  f"total {last.get(K.TOTAL_TIME, float('nan')):.1f}s | front {front} point(s)", flush=True)

    return StudyProgress()


def run_study(config_path: str, overrides: list[str] | None = None, resume: bool = False,
              address: str | None = None) -> pd.DataFrame:
    """Run (or resume) a study and print its front. Returns the final trials table.

    A local Ray instance always starts with its dashboard: when a trial's Ray Train
    controller dies before releasing its placement group (a killed or failed trial),
    Ray Train frees it through the state API that the dashboard serves; without it
    later trials wait for CPUs that never come back.
    """
    import ray.tune
    from ray.tune.search.optuna import OptunaSearch

    from raypruning.data.sources import load_task_data
    from raypruning.run import ensure_ray

    cfg = load_config(config_path, overrides)
    location = locate(cfg.study.storage_path, cfg.study.name)
    folder = location.local
    tune_path = location.child(TUNE_DIR)
    # Everything that can be wrong with the input fails here, before anything is created.
    problems = space_problems(cfg.search.space, cfg, against_run=True)
    if problems:
        raise InputError([f"{config_path}: {line}" for line in problems])
    load_task_data(cfg.data)
    if cfg.study.optuna_storage:
        open_storage(optuna_url(cfg, folder))
    if resume and not ray.tune.Tuner.can_restore(tune_path):
        raise InputError(f"{location.root}: no interrupted study to resume there")
    if not resume and location.exists(TUNE_DIR):
        raise InputError(f"{location.root}: a study already exists there; use --resume, or another study.name")

    if resume and location.remote:
        for path in fetch(location.remote).iterdir():  # the Optuna SQLite file and the tables
            path.replace(folder / path.name)
    folder.mkdir(parents=True, exist_ok=True)
    storage = open_storage(optuna_url(cfg, folder))
    where = ensure_ray(address, include_dashboard=True)
    objs = objectives(cfg)
    reference = reference_point(cfg)
    base = cfg.to_dict()
    total = cfg.search.num_samples + 1
    if not resume:
        (folder / STUDY_FILE).write_text(json.dumps(
            {"config": base, "reference": reference, "objectives": objs,
             "optuna_storage": shown_url(optuna_url(cfg, folder))}, indent=2))
        shown = cfg.replace(**{"study.optuna_storage": shown_url(cfg.study.optuna_storage)}) if cfg.study.optuna_storage else cfg
        (folder / "config.yaml").write_text(to_yaml(shown))
        location.push()
    concurrency = max_concurrent(cfg)
    print(f"[study] {cfg.study.name}: {total} trials ({cfg.search.sampler} sampler, reference first), "
          f"up to {concurrency} at once, {cfg.scaling.num_workers} worker(s) each, on {where}", flush=True)
    print(f"[study] folder {location.root}", flush=True)

    trainable = ray.tune.with_resources(
        ray.tune.with_parameters(trial_driver, base_config=base, runs_path=location.child(RUNS_DIR)),
        # The trial function only waits on its TorchTrainer: it takes no CPU of its own.
        {"CPU": 0, "memory": 1_000_000})
    progress = _make_progress_callback(location, total, reference, base, objs)
    if resume:
        tuner = ray.tune.Tuner.restore(tune_path, trainable, resume_unfinished=True, resume_errored=True)
    else:
        searcher = OptunaSearch(metric=list(objs), mode=list(objs.values()), points_to_evaluate=[reference],
                                sampler=_sampler(cfg), study_name=cfg.study.name, storage=storage,
                                seed=cfg.search.seed)
        tuner = ray.tune.Tuner(
            trainable,
            param_space=to_tune_space(cfg.search.space),
            tune_config=ray.tune.TuneConfig(search_alg=searcher, num_samples=total,
                                            max_concurrent_trials=concurrency),
            run_config=ray.tune.RunConfig(name=TUNE_DIR, storage_path=location.root, callbacks=[progress],
                                          verbose=0),
        )
    grid = tuner.fit()
    trials = list(_grid_trials(grid))
    table = finish_table(trial_rows(trials, reference, base), objs)
    if table.empty:
        raise RuntimeError("no trial finished; see the trial logs under " + tune_path)
    R.write_trials(table, folder / R.TRIALS_FILE)
    if cfg.study.baselines and len(table) >= total:
        trials += run_baselines(cfg, location, table, trainable, resume)
        table = finish_table(trial_rows(trials, reference, base), objs)
        R.write_trials(table, folder / R.TRIALS_FILE)
    if len(table) < total:
        print(f"[study] stopped with {len(table)}/{total} trials done; finish it with: "
              f"raypruning study {config_path} {' '.join(overrides or [])} --resume", flush=True)
    print_outcome(folder, table, objs)
    location.push()
    if location.remote:
        print(f"study files copied to {location.remote}")
    return table


def baseline_points(cfg: Config, table: pd.DataFrame) -> list[dict]:
    """One baseline trial per (baseline, front setting): the front's tau, T and f with the
    baseline's mode and score, so the front shows the method against its baselines."""
    front = table[table["pareto"] & ~table["is_reference"] & (table[R.METHOD_COLUMN] == R.METHOD_DYNAMIC)]
    if front.empty:
        front = table[~table["is_reference"]].nsmallest(1, K.TOTAL_TIME)
    settings = front.drop_duplicates("keep_fraction").nsmallest(3, K.TOTAL_TIME)
    points = []
    for name in cfg.study.baselines:
        for _, row in settings.iterrows():
            points.append({BASELINE_KEY: {
                "pruning.warmup_epochs": int(row["warmup_epochs"]), "pruning.period_epochs": int(row["period_epochs"]),
                "pruning.keep_fraction": float(row["keep_fraction"]), **BASELINE_OVERRIDES[name]}})
    return points


def run_baselines(cfg: Config, location: StudyLocation, table: pd.DataFrame, trainable, resume: bool) -> list:
    """Run (or finish) the study.baselines trials as a second Tune experiment. Returns its trials."""
    import ray.tune

    path = location.child(BASELINES_DIR)
    if resume and ray.tune.Tuner.can_restore(path):
        tuner = ray.tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=True)
    else:
        points = baseline_points(cfg, table)
        print(f"[study] baselines: {len(points)} trial(s) ({', '.join(cfg.study.baselines)}) "
              f"at the front's settings", flush=True)
        tuner = ray.tune.Tuner(
            trainable,
            param_space={BASELINE_KEY: ray.tune.grid_search([p[BASELINE_KEY] for p in points])},
            tune_config=ray.tune.TuneConfig(max_concurrent_trials=max_concurrent(cfg)),
            run_config=ray.tune.RunConfig(name=BASELINES_DIR, storage_path=location.root, verbose=0),
        )
    return list(_grid_trials(tuner.fit()))


def _grid_trials(grid):
    """Trials of a finished Tune run, read back from its experiment state."""
    return grid._experiment_analysis.trials


def print_outcome(folder: Path, table: pd.DataFrame, objs: dict) -> None:
    """The front table, the best config within 1 point, and where the plot is."""
    print("\nPareto front:")
    print(R.front_table(table, objs))
    best = R.best_within_drop(table, 1.0, time_col=next((k for k in objs if k != K.SCORE), K.TOTAL_TIME))
    if best is not None:
        print(f"\nfastest within 1 point of the reference: trial {best['trial_id']} "
              f"(tau={best['warmup_epochs']}, T={best['period_epochs']}, f={best['keep_fraction']:.3f}): "
              f"score {best[K.SCORE]:.2f} ({best['score_delta']:+.2f}), time saving {best['time_saving']:.1%}")
    png = folder / PLOT_FILE
    R.plot_front(table, objs, png, png.with_suffix(".html"), title=folder.name)
    print(f"plot: {png} (and {png.with_suffix('.html').name})")
    print(f"query: raypruning best {folder} --max-drop 1 | raypruning pareto {folder} --json")
