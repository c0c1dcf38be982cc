"""Studies in real use: stopped by a signal mid-study, and two studies started at once on one machine and one new
store. Each study runs in its own process with its own local Ray, as a user's would."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from study_runs import children

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STUDY = HERE / "studies" / "e2e_interrupt.yaml"


def start(tmp: Path, study: Path, log_name: str, *extra) -> tuple[subprocess.Popen, Path]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local Ray of its own
    log = tmp / log_name
    cmd = [sys.executable, str(ROOT / "ablations" / "run.py"), "--study", str(study), "--tracking-uri",
           f"sqlite:///{tmp / 'mlflow.db'}", "--storage", str(tmp / "runs"), "--no-report", "--max-concurrent", "1",
           "--preset", "full",
           *extra]
    with open(log, "w") as f:  # a file, not a pipe: a full pipe would block the driver
        return subprocess.Popen(cmd, cwd=tmp, env=env, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True), log


def wait_finished(uri: str, study: str, proc: subprocess.Popen, timeout: float) -> None:
    from ablations.store import init_store

    init_store(uri)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            if any(k.info.status == "FINISHED" for k in children(uri, study)[2]):
                return
        except Exception:  # the experiment may not exist yet
            pass
        time.sleep(1)
    raise AssertionError(f"no trial of {study} finished in {timeout} s (driver exit {proc.poll()})")


def test_two_studies_start_together_on_a_new_store_and_one_stopped_by_sigterm_is_completed_by_a_rerun(tmp_path):
    """Both faults in one run (each study process starts its own Ray, the costly part): study A and study B start at
    the same instant on one new SQLite store; A gets SIGTERM once a trial of it has finished; B finishes; rerunning
    A completes it, every trial once."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    other = tmp_path / "e2e_interrupt_b.yaml"
    spec = yaml.safe_load(STUDY.read_text())
    spec.update(name="e2e_interrupt_b", seeds=[4, 5])
    other.write_text(yaml.safe_dump(spec))
    (proc, log), (proc_b, log_b) = start(tmp_path, STUDY, "driver.log"), start(tmp_path, other, "b.log")
    try:
        wait_finished(uri, "e2e_interrupt", proc, timeout=400)
        proc.send_signal(signal.SIGTERM)  # what a batch scheduler or `kill` sends; Ctrl-C's SIGINT takes the same path
        code = proc.wait(timeout=180)
        code_b = proc_b.wait(timeout=600)
    finally:
        for p in (proc, proc_b):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    out = log.read_text()
    assert code == 130, out[-3000:]
    assert code_b == 0, log_b.read_text()[-3000:]
    _, parents_b, kids_b = children(uri, "e2e_interrupt_b")  # the study beside it, untouched by the signal
    assert len(parents_b) == 1 and sorted(k.info.status for k in kids_b) == ["FINISHED"] * 2
    _, _, kids = children(uri, "e2e_interrupt")
    statuses = sorted(k.info.status for k in kids)
    assert "RUNNING" not in statuses, statuses
    finished = statuses.count("FINISHED")
    assert 1 <= finished < 3
    assert f"{finished} finished, 0 failed, {3 - finished} unfinished" in out, out[-2000:]
    assert "--resume" in out and "interrupted" in out

    proc, log = start(tmp_path, STUDY, "rerun.log", "--resume")
    assert proc.wait(timeout=400) == 0, log.read_text()[-3000:]
    assert f"3 planned, {finished} already finished, {3 - finished} to run" in log.read_text()
    _, parents, kids = children(uri, "e2e_interrupt")
    assert len(parents) == 1
    assert sorted(k.info.status for k in kids) == ["FINISHED"] * 3  # the stopped run was continued, not doubled
    assert len({k.data.tags["trial_hash"] for k in kids}) == 3
