"""MLflow's runs table as the paper's table: a run per row and dataset, between the parent and the seed runs, with
the numbers the table prints; made once and updated by every rebuild; and the addresses that open it."""
import json
import zlib
import base64

from mlflow.tracking import MlflowClient

from reports.build import build_study
from reports.links import artifact_url, next_steps, run_url, runs_url, ui_command, ui_url
from reports.table_runs import VIEW_PREFIX, view_key


def _rows(client, fixture_store, study):
    parent = fixture_store.parents[f"{study}/cpu"]
    experiment = client.get_run(parent).info.experiment_id
    runs = client.search_runs([experiment], f"tags.`shapca.role` = 'row' and tags.study = '{study}'")
    return parent, experiment, {(r.data.tags["variant"], r.data.tags["dataset"]): r for r in runs}


def _csv(built, study, name):
    lines = (built[study][0] / f"{name}.csv").read_text().splitlines()
    header = lines[0].split(",")
    return {line.split(",")[0]: dict(zip(header, line.split(","))) for line in lines[1:]}


def test_a_run_per_row_carries_the_tables_numbers_and_holds_its_seed_runs(built, fixture_store):
    client = MlflowClient(fixture_store.uri)
    parent, _, rows = _rows(client, fixture_store, "samples")
    table = _csv(built, "samples", "sweep_shapley_samples")
    assert set(rows) == {(v, "twitter2017") for v in ("shapley.samples=1", "shapley.samples=4", "shapley.samples=16",
                                                      "closed form")}
    for (variant, _), run in rows.items():
        cells = table[variant.removeprefix("shapley.samples=")]
        metrics, tags = run.data.metrics, run.data.tags
        assert tags["mlflow.parentRunId"] == parent and run.info.status == "FINISHED"
        assert metrics["F1"] == round(float(cells["Twitter-2017 F1 mean"]), 1)
        assert metrics["F1_std"] == round(float(cells["Twitter-2017 F1 std"]), 1) and metrics["n"] == 2
        assert tags["seeds"] == "1,2" and len(run.info.run_name) <= 20
        if variant == "closed form":  # the study's reference
            assert tags["verdict"] == "reference" and "dF1" not in metrics
        else:
            assert tags["verdict"].endswith(cells["Twitter-2017 F1 verdict"])
            assert metrics["dF1"] == round(float(cells["Twitter-2017 F1 paired ΔF1"]), 1)
            assert (metrics["dF1_low"], metrics["dF1_high"]) == (round(float(cells["Twitter-2017 F1 low"]), 1),
                                                                 round(float(cells["Twitter-2017 F1 high"]), 1))
            assert cells["Twitter-2017 F1 verdict"] in tags["mlflow.note.content"]
        seeds = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")
        assert sorted(r.data.tags["seed"] for r in seeds) == ["1", "2"]
        assert {r.info.run_name for r in seeds} == {f"s{k} · {run.info.run_name}" for k in (1, 2)}
        assert {r.data.tags["variant"] for r in seeds} == {variant}
    order = sorted(rows.values(), key=lambda r: r.data.metrics["row"])
    assert [r.data.tags["variant"] for r in order] == [
        "shapley.samples=1", "shapley.samples=4", "shapley.samples=16", "closed form"]  # as the table prints them


def test_a_rebuild_updates_the_row_runs_and_makes_no_second_one(built, fixture_store, tmp_path):
    client = MlflowClient(fixture_store.uri)
    _, experiment, before = _rows(client, fixture_store, "main")
    build_study("main", fixture_store.uri, out_dir=tmp_path / "again")
    _, _, after = _rows(client, fixture_store, "main")
    assert {k: r.info.run_id for k, r in after.items()} == {k: r.info.run_id for k, r in before.items()}
    assert {k: r.data.metrics for k, r in after.items()} == {k: r.data.metrics for k, r in before.items()}
    view = json.loads(client.get_experiment(experiment).tags[VIEW_PREFIX + view_key("main", "cpu")])
    state = json.loads(zlib.decompress(base64.b64decode(view["state"].removeprefix("deflate;"))))
    assert view["name"] == "table: main (cpu)" and "metrics.`F1_std`" in state["selectedColumns"]
    assert state["orderByKey"] == "metrics.`row`" and "'row'" in state["searchFilter"]


def test_a_search_gets_a_view_of_its_trials_and_no_row_runs(built, fixture_store):
    client = MlflowClient(fixture_store.uri)
    _, experiment, rows = _rows(client, fixture_store, "search")
    assert rows == {}
    view = json.loads(client.get_experiment(experiment).tags[VIEW_PREFIX + view_key("search", "cpu")])
    state = json.loads(zlib.decompress(base64.b64decode(view["state"].removeprefix("deflate;"))))
    assert state["orderByKey"] == "metrics.`dev_f1`" and "params.`train.lr`" in state["selectedColumns"]


def test_the_ui_is_the_tracking_server_or_where_mlflow_ui_listens():
    assert ui_url("http://head:5000/") == "http://head:5000"
    assert ui_url("https://mlflow.example.org/x") == "https://mlflow.example.org/x"
    assert ui_url("sqlite:////tmp/m.db") == "http://127.0.0.1:5000"
    assert ui_url("postgresql://u:pw@db/m", "http://127.0.0.1:15000") == "http://127.0.0.1:15000"
    assert runs_url("http://h:1", "7") == "http://h:1/#/experiments/7/runs?workflowType=machine_learning"
    assert runs_url("http://h:1", "7", "shapca-main-cpu").endswith("&viewStateShareKey=shapca-main-cpu")
    assert run_url("http://h:1/", "7", "abc") == "http://h:1/#/experiments/7/runs/abc?workflowType=machine_learning"
    assert artifact_url("", "abc", "reports/f.pdf") == "/get-artifact?path=reports%2Ff.pdf&run_uuid=abc"
    assert ui_command("http://head:5000") is None
    assert ui_command("postgresql://u:secret@db/m") == "mlflow ui --backend-store-uri 'postgresql://u:***@db/m'"
    assert ui_command("sqlite:////tmp/m.db", "http://127.0.0.1:5001").endswith(" --host 127.0.0.1 --port 5001")


def test_a_study_ends_with_where_to_look():
    lines = next_steps("sqlite:////tmp/m.db", "http://127.0.0.1:5000", "3", "shapca-main-smoke", "/r/report.html")
    assert lines[1].startswith("  mlflow ui --backend-store-uri 'sqlite:////tmp/m.db'")
    assert "http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning&viewStateShareKey" in lines[2]
    assert lines[-1].endswith("/r/report.html")
    served = next_steps("http://head:5000", "http://head:5000", "3", None, None)
    assert "serves it at http://head:5000" in served[1] and len(served) == 3
