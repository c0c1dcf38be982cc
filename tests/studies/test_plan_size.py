"""Plans of any size answer at once: a plan's size is counted from the cut study before any config is resolved, and a
plan over the bound (--max-trials) is refused with the count and the bound."""
from __future__ import annotations

import time

import pytest
import yaml

from ablations import run
from ablations.options import MAX_TRIALS, Options
from ablations.plan import make_plan
from ablations.presets import PRESETS
from ablations.rows import row_count, rows
from ablations.schema import StudyError
from ablations.study_file import available_studies, load_study

HUNDRED = range(1, 101)
MILLION = {"name": "million", "description": "three grids of 100 values", "datasets": ["twitter2017"],
           "seeds": [1], "search": {"algorithm": "grid"}, "report": {"kind": "sweep", "params": ["train.lr"]},
           "sweep": {"train.lr": {"grid": [i * 1e-6 for i in HUNDRED]},
                     "align.tau": {"grid": [i / 200 for i in HUNDRED]},
                     "shapley.samples": {"grid": list(HUNDRED)}}}


def write(tmp_path, data):
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("preset", list(PRESETS))
def test_a_million_point_grid_answers_its_dry_run_at_once_at_every_preset(tmp_path, capsys, preset):
    path = write(tmp_path, MILLION)
    t = time.perf_counter()
    code = run.main(["--study", str(path), "--preset", preset, "--dry-run",
                     "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}", "--storage", str(tmp_path / "runs")])
    took = time.perf_counter() - t
    out, err = capsys.readouterr()
    kept = PRESETS[preset].max_grid_values
    if kept:  # smoke and compare cut each grid: the plan is drawn
        assert code == 0 and f"grid: {kept ** 3} trials" in out
    else:  # cpu and full keep every value: refused, with the count and the bound, before any config resolves
        assert code == 2 and "the plan has 1,000,000 trials = rows per dataset (twitter2017 1,000,000) x 1 " \
                             f"seed(s), more than --max-trials {MAX_TRIALS:,}" in err
    assert took < 10, f"{preset}: {took:.1f} s"  # it took minutes (cpu, full) when every config was resolved


def test_the_bound_is_overridable_and_counts_seeds_datasets_and_samples(tmp_path):
    study = load_study(write(tmp_path, dict(MILLION, sweep={"align.tau": {"grid": [0.1, 0.2, 0.3]}},
                                            report={"kind": "sweep", "params": ["align.tau"]}, seeds=[1, 2, 3])))
    assert make_plan(study, Options(study="s", preset="full", max_trials=9)).size == 9
    with pytest.raises(StudyError, match="the plan has 9 trials = .* x 3 seed\\(s\\), more than --max-trials 8"):
        make_plan(study, Options(study="s", preset="full", max_trials=8))
    search = load_study(write(tmp_path, dict(MILLION, datasets=["twitter2017", "mnre"], seeds=[1, 2],
                                             sweep={"train.lr": {"loguniform": [1e-5, 1e-4]}},
                                             search={"algorithm": "optuna", "num_samples": 5})))
    with pytest.raises(StudyError, match="20 trials = num_samples 5 x 2 dataset\\(s\\) x 2 seed\\(s\\)"):
        make_plan(search, Options(study="s", preset="full", max_trials=19))


@pytest.mark.parametrize("name", available_studies())
def test_rows_are_counted_as_they_are_made(name):
    study = load_study(name)
    for dataset in study.datasets:
        assert row_count(study, dataset) == len(rows(study, dataset))


def test_the_options_refuse_what_cannot_run(capsys):
    for words in (["--seeds", "-1"], ["--seeds", str(2 ** 32)], ["--max-concurrent", "-1"],
                  ["--max-failures", "-1"], ["--max-trials", "0"], ["--tracking-wait", "-5"]):
        with pytest.raises(SystemExit):
            Options.parse(["--study", "temperature", *words])
        assert f"argument {words[0]}:" in capsys.readouterr().err
    assert Options.parse(["--study", "s", "--seeds", "0", str(2 ** 32 - 1)]).seeds == (0, 2 ** 32 - 1)
