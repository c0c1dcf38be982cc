"""The runner end to end on real data and a shared local Ray: grid and Optuna+ASHA studies, MLflow parent/child
runs, rerun skipping, a worker failure survived, a trial failing for good, a killed driver resumed."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from ablations import run
from reports.contract import OVERHEAD_METRIC
from study_runs import children

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GRID, OPTUNA = HERE / "studies" / "e2e_grid.yaml", HERE / "studies" / "e2e_optuna.yaml"


def run_main(tmp: Path, study: Path, *extra) -> int:
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    return run.main(["--study", str(study), "--tracking-uri", uri, "--storage", str(tmp / "runs"), "--no-report",
                     "--preset", "full", *extra])


def test_grid_study_survives_a_worker_failure_records_a_failed_trial_and_skips_on_rerun(ray_local, tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert run_main(tmp_path, GRID, "--max-failures", "1") == run.FAILED  # one trial failed for good: not 0
    out = capsys.readouterr().out
    cause = "RuntimeError: injected failure at epoch 1 (train.fail_at_epoch)"  # its first line, not Ray's wrapper
    assert f"FAILED doomed: {cause}" in out  # the progress line
    assert f"1 failed (doomed · t17 · s1): {cause}" in out  # the summary
    client, parents, kids = children(uri, "e2e_grid")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    by_variant = {k.data.tags["variant"]: k for k in kids}
    assert sorted(by_variant) == ["doomed", "infonce", "shapley"]
    assert all(k.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for k in kids)
    for name in ("shapley", "infonce"):  # died at epoch 2 once, resumed from the epoch-1 checkpoint
        k = by_variant[name]
        assert k.info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(k.info.run_id, "epoch_dev_f1")] == [1, 2]
        assert {"test_f1", "dev_f1", "best_epoch", "step_time_s"} <= set(k.data.metrics)
        assert 0.0 <= k.data.metrics["test_f1"] <= 100.0 and k.data.tags["score_scale"] == "points"
        assert k.data.params["align.alignment"] == name
        arts = [a.path for a in client.list_artifacts(k.info.run_id, "predictions")]
        assert arts == ["predictions/test.html", "predictions/test.jsonl"]  # the rows, and the page that shows them
        # the alignment's share of the encoder's gradient: per epoch, and the trial's mean
        assert [m.step for m in client.get_metric_history(k.info.run_id, "epoch_grad_share_task")] == [1, 2]
        assert 0 < k.data.metrics["grad_share_align_context_text"] < 1
        lines = client.download_artifacts(k.info.run_id, "predictions/test.jsonl", str(tmp_path))
        assert len(Path(lines).read_text().splitlines()) == 8
    doomed = by_variant["doomed"]
    assert doomed.info.status == "FAILED" and doomed.data.tags["error"].splitlines()[0] == cause
    assert "Traceback" in doomed.data.tags["error"] or 'File "' in doomed.data.tags["error"]  # then the traceback

    assert run_main(tmp_path, GRID, "--max-failures", "0") == run.FAILED  # rerun: only the failed trial runs again
    assert "3 planned, 2 already finished, 1 to run" in capsys.readouterr().out
    _, parents, again = children(uri, "e2e_grid")
    assert len(again) == 3  # the failed trial reused its run: no duplicate
    overheads = client.get_metric_history(parents[0].info.run_id, OVERHEAD_METRIC)  # one per run, for estimates
    assert len(overheads) == 2 and all(m.value > 0 for m in overheads)


def _wait_for_finished_child(uri: str, timeout: float) -> None:
    from ablations.store import init_store

    init_store(uri)  # the driver opens the same fresh store now: both go through the store's lock
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            _, _, kids = children(uri, "e2e_optuna")
            if any(k.info.status == "FINISHED" for k in kids):
                return
        except Exception:  # the experiment may not exist yet
            pass
        time.sleep(2)
    raise AssertionError("no trial finished before the driver was to be killed")


def test_optuna_study_with_asha_resumes_after_the_driver_is_killed(ray_local, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = dict(os.environ, RAY_AUTH_MODE="token", PYTHONUNBUFFERED="1")
    address = ray_local.get_runtime_context().gcs_address
    cmd = [sys.executable, str(ROOT / "ablations" / "run.py"), "--study", str(OPTUNA), "--tracking-uri", uri,
           "--storage", str(tmp_path / "runs"), "--no-report", "--address", address, "--max-concurrent", "1",
           "--preset", "full"]
    log = open(tmp_path / "driver.log", "w")  # a file, not a pipe: a full pipe would block the driver
    driver = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        _wait_for_finished_child(uri, timeout=400)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver dies mid-study, its running trial with it
        driver.wait()
        log.close()
    _, _, before = children(uri, "e2e_optuna")
    assert 1 <= sum(k.info.status == "FINISHED" for k in before) < 3

    assert run_main(tmp_path, OPTUNA, "--resume") == 0
    client, parents, kids = children(uri, "e2e_optuna")
    assert len(parents) == 1
    finished = [k for k in kids if k.info.status == "FINISHED"]
    assert len(finished) == 3, [(k.data.tags.get("variant"), k.info.status) for k in kids]
    hashes = [k.data.tags["trial_hash"] for k in kids]
    assert len(hashes) == len(set(hashes))  # every trial exactly once
    assert not [k for k in kids if k.info.status == "RUNNING"]
    for k in finished:
        assert k.data.tags["variant"].startswith("align.tau=")
        assert "test_f1" in k.data.metrics
    journal = tmp_path / "runs" / "e2e_optuna-full" / "optuna-twitter2017-seed1.journal"
    study = optuna.load_study(study_name="e2e_optuna-full-twitter2017-seed1",  # <study>-<preset>-<dataset>-seed<k>
                              storage=JournalStorage(JournalFileBackend(str(journal))))
    assert study.metric_names == ["dev_f1"]
    states = [t.state.name for t in study.trials]
    assert "FAIL" not in states and states.count("COMPLETE") + states.count("PRUNED") == len(states), states
    interrupted = [t for t in study.trials if t.user_attrs.get("interrupted")]
    # the trial the killed driver was running, if it had started one: pruned (stopped early), not failed
    assert len(interrupted) <= 1 and all(t.state.name == "PRUNED" for t in interrupted)
    runs = {k.info.run_id: k for k in kids}
    for t in study.trials:
        assert set(t.params) == {"align.tau", "model.fusion_gate"}  # plain config keys
        if not t.user_attrs.get("interrupted"):
            run = runs[t.user_attrs["mlflow_run_id"]]
            assert run.data.tags["optuna_trial"] == str(t.number)  # the report's #k is optuna-dashboard's
            # one value per epoch: that epoch's dev F1 in points, as MLflow's epoch_dev_f1 (not the running best)
            epochs = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "epoch_dev_f1")}
            assert t.intermediate_values and all(abs(v - epochs[step]) < 1e-6
                                                 for step, v in t.intermediate_values.items())
            if t.state.name == "COMPLETE":
                assert abs(t.value - max(epochs.values())) < 1e-6  # the objective: the best epoch's


@pytest.mark.parametrize("argv,message", [
    (["--study", "no_such_study", "--dry-run"], "available"),
    (["--study", "shapley_samples", "--tracking-uri", "http://127.0.0.1:9", "--dry-run"], "unreachable"),
    (["--study", "shapley_samples", "--preset", "huge", "--dry-run"], "preset"),
])
def test_bad_input_is_reported_before_anything_runs(argv, message, capsys):
    assert run.main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("study", sorted(p.stem for p in (ROOT / "search_spaces").glob("*.yaml")))
@pytest.mark.parametrize("preset", ["smoke", "cpu", "compare", "full"])
def test_every_shipped_study_plans_as_a_dry_run(study, preset, tmp_path, capsys):
    assert run.main(["--study", study, "--preset", preset, "--dry-run",
                     "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]) == 0
    out = capsys.readouterr().out
    assert study in out and preset in out
