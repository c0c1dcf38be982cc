"""plan.json: what the runner logs to the parent run and reports/ reads back (rows, order, datasets, swept values)."""
from __future__ import annotations

import json

import pytest

from ablations.plan import plan
from ablations.plan_record import plan_record
from ablations.presets import PRESETS, apply_preset
from ablations.study import available_studies, load_study
from reports.contract import PLAN_ARTIFACT


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("name", available_studies())
def test_the_plan_record_lists_the_planned_rows(name, preset):
    study = apply_preset(load_study(name), preset)
    record = json.loads(json.dumps(plan_record(study)))  # what the artifact holds
    assert record["study"] == name and record["preset"] == preset and record["datasets"] == study.datasets
    assert record["swept"] == list(study.sweep) and record["search"] == study.search["algorithm"]
    assert set(record["data_limits"]) == set(study.datasets)
    if not study.is_grid:
        assert record["rows"] == []
        return
    specs = plan(study)
    assert [r["label"] for r in record["rows"]] == list(dict.fromkeys(s.variant for s in specs))
    for row in record["rows"]:
        assert row["datasets"] == [d for d in study.datasets if any(s.variant == row["label"] and s.dataset == d
                                                                    for s in specs)]
        if row["swept"]:  # a grid point: its label is its swept values, as the label writes them
            assert row["label"] == ", ".join(f"{k}={v}" for k, v in row["swept"].items())


def test_the_reports_read_the_plan_the_runner_logs(tmp_path):
    from mlflow.tracking import MlflowClient

    from reports.mlflow_source import study_info

    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    experiment = client.create_experiment("plan", artifact_location=(tmp_path / "artifacts").as_uri())
    study = apply_preset(load_study("shapley_samples"), "smoke")
    run = client.create_run(experiment, tags={"shapca.role": "study", "study": study.name, "preset": "smoke",
                                              "report_kind": "sweep", "report_params": "shapley.samples",
                                              "seeds": "1", "datasets": ",".join(study.datasets)})
    client.log_dict(run.info.run_id, plan_record(study), PLAN_ARTIFACT)
    info = study_info(client.get_run(run.info.run_id))
    assert info.sweep_points == {"shapley.samples=1": {"shapley.samples": "1"},
                                 "shapley.samples=64": {"shapley.samples": "64"}}
    assert info.variant_order == ("exact (batch 8)", "closed form")
    assert info.search == "grid" and info.swept == ("shapley.samples",)
