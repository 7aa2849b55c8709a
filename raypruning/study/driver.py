"""Studies: Ray Tune + Optuna map the time-accuracy trade-off of tau, T and f.

One Tune trial is one Ray Train run (the Train-inside-Tune pattern): the trial
function builds a TorchTrainer and forwards its reports to Tune. The Optuna
searcher proposes the searched keys and optimises the study's objectives
(score up, time down). The full-data reference (keep_fraction = 1) is
enqueued as the first point, so every trial's saving is measured against the
same seed and epoch budget. ``trials.parquet`` is rewritten as trials finish.

The folder it writes is described in `raypruning.study.layout`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from raypruning import keys as K
from raypruning import pareto, report
from raypruning.config import Config, apply_overrides, from_dict, load_config, to_yaml, with_absolute_data_path
from raypruning.console import quiet_driver_console
from raypruning.errors import InputError, StudyIncomplete
from raypruning.keys import OBJECTIVES
from raypruning.search_space import full_key, grid_points, to_tune_space
from raypruning.storage import StudyLocation, fetch, locate
from raypruning.study.baselines import baseline_points, epoch_baseline
from raypruning.study.cost import study_cost
from raypruning.study.early_stop import StudyEarlyStop, recorded_reports
from raypruning.study.kept_models import drop_models
from raypruning.study.layout import (
    BASELINES_DIR,
    CONFIG_FILE,
    PLOT_FILE,
    RUNS_DIR,
    STUDY_FILE,
    TUNE_DIR,
    StudyMeta,
    open_storage,
    optuna_url,
    read_meta,
    shown_url,
)
from raypruning.study.optuna_view import AnnotatedOptunaSearch, add_unsampled_rows, prepare_study
from raypruning.study.storage_faults import StorageWatch, fault_in
from raypruning.study.tracking import tracker_callbacks
from raypruning.study.trials import (
    BASELINE_KEY,
    RunResult,
    TrialOutcome,
    records,
    seed_report,
    trials_table,
    write_trials,
)
from raypruning.study.warmup import (
    DONE_MARK,
    FAILED_MARK,
    WARMUP_DIR,
    SharePlan,
    can_branch,
    remove_warmups,
    schedule_problem,
    share_problem,
    warmup_epochs,
)
from raypruning.validate import model_problems, raise_problems, study_problems

KEEP = "pruning.keep_fraction"


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
        if dotted == "pruning.mode" and value == "soft":  # soft prunes whatever keep_fraction says
            value = next(v for v in args if v != "soft")  # validate.py asks for one
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


def trial_driver(params: dict, base_config: dict, runs_path: str, seeds: int,
                 share: SharePlan | None = None) -> None:
    """Tune function trainable: one Ray Train run per seed of the proposed setting, then one
    report of their means (what Optuna optimises) with every run's result.

    With a share plan the reference keeps its warmup checkpoints, and a pruning trial that can
    branch exactly waits for the one at its warmup length and starts from it."""
    import ray.tune

    from raypruning.run import build_trainer, read_summary

    outcome = TrialOutcome("", params, {})
    cfg = from_dict(apply_overrides(base_config, outcome.overrides), source="<trial>")
    trial_id = ray.tune.get_context().get_trial_id()
    is_reference = share is not None and share.is_reference(outcome.overrides, outcome.is_baseline)
    runs, note = [], ""
    for seed in range(cfg.train.seed, cfg.train.seed + seeds):
        name = f"trial-{trial_id}" if seeds == 1 else f"trial-{trial_id}-seed{seed}"
        run_cfg = cfg.replace(**{"train.seed": seed})
        sharing: dict = {}
        if is_reference:
            sharing["warmup_out"] = {"dir": share.seed_folder(seed), "epochs": share.epochs}
        elif share is not None:
            reference = from_dict(apply_overrides(base_config, {**share.reference, "train.seed": seed}),
                                  source="<reference>")
            note = share_problem(run_cfg, reference) or note
            if can_branch(run_cfg, reference):
                folder = share.wait(seed, run_cfg.pruning.warmup_epochs)
                if folder is not None:
                    sharing["warm_start"] = folder
                else:
                    note = "the reference of this seed ended without keeping this warmup (it failed)"
        reports = seed_reports(seed, runs)
        result = build_trainer(run_cfg, runs_path, name, [reports], **sharing).fit()
        if is_reference:  # trials waiting for this seed's warmup go on (alone, if it failed)
            share.mark(seed, FAILED_MARK if result.error is not None else DONE_MARK)
        if result.error is not None:
            raise result.error
        runs.append(RunResult.from_summary(seed, read_summary(result.checkpoint)))
    ray.tune.report({**seed_report(runs), K.WARMUP_NOTE: note})


def seed_reports(seed: int, earlier: list[RunResult]):
    """Ray's TuneReportCallback, adding to every epoch report of one seed's run what early
    stopping needs when a trial runs several seeds one after another: the run's seed, and the
    results of the runs before it (a stopped trial's rows keep them)."""
    from ray.tune.integration.ray_train import TuneReportCallback

    extra = {K.SEED: seed, **({K.EARLIER_RUNS: json.dumps([r.to_dict() for r in earlier])} if earlier else {})}

    class SeedReports(TuneReportCallback):
        def after_report(self, run_context, metrics, checkpoint):
            super().after_report(run_context, [{**metrics[0], **extra}, *metrics[1:]], checkpoint)

    return SeedReports()


def share_plan(cfg: Config, location: StudyLocation, reference: dict, resume: bool = False) -> SharePlan | None:
    """The study's warmup sharing, said once on the console (None: every trial runs alone)."""
    if not cfg.study.share_warmup:
        return None
    epochs = warmup_epochs(cfg)
    problem = schedule_problem(cfg)
    if resume and not location.exists(WARMUP_DIR):
        # The reference may have ended before it kept anything: nobody would end the wait.
        problem = f"this study has no {WARMUP_DIR}/ folder to resume from"
    if problem or not epochs:
        if problem:
            print(f"[study] warmup sharing off, every trial trains its own warmup: {problem}", flush=True)
        return None
    root = location.child(WARMUP_DIR)
    print(f"[study] warmup sharing: the reference keeps its state after epoch(s) "
          f"{', '.join(map(str, epochs))} in {root}; pruning trials start from it", flush=True)
    return SharePlan(root, reference, epochs)


@dataclass(frozen=True)
class TableSpec:
    """What turns a study's Tune trials into its trials table."""

    reference: dict  # the reference point's searched values
    base_config: dict
    objectives: dict
    epoch_curve: bool  # add the full-epochs rows from the reference's history

    def table(self, outcomes: list[TrialOutcome]) -> pd.DataFrame:
        return trials_table(records(outcomes, self.reference, self.base_config, self.epoch_curve), self.objectives)


def _finished(outcomes: list[TrialOutcome]) -> int:
    """Trials that ended: ran every epoch, or were stopped early (neither is left to resume)."""
    return sum(o.finished or o.stopped for o in outcomes)


def _make_progress_callback(location: StudyLocation, total: int, spec: TableSpec, watch: StorageWatch):
    from ray.tune import Callback

    class StudyProgress(Callback):
        """Rewrites trials.parquet and prints progress as trials finish."""

        def __init__(self):
            self.start = time.monotonic()
            self.notes: set[str] = set()

        def on_trial_complete(self, iteration, trials, trial, **info):
            outcomes = [TrialOutcome.from_tune_trial(t) for t in trials]
            df = spec.table(outcomes)
            if df.empty or watch.probe(force=True) is not None:
                return
            # A table that cannot be written (full disk, read-only folder) stops the study with
            # one line (the watch's stopper); the table written before stays readable.
            try:
                write_trials(df, location.local / K.TRIALS_FILE)
            except InputError as exc:
                code = fault_in(str(exc))
                if code is None:
                    raise
                watch.note(code, location.local / K.TRIALS_FILE)
                return
            try:
                location.push()
            except OSError as exc:
                raise InputError(f"{location.root}: cannot copy the study's files there: {exc}") from None
            last = trial.last_result or {}
            note = last.get(K.WARMUP_NOTE)
            if note and note not in self.notes:  # each reason once
                self.notes.add(note)
                print(f"[study] trial {trial.trial_id} trained its warmup alone: {note} (said once)", flush=True)
            front = pareto.per_setting(df)[K.PARETO].sum()
            elapsed = time.monotonic() - self.start
            if last.get(K.EARLY_STOP):
                print(f"[study] trial {trial.trial_id} stopped early after epoch {last.get(K.EPOCH)}: "
                      f"{json.loads(last[K.EARLY_STOP])['reason']}", flush=True)
            print(f"[study] {_finished(outcomes)}/{total} trials done, {elapsed / 60:.1f} min | trial "
                  f"{trial.trial_id}: {last.get(K.METRIC)} {last.get(K.SCORE, float('nan')):.2f}, "
                  f"total {last.get(K.TOTAL_TIME, float('nan')):.1f}s | front {front} point(s)", flush=True)

        def on_trial_error(self, iteration, trials, trial, **info):
            print(f"[study] trial {trial.trial_id} failed: see {trial.local_path}", flush=True)

    return StudyProgress()


def run_study(config: str | Config, overrides: list[str] | None = None, resume: bool = False,
              address: str | None = None) -> pd.DataFrame:
    """Run (or resume) a study and print its front. Returns the final trials table; raises
    `StudyIncomplete`, once the tables are written, when trials are left undone.

    config: a YAML file (with key=value overrides) or a `Config`.

    A local Ray instance always starts with its dashboard: when a trial's Ray Train
    controller dies before releasing its placement group (a killed or failed trial),
    Ray Train frees it through the state API that the dashboard serves; without it
    later trials wait for CPUs that never come back.
    """
    import ray.tune
    from ray.tune.stopper import CombinedStopper

    from raypruning.data.sources import load_task_data
    from raypruning.run import check_resources, ensure_ray

    quiet_driver_console()
    cfg = with_absolute_data_path(config if isinstance(config, Config) else load_config(config, overrides))
    config_path = "<python>" if isinstance(config, Config) else config
    location = locate(cfg.study.storage_path, cfg.study.name)
    folder = location.local
    tune_path = location.child(TUNE_DIR)
    # Everything that can be wrong with the input fails here, before anything is created.
    raise_problems(study_problems(cfg, config_path, against_run=True) + model_problems(cfg.model, config_path))
    load_task_data(cfg.data)
    location.check()
    if cfg.study.optuna_storage:
        open_storage(optuna_url(cfg, folder))
    if resume and not ray.tune.Tuner.can_restore(tune_path):
        raise InputError(f"{location.root}: no interrupted study to resume there")
    if not resume and location.exists(TUNE_DIR):
        raise InputError(f"{location.root}: a study already exists there; use --resume, or another study.name")
    where = ensure_ray(address, include_dashboard=True)
    check_resources(cfg, local=not (address or os.environ.get("RAY_ADDRESS")))

    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    if resume and location.remote:
        for path in fetch(location.remote).iterdir():  # the Optuna SQLite file and the tables
            path.replace(folder / path.name)
    storage = open_storage(optuna_url(cfg, folder))
    objs = objectives(cfg)
    reference = reference_point(cfg)
    base = cfg.to_dict()
    total = cfg.search.num_samples + 1
    if not resume:
        meta = StudyMeta(base, reference, objs, shown_url(optuna_url(cfg, folder)))
        (folder / STUDY_FILE).write_text(meta.to_json())
        shown = cfg.replace(**{"study.optuna_storage": shown_url(cfg.study.optuna_storage)}) if cfg.study.optuna_storage else cfg
        (folder / CONFIG_FILE).write_text(to_yaml(shown))
        location.push()
    concurrency = max_concurrent(cfg)
    print(f"[study] {cfg.study.name}: {total} trials ({cfg.search.sampler} sampler, reference first), "
          f"up to {concurrency} at once, {cfg.scaling.num_workers} worker(s) each, on {where}", flush=True)
    print(f"[study] folder {location.root}", flush=True)

    trainable = ray.tune.with_resources(
        ray.tune.with_parameters(trial_driver, base_config=base, runs_path=location.child(RUNS_DIR),
                                 seeds=cfg.study.seeds, share=share_plan(cfg, location, reference, resume)),
        # The trial function only waits on its TorchTrainer: it takes no CPU of its own.
        {"CPU": 0, "memory": 1_000_000})
    spec = TableSpec(reference, base, objs, epoch_curve=epoch_baseline(cfg) == "curve")
    watch = StorageWatch(folder)
    progress = _make_progress_callback(location, total, spec, watch)
    trackers = tracker_callbacks(cfg.study.trackers, cfg.study.name, folder, base, reference)
    stoppers, early = [watch.stopper()], []
    if cfg.study.early_stop:
        state = StudyEarlyStop(reference, base, pareto.time_column(objs), cfg.study.early_stop_margin,
                               epoch_curve=spec.epoch_curve)
        stoppers.append(state.tune_stopper())
        early.append(state.tune_callback())  # before the others: it tags a stopped trial's last result
        print(f"[study] early stopping: a pruning trial more than {cfg.study.early_stop_margin:g} points below "
              f"the reference's curve at a pruning event, and dominated even at its best, stops there", flush=True)
        if resume and location.remote:
            print("[study] early stopping: the reports of a remote study from before the interruption are not "
                  "read; resumed trials are judged on what they report from now on", flush=True)
        elif resume:
            replayed = state.replay(recorded_reports(folder / TUNE_DIR))
            print(f"[study] early stopping: took the reports of {replayed} trial(s) from before the interruption",
                  flush=True)
    if resume:
        tuner = ray.tune.Tuner.restore(tune_path, trainable, resume_unfinished=True, resume_errored=True)
    else:
        prepare_study(storage, cfg.study.name, objs)
        searcher = AnnotatedOptunaSearch(metric=list(objs), mode=list(objs.values()), points_to_evaluate=[reference],
                                         sampler=_sampler(cfg), study_name=cfg.study.name, storage=storage,
                                         seed=cfg.search.seed, reference=reference, base_config=base,
                                         time_col=pareto.time_column(objs))
        tuner = ray.tune.Tuner(
            trainable,
            param_space=to_tune_space(cfg.search.space),
            tune_config=ray.tune.TuneConfig(search_alg=searcher, num_samples=total,
                                            max_concurrent_trials=concurrency),
            run_config=ray.tune.RunConfig(name=TUNE_DIR, storage_path=location.root, verbose=0,
                                          callbacks=[*early, watch.callback(), progress, *trackers],
                                          stop=CombinedStopper(*stoppers)),
        )
    grid = _fit(tuner, watch)
    trials = _outcomes(grid)
    table = spec.table(trials)
    if table.empty:
        if created and not resume and not location.remote:
            shutil.rmtree(folder, ignore_errors=True)  # nothing to resume: leave nothing that blocks a rerun
        raise RuntimeError(f"no trial finished; the first error: {_first_error(grid)}")
    write_trials(table, folder / K.TRIALS_FILE)
    done = _finished(trials)
    if done >= total and baseline_points(cfg, table):
        trials += run_baselines(cfg, location, table, trainable, resume, trackers)
        table = spec.table(trials)
        write_trials(table, folder / K.TRIALS_FILE)
    if done >= total:
        add_unsampled_rows(storage, cfg.study.name, table, objs)
        remove_warmups(location.child(WARMUP_DIR))  # every trial that branches from it is done
        removed = drop_models(location.child(RUNS_DIR), table, objs, cfg.study.keep_models)
        if removed:
            print(f"[study] kept the models of study.keep_models={cfg.study.keep_models}; removed {removed} "
                  f"other run folder(s)", flush=True)
    print_outcome(folder, table, objs)
    record_cost(folder, table)
    location.push()
    if location.remote:
        print(f"study files copied to {location.remote}")
    if done < total:
        raise incomplete(grid, done, total, f"raypruning study {config_path} {' '.join(overrides or [])} --resume")
    return table


def incomplete(grid, done: int, total: int, resume_command: str) -> StudyIncomplete:
    """The error of a study that ended with trials undone: how many, why (the first failed
    trial's error, if a trial failed rather than the study being interrupted), how to finish."""
    failed = sum(result.error is not None for result in grid)
    why = f" ({failed} failed; the first: {_first_error(grid)})" if failed else ""
    return StudyIncomplete(f"the study stopped with {done}/{total} trials done{why}; finish it with: {resume_command}")


def run_baselines(cfg: Config, location: StudyLocation, table: pd.DataFrame, trainable, resume: bool,
                  callbacks: list) -> list:
    """Run (or finish) the study.baselines trials as a second Tune experiment. Returns its trials."""
    import ray.tune

    path = location.child(BASELINES_DIR)
    if resume and ray.tune.Tuner.can_restore(path):
        tuner = ray.tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=True)
    else:
        points = baseline_points(cfg, table)
        print(f"[study] baselines: {len(points)} trial(s) ({', '.join(cfg.study.baselines) or 'none'} at the "
              f"front's settings; full data for fewer epochs: {epoch_baseline(cfg)})", flush=True)
        tuner = ray.tune.Tuner(
            trainable,
            param_space={BASELINE_KEY: ray.tune.grid_search([p[BASELINE_KEY] for p in points])},
            tune_config=ray.tune.TuneConfig(max_concurrent_trials=max_concurrent(cfg)),
            run_config=ray.tune.RunConfig(name=BASELINES_DIR, storage_path=location.root, verbose=0,
                                          callbacks=callbacks),
        )
    return _outcomes(tuner.fit())


def _fit(tuner, watch: StorageWatch):
    """tuner.fit(), or the watch's one line when the study folder's disk filled up or turned
    read-only under it (Tune may then fail reading the errored trial's empty error file)."""
    with watch:
        try:
            grid = tuner.fit()
        except Exception as exc:
            if watch.probe(force=True) is None and fault_in(f"{exc}") is None:
                raise
            watch.note(watch.code or fault_in(f"{exc}"))
            raise InputError(watch.error()) from None
        if watch.probe(force=True) is None:
            codes = [fault_in(f"{r.error}") for r in grid if r.error is not None]
            if any(codes):
                watch.note(next(c for c in codes if c))
    if watch.code is not None:
        raise InputError(watch.error())
    return grid


def _first_error(grid) -> str:
    errors = [result.error for result in grid if result.error is not None]
    if not errors:
        return "none reported (see the Ray session logs)"
    return f"{type(errors[0]).__name__}: {str(errors[0]).strip().splitlines()[-1][:300]}"


def _outcomes(grid) -> list[TrialOutcome]:
    """The trials of a finished Tune run, from its public ResultGrid."""
    return [TrialOutcome.from_result(result) for result in grid]


def record_cost(folder: Path, table: pd.DataFrame) -> None:
    """Print the study's cost in full-data runs and write it into study.json."""
    cost = study_cost(table)
    if cost is None:
        return
    print(f"[study] {cost.line()}", flush=True)
    meta = dataclasses.replace(read_meta(folder), cost=cost)
    (folder / STUDY_FILE).write_text(meta.to_json())


def print_outcome(folder: Path, table: pd.DataFrame, objs: dict) -> None:
    """The front table (means over seeds), the best setting within 1 point, and where the plot is."""
    settings = pareto.per_setting(table)
    time_col = pareto.time_column(objs)
    print("\nPareto front:")
    print(report.front_table(settings, objs))
    best = pareto.best_within_drop(settings, 1.0, time_col=time_col)
    if best is not None:
        print(f"\nfastest within 1 point of the reference: {report.describe_setting(best)}")
    pruned = pareto.best_within_drop(settings, 1.0, time_col=time_col, among=pareto.is_pruned(settings))
    note = report.rival_note(settings, pruned, time_col) if pruned is not None else None
    if note:
        print(note)
    png = folder / PLOT_FILE
    report.plot_front(settings, objs, png, png.with_suffix(".html"), title=folder.name)
    print(f"plot: {png} (and {png.with_suffix('.html').name})")
    print(f"query: raypruning best {folder} --max-drop 1 | raypruning pareto {folder} --json")
