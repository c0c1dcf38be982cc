"""--until-resolved: rounds of added seeds for the undetermined rows and their reference, and the dry run's power."""
import dataclasses
import types

import pytest

from ablations import adaptive
from ablations.options import Options
from ablations.plan import make_plan
from ablations.schema import StudyError
from ablations.study_file import load_study
from reports import comparisons, mlflow_source


def plan_of(name="ablation", **options):
    return make_plan(load_study(name), Options(study=name, preset="compare", **options), amp=("none", "a test"))


def test_the_cap_comes_from_the_command_line_or_the_study_file_and_is_checked():
    assert plan_of(until_resolved=12).study.report["until_resolved"] == 12
    assert "until_resolved" not in plan_of().study.report
    with pytest.raises(StudyError, match="at least its 3 planned seed"):
        plan_of(until_resolved=2)
    with pytest.raises(StudyError, match="optuna search"):
        plan_of("hpo", until_resolved=6)


def test_the_reference_row_is_the_one_the_tables_compare_with():
    assert adaptive.reference_row(plan_of()) == "full"
    assert adaptive.reference_row(plan_of("context_generator")) == "none"
    assert adaptive.reference_row(plan_of("main")) == "Shap-CA"
    assert adaptive.reference_row(plan_of("temperature")) == "align.tau=0.1"  # a point of the grid
    assert adaptive.reference_row(without_reference(plan_of("temperature"))) is None


def without_reference(plan):
    report = {k: v for k, v in plan.study.report.items() if k != "reference"}
    return dataclasses.replace(plan, study=dataclasses.replace(plan.study, report=report))


class Looks:
    """Stands in for the reports' look at the store: each call returns the next round in turn."""

    def __init__(self, rounds):
        self.rounds, self.calls = list(rounds), 0

    def load(self, client, study, preset):
        self.calls += 1
        return types.SimpleNamespace(trials=[None] * (3 + 3 * self.calls))  # each round finishes trials

    def round(self, data, cap):
        runs = self.rounds.pop(0)
        return types.SimpleNamespace(runs=runs, done=not runs, looks=(3, 6, 12), levels=(0.007, 0.014, 0.029),
                                     lines=lambda: [f"asked {runs}"])


def test_rounds_add_the_seeds_each_look_asks_for_until_it_asks_for_none(monkeypatch, capsys, tmp_path):
    looks = Looks([{("w/o Shapley", "twitter2017"): (4, 5, 6), ("full", "twitter2017"): (4, 5, 6)},
                   {("w/o Shapley", "twitter2017"): (7, 8), ("full", "twitter2017"): (7, 8)}, {}])
    monkeypatch.setattr(mlflow_source, "load_study", looks.load)
    monkeypatch.setattr(comparisons, "study_round", looks.round)
    monkeypatch.setattr(adaptive, "within", lambda data, plan: data)  # the stand-in records are this plan's only
    plan, replanned, launched, flushed = plan_of(until_resolved=12), [], [], []
    outcome = types.SimpleNamespace(interrupted=False)
    outbox = types.SimpleNamespace(flush=lambda: flushed.append(1))
    uri = f"sqlite:///{tmp_path / 'x.db'}"
    adaptive.until_resolved(plan, lambda extra: replanned.append(extra) or plan, uri, launched.append, outbox, outcome)
    cell = ("w/o Shapley", "twitter2017")
    assert replanned == [{cell: (4, 5, 6), ("full", "twitter2017"): (4, 5, 6)},
                         {cell: (4, 5, 6, 7, 8), ("full", "twitter2017"): (4, 5, 6, 7, 8)}]
    assert len(launched) == 2 and len(flushed) == 3  # every look reads a store that holds every write
    out = capsys.readouterr().out
    assert out.count("until-resolved: a look at") == 3 and "asked {}" in out


def test_a_round_that_finishes_nothing_ends_the_rounds(monkeypatch, capsys, tmp_path):
    looks = Looks([{("w/o Shapley", "twitter2017"): (4,)}] * 3)
    looks.load = lambda client, study, preset: types.SimpleNamespace(trials=[None] * 3)  # nothing ever finishes
    monkeypatch.setattr(mlflow_source, "load_study", looks.load)
    monkeypatch.setattr(comparisons, "study_round", looks.round)
    monkeypatch.setattr(adaptive, "within", lambda data, plan: data)  # the stand-in records are this plan's only
    launched = []
    plan = plan_of(until_resolved=6)
    adaptive.until_resolved(plan, lambda extra: plan, f"sqlite:///{tmp_path / 'x.db'}", launched.append,
                            types.SimpleNamespace(flush=lambda: None), types.SimpleNamespace(interrupted=False))
    assert len(launched) == 1 and "finished no trial; stopping" in capsys.readouterr().out


def test_the_dry_run_says_there_is_no_history_where_the_store_has_none():
    lines = adaptive.power_lines(plan_of(), "")
    assert len(lines) == 4 and all("no power estimate" in line for line in lines)
    assert not any("context-image" in line for line in lines)  # left out as redundant (no images): not run
    assert adaptive.power_lines(without_reference(plan_of("temperature")), "") == []


def test_a_look_sees_only_the_rows_and_datasets_this_start_plans():
    from reports.records import StudyData, StudyInfo, Trial

    def trial(variant, dataset, seed):
        return Trial(run_id=f"{variant}-{dataset}-{seed}", status="FINISHED", start_time=0, variant=variant,
                     dataset=dataset, seed=seed, preset="compare", config_hash=variant, trial_hash=f"{seed}")

    info = StudyInfo(name="ablation", preset="compare", parent_run_id="p", kind="ablation", params=(), seeds=(1, 2, 3),
                     datasets=("twitter2017", "mnre"))
    trials = [trial(v, d, s) for v in ("full", "w/o Shapley", "w/o context-image alignment")
              for d in ("twitter2017", "mnre") for s in (1, 2, 3)]
    cut = adaptive.within(StudyData(info=info, trials=trials, failed=[], notes=[]), plan_of())  # Twitter-2017 only
    assert cut.info.datasets == ("twitter2017",)
    assert {t.cell for t in cut.trials} == {("full", "twitter2017"), ("w/o Shapley", "twitter2017")}  # not redundant
