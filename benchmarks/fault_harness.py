"""What the fault benchmark (benchmarks/fault_injection.py) runs a study with, and how it reads the store after."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BASE = {"data.context": "blip2", "model.encoder": "minilm", "data.limit_train": 16, "data.limit_eval": 8,
        "data.max_len": 48, "data.context_max_len": 16, "train.batch_size": 8, "train.epochs": 2}
SEARCH = {"sweep": {"align.tau": {"loguniform": [0.05, 0.5]}},
          "search": {"algorithm": "optuna", "num_samples": 3, "sampler": "tpe", "seed": 0}}


def study_file(folder: Path, name: str, seeds: list[int], search: bool = False, epochs: int = 2) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "description": "fault benchmark", "datasets": ["twitter2017"], "seeds": seeds,
        "base": {**BASE, "train.epochs": epochs}, **(SEARCH if search else {"search": {"algorithm": "grid"}}),
        "metric": "dev_f1", "resources": {"workers": 1, "cpus_per_worker": 1, "gpus_per_worker": 0},
        "report": {"kind": "sweep" if search else "main", "params": ["align.tau"] if search else []}}))
    return path


def driver(folder: Path, study: Path, uri: str, log: str, *extra, storage: Path | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    cmd = [sys.executable, str(ROOT / "ablations" / "run.py"), "--study", str(study), "--tracking-uri", uri,
           "--storage", str(storage or folder / "runs"), "--no-report", "--max-concurrent", "1", "--preset", "full",
           *extra]
    with open(folder / log, "w") as f:
        return subprocess.Popen(cmd, cwd=folder, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)


def runs_of(uri: str, study: str, role: str = "trial") -> list:
    """The study's runs of a role (trial, study) in its experiment (ablations/tracking.py: one per study)."""
    import mlflow

    from ablations.tracking import EXPERIMENT

    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(f"{EXPERIMENT}/{study}")
    if exp is None:
        return []
    return client.search_runs([exp.experiment_id], f"tags.study = '{study}' and tags.`shapca.role` = '{role}'")


def wait_for(uri: str, study: str, proc: subprocess.Popen, status: str = "FINISHED", timeout: float = 600) -> None:
    """Until a trial run of the study has the status (the driver still running)."""
    from ablations.store import init_store

    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            init_store(uri)
            if any(r.info.status == status for r in runs_of(uri, study)):
                return
        except Exception:  # the store or the experiment may not exist yet
            pass
        time.sleep(1)
    raise RuntimeError(f"{study}: no trial {status} (driver exit {proc.poll()})")


def tally(uri: str, study: str, planned: int) -> dict:
    """Trials finished of those planned, runs lost (planned, no FINISHED run), duplicated (a trial hash with more
    than one run, or an epoch logged twice on one run) and left RUNNING (trial runs and the study's own run)."""
    import mlflow

    runs = runs_of(uri, study)
    client = mlflow.MlflowClient(tracking_uri=uri)
    hashes = Counter(r.data.tags.get("trial_hash") for r in runs)
    finished = {r.data.tags.get("trial_hash") for r in runs if r.info.status == "FINISHED"}
    twice = 0
    for r in runs:
        steps = [m.step for m in client.get_metric_history(r.info.run_id, "epoch_dev_f1")]
        twice += len(steps) - len(set(steps))
    parents = runs_of(uri, study, "study")
    return {"finished": len(finished), "planned": planned, "lost": planned - len(finished),
            "duplicated": sum(n - 1 for n in hashes.values()) + twice,
            "running": sum(r.info.status == "RUNNING" for r in runs + parents)}
