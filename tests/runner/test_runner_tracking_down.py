"""The tracking server goes away mid-study and comes back: trials go on, every write reaches MLflow once."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from clusters.pg_server import free_port
from clusters.tracking_server import serve
from study_runs import children

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STUDY = HERE / "studies" / "e2e_interrupt.yaml"
AWAY_S = 12


def test_a_study_survives_its_tracking_server_going_away_for_a_while(tmp_path):
    port, backend = free_port(), f"sqlite:///{tmp_path / 'server.db'}"
    art, log = str(tmp_path / "artifacts"), tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    driver_log = tmp_path / "driver.log"
    with serve(backend, art, log, port=port) as uri:
        with open(driver_log, "w") as f:
            driver = subprocess.Popen(
                [sys.executable, str(ROOT / "ablations" / "run.py"), "--study", str(STUDY), "--tracking-uri", uri,
                 "--storage", str(tmp_path / "runs"), "--no-report", "--max-concurrent", "1", "--preset", "full"],
                cwd=tmp_path, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + 300
            while not any(k.info.status == "FINISHED" for k in _kids(uri)):
                assert time.time() < deadline and driver.poll() is None, driver_log.read_text()[-3000:]
                time.sleep(1)
        except BaseException:
            os.killpg(driver.pid, signal.SIGKILL)
            raise
    try:
        time.sleep(AWAY_S)  # the server is down; the study goes on training
        with serve(backend, art, log, port=port) as uri:
            code = driver.wait(timeout=400)
            out = driver_log.read_text()
            assert code == 0, out[-3000:]
            assert "cannot be reached" in out and "answers again" in out, out[-3000:]
            client, parents, kids = children(uri, "e2e_interrupt")
            assert len(parents) == 1 and parents[0].info.status == "FINISHED"
            assert sorted(k.info.status for k in kids) == ["FINISHED"] * 3
            assert len({k.data.tags["trial_hash"] for k in kids}) == 3  # no run twice
            for k in kids:  # every epoch logged once, none lost
                assert [m.step for m in client.get_metric_history(k.info.run_id, "epoch_dev_f1")] == [1, 2]
                assert "test_f1" in k.data.metrics
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)


def _kids(uri):
    try:
        return children(uri, "e2e_interrupt")[2]
    except Exception:  # the experiment may not exist yet
        return []
