"""The loop-overhead benchmark and the GPU check script: their pure parts, their refusals, and
(slow) that the bare loop trains exactly what the Ray loop trains."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
GPU_CHECK = REPO / "benchmarks" / "gpu_check.sh"


def _benchmark():
    if "loop_overhead" in sys.modules:
        return sys.modules["loop_overhead"]
    spec = importlib.util.spec_from_file_location("loop_overhead", REPO / "benchmarks" / "loop_overhead.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["loop_overhead"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _quick_config(extra=()):
    from raypruning.config import load_config

    args = type("Args", (), {"quick": True, "gpu": False})()
    return load_config(None, [*_benchmark().setting(args).overrides, *extra])


def test_length_batches_hold_less_padding_than_random():
    padding = _benchmark().padding_section(_quick_config())
    assert 0.0 <= padding["padding_share_length"] < padding["padding_share_random"] < 1.0
    assert padding["padding_share_length"] < 0.5 * padding["padding_share_random"]
    assert padding["num_examples"] == 600


def test_ray_cycles_are_the_gaps_between_reports():
    summary = {"history": [{"wall_time_s": 5.0}, {"wall_time_s": 7.5}, {"wall_time_s": 11.0}]}
    assert _benchmark().ray_cycles(summary) == [2.5, 3.5]


def test_budget_needs_the_batching_reference(capsys):
    with pytest.raises(SystemExit, match="batching"):
        _benchmark().main(["--quick", "--sections", "padding,budget"])


def test_seeds_section_adds_pairs_to_the_batching_pair_and_averages_their_score_differences(monkeypatch):
    """The batching section's pair (the default seed) and the seeds an earlier run recorded are
    reused, not rerun; the mean and the sample standard deviation are over every seed's
    length - random difference."""
    bench = _benchmark()
    scores = {(1, "random"): 90.0, (1, "length"): 89.0, (2, "random"): 88.0, (2, "length"): 88.5}
    ran = []

    def fake_run(s, extra, label):
        seed = int(next(x for x in extra if x.startswith("train.seed="))[len("train.seed="):])
        batching = next(x for x in extra if x.startswith("train.batching="))[len("train.batching="):]
        assert bench.BATCH_MEAN in extra  # the recorded pairs' slot loss, not the default
        ran.append((seed, batching))
        return {"score": scores[seed, batching], "test_score": scores[seed, batching] + 1}

    monkeypatch.setattr(bench, "_run", fake_run)
    args = type("Args", (), {"quick": True, "gpu": False})()
    batching = {"runs": {"random": {"score": 80.0, "test_score": 70.0}, "length": {"score": 82.0, "test_score": 69.0}}}
    recorded = {"seeds": [0, 1], "runs": {"1": {b: {"score": scores[1, b], "test_score": scores[1, b] + 1}
                                                for b in ("random", "length")}}}
    section = bench.seeds_section(bench.setting(args), [1, 0, 2], batching, recorded)
    assert sorted(ran) == [(2, "length"), (2, "random")]  # seeds 0 and 1 not rerun
    assert section["seeds"] == [0, 1, 2]
    assert section["score_delta_points"] == {"0": 2.0, "1": -1.0, "2": 0.5}
    assert section["score_delta_mean"] == pytest.approx(0.5)
    assert section["score_delta_std"] == pytest.approx(1.5)
    assert section["test_score_delta_mean"] == pytest.approx((-1.0 - 1.0 + 0.5) / 3)
    assert section["met"] is True


def test_update_keeps_the_sections_it_does_not_run(tmp_path, capsys):
    out = tmp_path / "lo.json"
    out.write_text(json.dumps({"dataset": "synthetic", "command": "python benchmarks/loop_overhead.py --quick",
                               "overhead": {"ray_share_median": 0.99, "pairs": [], "met": True}}))
    assert _benchmark().main(["--quick", "--sections", "padding", "--update", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["overhead"]["ray_share_median"] == 0.99 and "padding" in result
    assert result["command"] == "python benchmarks/loop_overhead.py --quick"
    assert result["updates"][0]["sections"] == ["padding"]


def test_slot_loss_section_compares_with_the_seeds_pairs(monkeypatch):
    """Only the length-grouped run with slot_loss=epoch runs (seeds already recorded are reused),
    and each is compared with the random and batch-mean length runs of its own seed."""
    bench = _benchmark()
    ran = []

    def fake_run(s, extra, label):
        assert "train.slot_loss=epoch" in extra and "train.batching=length" in extra
        seed = int(next(x for x in extra if x.startswith("train.seed="))[len("train.seed="):])
        ran.append(seed)
        return {"score": 88.0 + seed, "test_score": 84.0}

    monkeypatch.setattr(bench, "_run", fake_run)
    args = type("Args", (), {"quick": True, "gpu": False})()
    pairs = {"runs": {str(seed): {"random": {"score": 88.0, "test_score": 85.0},
                                  "length": {"score": 87.0, "test_score": 84.5}} for seed in (0, 1, 2)}}
    recorded = {"runs": {"0": {"score": 88.5, "test_score": 85.0}}}
    section = bench.slot_loss_section(bench.setting(args), [0, 1, 2], pairs, recorded)
    assert ran == [1, 2]
    assert section["score_delta_vs_random"]["per_seed"] == {"0": 0.5, "1": 1.0, "2": 2.0}
    assert section["score_delta_vs_random"]["mean"] == pytest.approx(3.5 / 3)
    assert section["score_delta_vs_batch_mean"]["mean"] == pytest.approx(3.5 / 3 + 1)
    assert section["test_score_delta_vs_random"]["mean"] == pytest.approx(-2 / 3)
    assert section["met"] is False
    with pytest.raises(SystemExit, match=r"seeds \[5\] have no random / length pair"):
        bench.slot_loss_section(bench.setting(args), [0, 5], pairs, recorded)


def test_slot_weight_spread_of_the_batch_mean():
    """A batch of 2 slot tokens gives each 1/2, one of 8 gives each 1/8: over the 10 tokens the
    90th percentile weight is 1/2 and the 10th 1/8."""
    from raypruning.batching import GlobalBatch

    plan = [GlobalBatch(np.array([0, 1]), 4), GlobalBatch(np.array([2, 3]), 9)]
    assert _benchmark().slot_weight_spread(plan, np.array([1, 1, 4, 4])) == pytest.approx(4.0)
    assert _benchmark().slot_weight_spread(plan, np.array([2, 2, 2, 2])) == pytest.approx(1.0)


def test_merge_seeds_takes_other_invocations_runs(tmp_path):
    """Seeds run by two invocations at once (each its own --out) count as recorded; a seed both
    recorded with other runs, or a file of another dataset, is an error."""
    bench = _benchmark()
    pair = {b: {"score": 80.0, "test_score": 70.0} for b in ("random", "length")}
    other = dict(pair, length={"score": 81.0, "test_score": 70.0})
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    a.write_text(json.dumps({"dataset": "atis", "seeds": {"runs": {"0": pair, "5": pair}}}))
    b.write_text(json.dumps({"dataset": "atis", "seeds": {"runs": {"0": pair, "7": other}}}))
    c.write_text(json.dumps({"dataset": "snips", "seeds": {"runs": {"8": pair}}}))
    merged = bench.merged_seeds({"runs": {"0": pair}}, [a, b], "atis")
    assert merged == {"runs": {"0": pair, "5": pair, "7": other}}
    b.write_text(json.dumps({"dataset": "atis", "seeds": {"runs": {"5": other}}}))
    with pytest.raises(SystemExit, match="seed 5 of .*b.json differs"):
        bench.merged_seeds({"runs": {"0": pair}}, [a, b], "atis")
    with pytest.raises(SystemExit, match="holds 'snips', not 'atis'"):
        bench.merged_seeds(None, [c], "atis")


def test_seeds_need_a_batching_pair(tmp_path):
    with pytest.raises(SystemExit, match="seeds extends the batching"):
        _benchmark().main(["--quick", "--sections", "seeds", "--out", str(tmp_path / "lo.json")])


def test_gpu_check_script_parses():
    proc = subprocess.run(["bash", "-n", str(GPU_CHECK)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_gpu_check_without_arguments_prints_usage():
    proc = subprocess.run(["bash", str(GPU_CHECK)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "usage: bash benchmarks/gpu_check.sh OUT_DIR" in proc.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_check_refuses_a_machine_without_gpu(tmp_path):
    out = tmp_path / "gpu"
    proc = subprocess.run(["bash", str(GPU_CHECK), str(out)], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no CUDA GPU" in proc.stderr
    assert not out.exists()  # nothing written before the refusal


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_bare_loop_trains_what_the_ray_loop_trains(tmp_path, ray_local):
    """Same data, initialisation, batches, dropout seeds and optimizer: the same model, so the
    examples/s ratio compares two loops doing identical work. The quick task is a joint one, run
    with the default train.slot_loss=epoch: the two loops also divide the slot loss alike."""
    bench = _benchmark()
    args = type("Args", (), {"quick": True, "gpu": False, "repeats": 1})()
    s = bench.setting(args)
    overhead = bench.overhead_section(args, s)
    pair = overhead["pairs"][0]
    assert pair["ray"]["score"] == pytest.approx(pair["bare"]["score"], abs=1e-9)
    assert len(pair["ray"]["cycles_s"]) == len(pair["bare"]["cycles_s"]) == 1
    assert overhead["ray_share_median"] == pytest.approx(pair["ray_share"])
    assert json.dumps(overhead)  # the section is JSON as written to the results file


@pytest.mark.slow
@pytest.mark.extended  # seven Ray runs: about 2 minutes on an idle 2-core machine
@pytest.mark.timeout(600)
def test_loop_overhead_quick_end_to_end(tmp_path):
    out = tmp_path / "lo.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "loop_overhead.py"), "--quick", "--out",
                           str(out)], cwd=REPO, capture_output=True, text=True, timeout=580)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert set(result) >= {"padding", "overhead", "batching", "seeds", "budget", "command", "machine"}
    assert result["seeds"]["seeds"] == [0, 1]
    assert [r["keep_fraction"] for r in result["budget"]["rows"]] == [0.5, 0.2]
    runs = result["batching"]["runs"]
    assert runs["random"]["examples_trained"] == runs["length"]["examples_trained"]
    for row in result["budget"]["rows"]:
        assert 0 < row["ideal_fraction"] < 1 and row["run"]["examples_trained"] < runs["length"]["examples_trained"]
