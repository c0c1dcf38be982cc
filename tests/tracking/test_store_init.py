"""Several processes opening one fresh store at the same moment all succeed (issue 12, item 3).

Without ablations.tracking.init_store, two of four processes died in MLflow's alembic migration ("Online migration
expected to match one row ... 0 found") when they opened a new sqlite:/// store together.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Each child imports MLflow first, says it is ready, and waits for the go file: all then open the store at once.
CHILD = """
import os, sys, time
from pathlib import Path
import mlflow.tracking  # noqa: F401 - imported before the start line, so only opening the store races
from ablations.tracking import StudyRuns
uri, go = sys.argv[1], Path(sys.argv[2])
Path(f"{go}.ready{os.getpid()}").touch()
while not go.exists():
    time.sleep(0.005)
print(StudyRuns(uri, "concurrent", "smoke").experiment_id)
"""


def open_at_once(uri: str, folder: Path, n: int = 4) -> list[subprocess.CompletedProcess]:
    go = folder / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, uri, str(go)], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(n)]
    deadline = time.monotonic() + 120
    while len(list(folder.glob("go.ready*"))) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return results


def _all_succeed(results) -> set[str]:
    failed = [r.stderr[-1500:] for r in results if r.returncode != 0]
    assert failed == [], failed
    return {r.stdout.strip() for r in results}


def test_processes_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path):
    db = tmp_path / "mlflow.db"
    experiments = _all_succeed(open_at_once(f"sqlite:///{db}", tmp_path))
    assert len(experiments) == 1  # one experiment, found or created by each
    assert (tmp_path / "mlflow.db.lock").exists() and db.stat().st_size > 0


def test_processes_opening_a_new_postgres_store_at_once_all_succeed(pg, tmp_path):
    assert len(_all_succeed(open_at_once(pg, tmp_path))) == 1
