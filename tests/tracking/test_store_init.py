"""Several processes opening one fresh store at the same moment all succeed (issue 12, item 3).

Without ablations.tracking.init_store, this harness opening a new sqlite:/// store with plain MlflowClients saw three
or four of four processes die in MLflow's schema migration (alembic "Online migration expected to match one row ...
0 found", or "table _alembic_tmp_metrics already exists").
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# One interpreter imports MLflow once, then forks the processes; they wait on a pipe that the parent closes when
# all are forked, so all open the store at the same moment. Each prints its experiment id, or its traceback.
OPENERS = """
import os, sys, traceback
import mlflow.tracking  # noqa: F401 - imported before the fork: only opening the store races
from ablations.tracking import StudyRuns
uri, n = sys.argv[1], int(sys.argv[2])
r, w = os.pipe()
pids = []
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)  # end of file once the parent closes its end: every process starts now
        try:
            print(StudyRuns(uri, "concurrent", "smoke").experiment_id, flush=True)
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
    pids.append(pid)
os.close(r)
os.close(w)
sys.exit(sum(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0 for pid in pids))
"""


def open_at_once(uri: str, n: int = 4) -> set[str]:
    """The experiment ids that n processes opening `uri` together found; fails with their errors if any died."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", OPENERS, uri, str(n)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{done.returncode} of {n} processes failed:\n{done.stderr[-3000:]}"
    ids = done.stdout.split()
    assert len(ids) == n
    return set(ids)


def test_processes_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path):
    db = tmp_path / "mlflow.db"
    assert len(open_at_once(f"sqlite:///{db}")) == 1  # one experiment, found or created by each
    assert (tmp_path / "mlflow.db.lock").exists() and db.stat().st_size > 0


def test_processes_opening_a_new_postgres_store_at_once_all_succeed(pg):
    assert len(open_at_once(pg)) == 1
