"""A small study end to end on a local Ray instance (the session's `small_study`, tests/conftest.py),
its queries, and bad input.

An interrupted study's resume is covered by tests/test_faults.py (its driver killed with SIGKILL);
the error of a study left incomplete, here on a real Tune run with a failed trial."""

import glob
import json
import os
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from raypruning.cli import main
from raypruning.study.driver import incomplete

REPO = Path(__file__).resolve().parents[1]
DESIGN_COLUMNS = ["trial_id", "warmup_epochs", "period_epochs", "keep_fraction", "score", "total_time_s",
                  "wall_time_s", "examples_trained", "is_reference", "time_saving", "score_delta", "pareto"]
SMALL = ["data.synthetic.num_train=240", "data.synthetic.num_eval=60", "train.epochs=3", "train.max_length=40",
         "search.space.warmup_epochs={int: [0, 2]}", "search.space.period_epochs={int: [1, 2]}",
         "search.space.keep_fraction={uniform: [0.2, 0.9]}"]


def _study_args(tmp_path: Path, name: str, samples: int) -> list[str]:
    return ["studies/quickstart.yaml", *SMALL, f"search.num_samples={samples}",
            f"study.storage_path={tmp_path}", f"study.name={name}"]


def _nondominated(scores: np.ndarray, times: np.ndarray) -> list[bool]:
    """Independent O(n^2) check: no other row at least as good on both and better on one."""
    out = []
    for i in range(len(scores)):
        dominated = any(scores[j] >= scores[i] and times[j] <= times[i] and (scores[j] > scores[i] or times[j] < times[i])
                        for j in range(len(scores)) if j != i)
        out.append(not dominated)
    return out


@pytest.mark.slow
def test_trials_table(small_study):
    folder = small_study.folder
    df = pd.read_parquet(folder / "trials.parquet")
    for col in [*DESIGN_COLUMNS, "seed", "test_score", "epochs", "overrides"]:
        assert col in df.columns, col
    # Two runs (seeds 0 and 1) of every setting, the fewer-epochs curve among them.
    assert (df.groupby("trial_id")["seed"].apply(sorted) == pd.Series([[0, 1]] * df["trial_id"].nunique(),
            index=sorted(df["trial_id"].unique()))).all()
    curve = df[df["method"] == "full-epochs"]
    assert sorted(curve["epochs"].unique()) == [1, 2, 3]  # train.epochs=4
    assert df[df["method"] != "full-epochs"]["trial_id"].nunique() == 2  # 1 sampled + the reference
    assert df["test_score"].notna().all()
    ref = df[df["is_reference"]]
    assert len(ref) == 2 and (ref["keep_fraction"] == 1.0).all()
    assert ref["time_saving"].mean() == pytest.approx(0.0) and ref["score_delta"].mean() == pytest.approx(0.0)
    settings = df.groupby("trial_id")[["score", "total_time_s"]].mean()
    flags = df.groupby("trial_id")["pareto"].first()
    assert flags.tolist() == _nondominated(settings["score"].to_numpy(), settings["total_time_s"].to_numpy())
    pruned = df[~df["method"].isin(["reference", "full-epochs"])]
    assert (pruned["examples_trained"] <= ref["examples_trained"].iloc[0]).all()
    e1 = curve[curve["epochs"] == 1]
    assert (e1["total_time_s"].to_numpy() < ref["total_time_s"].to_numpy()).all()
    # Warmup sharing is on by default: the reference spends its whole run, the rows read from its
    # history nothing, the trial branched from its warmup (2 of 4 epochs) less than it would alone.
    assert (ref["cost_s"] == ref["total_time_s"]).all() and (curve["cost_s"] == 0).all()
    branched = df[df["method"] == "dynamic"]
    assert len(branched) == 2 and (branched["warmup_epochs"] == 2).all()
    assert (branched["cost_s"] < branched["total_time_s"]).all()
    meta = json.loads((folder / "study.json").read_text())
    assert 0 < meta["cost_full_runs"] < meta["cost_full_runs_standalone"]


@pytest.mark.slow
def test_optuna_storage_and_tensorboard(small_study):
    folder = small_study.folder
    study = optuna.load_study(study_name="small", storage=f"sqlite:///{folder / 'optuna.db'}")
    assert study.metric_names == ["score", "total_time_s"]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    df = pd.read_parquet(folder / "trials.parquet")
    settings = df.groupby("trial_id").agg(method=("method", "first"), score=("score", "mean"))
    # Every setting of trials.parquet is one Optuna trial, sampled or added at the end, with its method.
    assert sorted(t.user_attrs["raypruning_trial_id"] for t in complete) == sorted(settings.index)
    for trial in complete:
        row = settings.loc[trial.user_attrs["raypruning_trial_id"]]
        assert trial.user_attrs["method"] == row["method"] and trial.values[0] == pytest.approx(row["score"])
    sampled = [t for t in complete if t.params]
    assert len(sampled) == 2  # 1 sampled + the reference; baselines and the curve carry no Optuna params
    assert all("time_saving" in t.user_attrs for t in complete if t.user_attrs["method"] != "reference")
    assert glob.glob(str(folder / "tune" / "**" / "events.out.tfevents.*"), recursive=True)


@pytest.mark.slow
def test_mlflow_has_one_run_per_trial_with_metrics_per_epoch(small_study):
    from mlflow.tracking import MlflowClient

    folder = small_study.folder
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("small")
    runs = client.search_runs([experiment.experiment_id])
    df = pd.read_parquet(folder / "trials.parquet")
    tracked = df[df["method"] != "full-epochs"]["trial_id"].unique()  # the curve rows are not trials
    assert sorted(r.data.tags["trial_id"] for r in runs) == sorted(tracked)
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.data.params["train.epochs"] == "4" and run.data.tags["method"] in set(df["method"])
        epochs = [m.value for m in client.get_metric_history(run.info.run_id, "epoch")]
        assert epochs == [1, 2, 3, 4] * 2  # two seeds, four epochs each
        assert len(client.get_metric_history(run.info.run_id, "score")) == 9  # each epoch, then the seed means


@pytest.mark.slow
def test_best_and_pareto_commands(small_study, capsys):
    folder = small_study.folder
    df = pd.read_parquet(folder / "trials.parquet")
    settings = df.groupby("trial_id")[["score", "total_time_s"]].mean()
    assert main(["best", str(folder), "--max-drop", "100", "--json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["trial"]["total_time_s"] == pytest.approx(settings["total_time_s"].min())
    for key in ("score", "score_std", "seeds", "test_score"):
        assert key in best["trial"], key
    assert best["trial"]["seeds"] == 2
    assert main(["pareto", str(folder), "--json", "--plot", str(folder / "front.png")]) == 0
    front = json.loads(capsys.readouterr().out)
    assert sorted(r["trial_id"] for r in front["front"]) == sorted(df[df["pareto"]]["trial_id"].unique())
    assert front["hypervolume"] >= 0 and (folder / "front.png").stat().st_size > 0
    # The reference is always within 0 points of itself, so `best` always has an answer here.
    assert main(["best", str(folder), "--max-drop", "0"]) == 0
    text = capsys.readouterr().out
    assert "pruning:" in text and "train:" in text


@pytest.mark.slow
def test_export_the_best_trial_of_the_study(small_study, tmp_path, capsys):
    import raypruning

    folder = small_study.folder
    out = tmp_path / "best-model"
    assert main(["export", str(folder), "--output", str(out)]) == 0
    card = (out / "README.md").read_text()
    assert "over the setting's 2 seeds" in card and "never used to choose" in card
    model = raypruning.load_model(out)
    capsys.readouterr()
    assert main(["predict", str(out), "book a flight to boston", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["intent"] == model.predict(["book a flight to boston"])[0]["intent"]
    assert [s["word"] for s in row["slots"]] == ["book", "a", "flight", "to", "boston"]


@pytest.mark.parametrize("extra,needle", [
    (["study.optuna_storage=postgresql://nobody@127.0.0.1:1/none"], "study.optuna_storage"),
    (["search.space={colour: {choice: [1, 2]}}"], "search.space.colour"),
    (["search.space={}"], "search.space"),
    (["study.objectives=[score, joules]"], "study.objectives"),
])
def test_bad_study_input_exits_2_and_creates_nothing(tmp_path, capsys, extra, needle):
    os.chdir(REPO)
    code = main(["study", *_study_args(tmp_path, "bad", 1), *extra])
    err = capsys.readouterr().err
    assert code == 2 and needle in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_a_failed_trial_is_named_with_its_error_and_the_resume_command(ray_local, tmp_path):
    """A real Tune run with one trial that raises: the error counts it and quotes its exception."""
    import ray.tune

    def trainable(config):
        if config["keep"] == 0.2:
            raise ValueError("keep 0.2 broke")
        ray.tune.report({"score": 1.0})

    grid = ray.tune.Tuner(trainable, param_space={"keep": ray.tune.grid_search([1.0, 0.2])},
                          run_config=ray.tune.RunConfig(storage_path=str(tmp_path), verbose=0)).fit()
    message = str(incomplete(grid, 1, 2, "raypruning study s.yaml --resume"))
    assert message.startswith("the study stopped with 1/2 trials done (1 failed; the first: "), message
    assert "ValueError" in message and "keep 0.2 broke" in message, message
    assert message.endswith("; finish it with: raypruning study s.yaml --resume") and "\n" not in message
