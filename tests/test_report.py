"""The front's console table, PNG and HTML."""

from __future__ import annotations

import pandas as pd

from raypruning import pareto, report

from hand_tables import OBJ, table


def test_plot_writes_png_and_html_with_one_element_per_drawn_trial(tmp_path):
    df = pareto.add_relative_columns(table())
    png, page = tmp_path / "front.png", tmp_path / "front.html"
    report.plot_front(df, OBJ, png, page, title="quickstart")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 1000
    text = page.read_text()
    assert text.count('class="trial"') == 6  # trial 5 has no score and is not drawn
    assert "<title>trial_id: 2" in text and "keep_fraction: 0.5" in text
    assert "quickstart" in text


def test_front_table():
    text = report.front_table(pareto.add_relative_columns(table()), OBJ)
    lines = text.splitlines()
    assert lines[0].split() == ["trial_id", "warmup", "period", "keep", "score", "score_delta", "time", "time_saving", "method"]
    # fastest first: 6, 2, 3, 1, 0; dominated 4 and NaN 5 absent
    assert [line.split()[0] for line in lines[1:]] == ["6", "2", "3", "1", "0"]
    assert "-20.00" in text and "80.0%" in text




def test_rival_note_names_the_epochs_and_describe_setting_the_spread():
    settings = pd.DataFrame({"trial_id": ["r", "r-e2", "p"], "score": [90.0, 88.0, 87.0],
                             "total_time_s": [100.0, 60.0, 61.0], "is_reference": [True, False, False],
                             "method": ["reference", "full-epochs", "dynamic"], "epochs": [3, 2, 3],
                             "warmup_epochs": [1, 0, 1], "period_epochs": [1, 1, 1], "keep_fraction": [1.0, 1.0, 0.5],
                             "seeds": [2, 2, 2], "score_std": [0.5, 0.3, 1.25]})
    settings = pareto.add_relative_columns(settings)
    note = report.rival_note(settings, settings.iloc[2], "total_time_s")
    assert note is not None and "full data for 2 epoch(s)" in note and "trial p" in note
    line = report.describe_setting(settings.iloc[2])
    assert "dynamic tau=1, T=1, f=0.500" in line and "+- 1.25 over 2 seeds" in line and "-3.00" in line
    table = report.front_table(settings, {"score": "max", "total_time_s": "min"})
    assert table.splitlines()[0].split()[:7] == ["trial_id", "warmup", "period", "keep", "score", "std", "seeds"]


def test_soft_points_name_their_mode_and_r_not_tau_t_f(tmp_path):
    settings = pd.DataFrame({"trial_id": ["r", "d", "s"], "score": [90.0, 85.0, 89.0],
                             "total_time_s": [100.0, 50.0, 70.0], "is_reference": [True, False, False],
                             "method": ["reference", "dynamic", "soft-loss"], "epochs": [4, 4, 4],
                             "warmup_epochs": [1, 1, 1], "period_epochs": [1, 1, 1],
                             "keep_fraction": [1.0, 0.5, 0.8], "prune_ratio": [0.5, 0.5, 0.3],
                             "overrides": ["{}", "{}", '{"pruning.mode": "soft", "pruning.prune_ratio": 0.3}']})
    settings = pareto.add_relative_columns(settings)
    objectives = {"score": "max", "total_time_s": "min"}
    lines = report.front_table(settings, objectives).splitlines()
    assert lines[0].split() == ["trial_id", "warmup", "period", "keep", "r", "score", "score_delta", "time",
                                "time_saving", "epochs", "method"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["s"][1:5] == ["-", "-", "-", "0.30"] and rows["s"][-1] == "soft-loss"
    assert rows["d"][1:5] == ["1", "1", "0.50", "-"] and rows["d"][-1] == "dynamic"
    assert "(soft-loss r=0.3)" in report.describe_setting(settings.iloc[2])
    report.plot_front(settings, objectives, tmp_path / "f.png", tmp_path / "f.html")
    page = (tmp_path / "f.html").read_text()
    assert page.count('fill="#e377c2"') == 1 and ">r=0.30</text>" in page
