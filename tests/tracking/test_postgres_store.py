"""The runner's MLflow layer (ablations/tracking.py) on PostgreSQL, directly and behind `mlflow server`."""
import shutil
import tempfile
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from ablations.store import TrackingError, check_reachable
from ablations.tracking import StudyRuns
from clusters.pg_server import free_port, running, start, stop
from clusters.tracking_server import serve


def _one_trial(uri: str) -> tuple[str, str]:
    runs = StudyRuns(uri, "shapley_samples", "smoke")
    parent = runs.parent({"report_kind": "sweep"})
    run_id, logged = runs.child("abc123", {"dataset": "twitter15", "seed": 1}, {"train.lr": 1e-4})
    assert logged == set()
    runs.log_metrics(run_id, {"epoch_dev_f1": 0.5}, step=1)
    runs.finish(run_id, "FINISHED")
    runs.close_parent()
    return parent, run_id


def test_a_study_on_postgres_directly_finds_its_trial_again(pg):
    check_reachable(pg)
    parent, run_id = _one_trial(pg)
    again = StudyRuns(pg, "shapley_samples", "smoke")
    assert again.done_hashes() == {"abc123"}
    assert again.parent({}) == parent
    assert again.child("abc123", {}, {}) == (run_id, {1})  # resumed: the same run, its logged epoch known
    client = MlflowClient(pg)
    assert client.get_run(run_id).data.params == {"train.lr": "0.0001"}
    assert len(client.search_runs([again.experiment_id], "tags.trial_hash = 'abc123'")) == 1


def test_behind_mlflow_server_artifacts_go_to_the_destination(pg, tmp_path):
    artifacts = tmp_path / "artifacts"
    study_file = tmp_path / "shapley_samples.yaml"
    study_file.write_text("name: shapley_samples\n")
    with serve(pg, str(artifacts), tmp_path / "server.log") as uri:
        check_reachable(uri)
        runs = StudyRuns(uri, "shapley_samples", "smoke")
        parent = runs.parent({}, study_file=study_file)
        assert [f.path for f in MlflowClient(uri).list_artifacts(parent)] == ["shapley_samples.yaml"]
    # The server proxied the upload: the file sits under --artifacts-destination, not in the client's folder.
    assert [p.name for p in artifacts.rglob("*.yaml")] == ["shapley_samples.yaml"]
    assert StudyRuns(pg, "shapley_samples", "smoke").parent({}) == parent  # the runs are in PostgreSQL


def test_unreachable_or_malformed_postgres_uris_fail_clearly():
    with pytest.raises(TrackingError, match="database server unreachable"):
        check_reachable(f"postgresql://u:secret@127.0.0.1:{free_port()}/mlflow", timeout=2)
    with pytest.raises(TrackingError, match=r"expected postgresql://user\[:password\]@host\[:port\]/database") as e:
        check_reachable("postgresql://u:secret@127.0.0.1:5432")
    assert "secret" not in str(e.value)  # passwords never reach a message


def test_pg_server_keeps_its_data_across_a_restart():
    folder = Path(tempfile.mkdtemp(prefix="shapca-pg-test-"))  # not tmp_path: as root, closed to postgres
    try:
        uri = start(folder)
        assert running(folder) and start(folder) == uri  # a second start finds the server it started
        experiment = StudyRuns(uri, "shapley_samples", "smoke").experiment_id
        stop(folder)
        assert not running(folder)
        again = start(folder)  # as on a head node: `head_services.sh stop`, later `start`, same data folder
        assert StudyRuns(again, "shapley_samples", "smoke").experiment_id == experiment
    finally:
        stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
