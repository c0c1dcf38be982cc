"""One scale for scores wherever a person reads one: a trial's run holds P/R/F1 in points (x100, as the tables print
them) and says so; the reports read it back in fractions, and read runs logged before the change as they are."""
from mlflow.tracking import MlflowClient

from ablations.tracking import StudyRuns
from reports.contract import POINTS, SCALE_TAG
from reports.mlflow_source import read_source

TAGS = {"variant": "full", "dataset": "twitter2017", "seed": "1", "config_hash": "c"}


def test_a_trial_run_holds_points_and_the_reports_read_fractions(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    runs = StudyRuns(uri, "scale", "smoke")
    runs.parent({"report_kind": "main", "seeds": "1", "datasets": "twitter2017"})
    run_id, _ = runs.child("h1", TAGS, {})
    runs.log_metrics(run_id, {"epoch_dev_f1": 0.25, "epoch_train_loss": 3.5}, step=1)
    runs.log_metrics(run_id, {"dev_f1": 0.25, "test_f1": 0.2, "test_precision": 0.5, "test_recall": 0.125,
                              "best_epoch": 1.0})
    runs.finish(run_id, "FINISHED")
    shown = MlflowClient(uri).get_run(run_id).data
    assert shown.tags[SCALE_TAG] == POINTS
    assert shown.metrics["test_f1"] == 20.0 and shown.metrics["epoch_dev_f1"] == 25.0  # what MLflow's UI shows
    assert shown.metrics["epoch_train_loss"] == 3.5 and shown.metrics["best_epoch"] == 1.0  # not scores: as given

    (trial,) = read_source(MlflowClient(uri), "scale").trials
    assert trial.metrics["test_f1"] == 0.2 and trial.metrics["best_epoch"] == 1.0
    source = read_source(MlflowClient(uri), "scale", every_epoch_metric=True)
    assert source.histories[run_id]["epoch_dev_f1"] == [(1, 0.25)]


def test_a_run_begun_in_fractions_goes_on_in_fractions(tmp_path):
    """A trial interrupted before scores were logged in points, resumed after: one scale within its run."""
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    runs = StudyRuns(uri, "scale", "smoke")
    parent = runs.parent({"report_kind": "main", "seeds": "1", "datasets": "twitter2017"})
    client = MlflowClient(uri)
    old = client.create_run(runs.experiment_id, tags={"mlflow.parentRunId": parent, "shapca.role": "trial",
                                                       "study": "scale", "preset": "smoke", "trial_hash": "h1",
                                                       **TAGS}).info.run_id
    again = StudyRuns(uri, "scale", "smoke")
    assert again.child("h1", TAGS, {})[0] == old
    again.log_metrics(old, {"test_f1": 0.2, "test_precision": 0.5, "test_recall": 0.125, "dev_f1": 0.25})
    again.finish(old, "FINISHED")
    assert client.get_run(old).data.metrics["test_f1"] == 0.2
    assert read_source(client, "scale").trials[0].metrics["test_f1"] == 0.2
