"""The `raypruning` console script: one command, one subcommand per job.

Exit codes: 0 success, 2 bad input (config, data, arguments), 1 anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path

from raypruning import __version__
from raypruning.console import VERBOSE_ENV
from raypruning.errors import InputError, StudyIncomplete

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that exits with 2 and one line on bad arguments."""

    def error(self, message):
        raise InputError(f"{self.prog}: {message}")


def _cmd_validate(args) -> int:
    from raypruning.config import load_config
    from raypruning.validate import model_problems

    problems = []
    for path in args.files:
        try:
            cfg = load_config(path)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(p.line() for p in model_problems(cfg.model, path))
    if problems:
        raise InputError(problems)
    print(f"{len(args.files)} file(s) valid")
    return EXIT_OK


def _cmd_data(args) -> int:
    from raypruning.config import load_config
    from raypruning.data.sources import describe, describe_text, load_task_data

    cfg = load_config(args.config, args.overrides)
    info = describe(load_task_data(cfg.data), cfg.data.format)
    try:
        print(json.dumps(info, indent=2) if args.json else describe_text(info), flush=True)
    except BrokenPipeError:  # `raypruning data ... | head`: the reader stopped early, which is fine
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    return EXIT_OK


def _cmd_train(args) -> int:
    from raypruning.config import load_config, to_yaml
    from raypruning.data.sources import load_task_data
    from raypruning.progress import EpochProgress, summary_table
    from raypruning.run import check_resources, ensure_ray, run_training
    from raypruning.validate import model_problems, raise_problems

    cfg = load_config(args.config, args.overrides)
    raise_problems(model_problems(cfg.model, args.config))
    output = Path(args.output or Path(cfg.study.storage_path) / "runs" / f"{cfg.study.name}-run")
    _require_folder(output, "--output" if args.output else "the run folder")
    load_task_data(cfg.data)  # bad data fails here, before any Ray work
    where = ensure_ray(args.address, include_dashboard=args.ray_dashboard)
    check_resources(cfg, local=not (args.address or os.environ.get("RAY_ADDRESS")))
    print(f"raypruning train: {cfg.data.format} data, model {cfg.model.name}, mode {cfg.pruning.mode} "
          f"(tau={cfg.pruning.warmup_epochs}, T={cfg.pruning.period_epochs}, f={cfg.pruning.keep_fraction}), "
          f"{cfg.scaling.num_workers} worker(s) on {where}", flush=True)
    output.mkdir(parents=True, exist_ok=True)
    (output / "config.yaml").write_text(to_yaml(cfg))
    summary = run_training(cfg, output, callbacks=[EpochProgress()])
    print(summary_table(summary))
    print(f"run written to {output}")
    return EXIT_OK


def _require_folder(path: Path, what: str) -> None:
    """Refuse a folder path that is, or lies inside, an existing file (before anything is written)."""
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                where = "is an existing file" if part == path else f"lies inside the file '{part}'"
                raise InputError(f"raypruning train: {what} '{path}' {where}, not a folder")
            return


def _cmd_study(args) -> int:
    from raypruning.study.driver import run_study

    run_study(args.config, args.overrides, resume=args.resume, address=args.address)
    return EXIT_OK


def _cmd_best(args) -> int:
    from raypruning.queries import best_command

    return best_command(args.study, max_drop=args.max_drop, time_budget=args.time_budget, as_json=args.json)


def _cmd_pareto(args) -> int:
    from raypruning.queries import pareto_command

    return pareto_command(args.study, plot=args.plot, as_json=args.json)


def _cmd_dashboard(args) -> int:
    from raypruning.dashboard import dashboard_command

    return dashboard_command(args.study, print_only=args.print_only, port=args.port, tb_port=args.tensorboard_port)


def _cmd_submit(args) -> int:
    from raypruning.config import load_config
    from raypruning.submit import submit_study
    from raypruning.validate import model_problems, raise_problems, study_problems

    # The study's checks, here: the model is loaded on the cluster, so only what holds there too.
    cfg = load_config(args.config, args.overrides)
    raise_problems(study_problems(cfg, args.config, against_run=True)
                   + model_problems(cfg.model, args.config, this_machine=False))

    address = args.address or os.environ.get("RAY_ADDRESS")
    if not address:
        raise InputError("raypruning submit: give --address (the Ray dashboard URL) or set RAY_ADDRESS")
    return submit_study(args.config, address, args.overrides, follow=args.follow)


def _points(text: str) -> float:
    """A --max-drop: a finite number of points, 0 or more."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 points, got {text}")
    return value


def _seconds(text: str) -> float:
    """A --time-budget: a number of seconds above 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return value


def _plot_file(text: str) -> str:
    """A --plot file: a suffix matplotlib writes (the .html twin goes beside it), in an existing folder."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(text)
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    if path.suffix.lower().lstrip(".") not in formats:
        raise argparse.ArgumentTypeError(f"'{text}' needs an image suffix matplotlib writes, e.g. .png "
                                         f"(one of {', '.join('.' + f for f in formats)})")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"'{text}': no such folder '{path.parent}'")
    return text


def _cmd_export(args) -> int:
    from transformers.utils import logging as hf_logging

    from raypruning.export import export

    hf_logging.disable_progress_bar()  # one line of output, not a weight-saving bar

    folder = export(args.run_dir, args.output, trial=args.trial)
    print(f"exported to {folder}")
    return EXIT_OK


def _cmd_predict(args) -> int:
    from transformers.utils import logging as hf_logging

    from raypruning.predict import predict_command

    hf_logging.disable_progress_bar()  # predictions only, not a weight-loading bar

    return predict_command(args.model_dir, args.texts, as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="raypruning", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"raypruning {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="keep Ray's, Tune's and Optuna's own console output (per-report lines and more)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("validate", help="check study/run config files without starting Ray")
    p.add_argument("files", nargs="+", help="YAML config files")
    p.set_defaults(func=_cmd_validate)

    def config_args(p):
        p.add_argument("config", help="YAML config file")
        p.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. pruning.keep_fraction=0.5")

    def ray_args(p, dashboard_flag=True):
        p.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS or a local instance)")
        if dashboard_flag:
            p.add_argument("--ray-dashboard", action=argparse.BooleanOptionalAction, default=True,
                           help="start the Ray dashboard with a local instance (default: on)")

    p = sub.add_parser("data", help="load the config's data and describe it")
    config_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("train", help="one finetuning run with the config's fixed pruning settings")
    config_args(p)
    p.add_argument("--output", default=None, help="run folder (default: <storage_path>/runs/<study name>-run)")
    ray_args(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("study", help="search warmup, period and keep fraction with Ray Tune + Optuna")
    config_args(p)
    p.add_argument("--resume", action="store_true", help="finish an interrupted study")
    ray_args(p, dashboard_flag=False)  # a study always needs the dashboard (see study.run_study)
    p.set_defaults(func=_cmd_study)

    p = sub.add_parser("best", help="the configuration that fits a constraint")
    p.add_argument("study", help="study folder (or a study name under the default storage)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--max-drop", type=_points, default=None, metavar="POINTS",
                       help="fastest trial within POINTS of the full-data reference (default 1.0)")
    group.add_argument("--time-budget", type=_seconds, default=None, metavar="SECONDS",
                       help="most accurate trial within the time budget")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_best)

    p = sub.add_parser("pareto", help="the Pareto front of a study")
    p.add_argument("study", help="study folder (or a study name under the default storage)")
    p.add_argument("--plot", type=_plot_file, default=None, metavar="FILE",
                   help="write a plot image, e.g. front.png (and FILE.html beside it)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_pareto)

    p = sub.add_parser("dashboard", help="start (or print how to reach) optuna-dashboard and TensorBoard")
    p.add_argument("study", help="study folder (or a study name under the default storage)")
    p.add_argument("--print", dest="print_only", action="store_true", help="only print the commands")
    p.add_argument("--port", type=int, default=8080, help="optuna-dashboard port")
    p.add_argument("--tensorboard-port", type=int, default=6006, help="TensorBoard port")
    p.set_defaults(func=_cmd_dashboard)

    p = sub.add_parser("submit", help="launch a study on a running Ray cluster (Ray Jobs API)")
    config_args(p)
    p.add_argument("--address", default=None,
                   help="Ray dashboard / Jobs API address, e.g. http://127.0.0.1:8265 (default: RAY_ADDRESS)")
    p.add_argument("--follow", action="store_true", help="stream the job's logs and exit with its outcome")
    p.set_defaults(func=_cmd_submit)

    p = sub.add_parser("export", help="write a run's model as a folder transformers (or raypruning.load_model) loads")
    p.add_argument("run_dir", metavar="RUN_OR_STUDY",
                   help="a run folder written by `raypruning train --output`, or a study folder")
    p.add_argument("--trial", default="best", metavar="best|ID",
                   help="a study's trial: best (fastest within 1 point of the reference) or a trial id")
    p.add_argument("--output", required=True, metavar="DIR", help="folder to write the model, tokenizer and card")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("predict", help="predict with an exported model folder")
    p.add_argument("model_dir", metavar="DIR", help="folder written by `raypruning export`")
    p.add_argument("texts", nargs="*", metavar="TEXT",
                   help="texts to classify (default: one per line on stdin; pair tasks: the two texts tab-separated)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_predict)
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse, accepting key=value overrides before or after the flags
    (`raypruning submit CONFIG --address URL --follow key=value`)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    stray = [a for a in extra if a.startswith("-") or "=" not in a]
    if stray or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    return args


def _ray_is_up() -> bool:
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def _stop_ray_quietly() -> None:
    """Shut down the Ray instance this command started, dropping what its workers print as they
    are stopped (a trial killed mid-call may print a traceback), so that the error line ends the
    console."""
    import ray

    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    ray_was_up = _ray_is_up()  # a caller's own Ray session (tests, notebooks) is left running
    try:
        args = parse(argv)
        if args.verbose:
            os.environ[VERBOSE_ENV] = "1"
        return args.func(args)
    except InputError as exc:
        if not ray_was_up and _ray_is_up():
            _stop_ray_quietly()
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StudyIncomplete as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
