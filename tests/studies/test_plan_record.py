"""plan.json: what the runner logs to the parent run and reports/ reads back (rows, order, datasets, swept values)."""
from __future__ import annotations

import json

import pytest

from ablations.options import Options
from ablations.plan import make_plan
from ablations.plan_record import plan_record
from ablations.presets import PRESETS
from ablations.study_file import available_studies, load_study
from reports.contract import PLAN_ARTIFACT


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("name", available_studies())
def test_the_plan_record_lists_the_planned_rows(name, preset):
    plan = make_plan(load_study(name), Options(study=name, preset=preset))
    study = plan.study
    record = json.loads(json.dumps(plan_record(plan)))  # what the artifact holds
    assert record["study"] == name and record["preset"] == preset and record["datasets"] == study.datasets
    assert record["swept"] == list(study.sweep) and record["search"] == study.search["algorithm"]
    assert set(record["data_limits"]) == set(study.datasets)
    if study.search["algorithm"] == "optuna":
        assert record["rows"] == []
        return
    specs = plan.planned
    assert [r["label"] for r in record["rows"]] == list(dict.fromkeys(s.label for s in specs))
    for row in record["rows"]:
        assert row["datasets"] == [d for d in study.datasets if any(s.label == row["label"] and s.dataset == d
                                                                    for s in specs)]
        if row["swept"]:  # a grid point: its label is its swept values, as the label writes them
            assert row["label"] == ", ".join(f"{k}={v}" for k, v in row["swept"].items())


def test_the_reports_read_the_plan_the_runner_logs(tmp_path):
    from mlflow.tracking import MlflowClient

    from reports.mlflow_source import study_info

    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    experiment = client.create_experiment("plan", artifact_location=(tmp_path / "artifacts").as_uri())
    plan = make_plan(load_study("shapley_samples"), Options(study="shapley_samples", preset="smoke"))
    run = client.create_run(experiment, tags={"shapca.role": "study", "study": plan.study.name, "preset": "smoke",
                                              "report_kind": "sweep", "report_params": "shapley.samples",
                                              "seeds": "1", "datasets": ",".join(plan.study.datasets)})
    client.log_dict(run.info.run_id, plan_record(plan), PLAN_ARTIFACT)
    info = study_info(client.get_run(run.info.run_id))
    assert info.sweep_points == {"shapley.samples=1": {"shapley.samples": "1"},
                                 "shapley.samples=64": {"shapley.samples": "64"}}
    assert info.variant_order == ("exact (batch 8)", "closed form")
    assert info.search == "grid" and info.swept == ("shapley.samples",)
