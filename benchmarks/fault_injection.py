"""Each fault a study meets in real use, injected N times into a small study, and what it cost.

    python benchmarks/fault_injection.py [--repeat 1] [--faults sigint sigterm killed concurrent store server]

Per fault and injection: a fresh store and a 3-trial study (Twitter-2017 slice, 2 epochs, one trial at a time),
each driver in its own process with its own local Ray, as a user's would be. After the fault, the same command
is run again where it has to be (the recovery) and the store is read: trials finished of those planned, runs lost
(a planned trial with no FINISHED run), runs duplicated (a trial hash with more than one run), runs left RUNNING,
and the seconds from the fault to a complete study.
- sigint / sigterm: the signal once the first trial has finished; recovery: the printed resume command.
- killed: SIGKILL of the driver's process group at the same point; recovery: the same command with --resume.
- concurrent: two studies started at the same instant on one new store; no recovery step.
- store: 4 processes opening one new SQLite store at once (MLflow's schema migration); no study: "trials"
  counts the processes that opened it, "lost" those that died.
- server: the MLflow server stopped for 25 s once the first trial has finished, then started again.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

from clusters.pg_server import free_port
from clusters.tracking_server import serve

ROOT = Path(__file__).resolve().parents[1]
BASE = {"data.context": "blip2", "model.encoder": "minilm", "data.limit_train": 16, "data.limit_eval": 8,
        "data.max_len": 48, "data.context_max_len": 16, "train.batch_size": 8, "train.epochs": 2}


def study_file(folder: Path, name: str, seeds: list[int]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "description": "fault benchmark", "datasets": ["twitter2017"], "seeds": seeds, "base": BASE,
        "search": {"algorithm": "grid"}, "metric": "dev_f1",
        "resources": {"workers": 1, "cpus_per_worker": 1, "gpus_per_worker": 0},
        "report": {"kind": "main", "params": []}}))
    return path


def driver(folder: Path, study: Path, uri: str, log: str, *extra) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    cmd = [sys.executable, str(ROOT / "ablations" / "run.py"), "--study", str(study), "--tracking-uri", uri,
           "--storage", str(folder / "runs"), "--no-report", "--max-concurrent", "1", "--preset", "full", *extra]
    with open(folder / log, "w") as f:
        return subprocess.Popen(cmd, cwd=folder, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)


def runs_of(uri: str, study: str) -> list:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("shapca")
    if exp is None:
        return []
    return client.search_runs([exp.experiment_id], f"tags.study = '{study}' and tags.`shapca.role` = 'trial'")


def wait_first_finished(uri: str, study: str, proc: subprocess.Popen, timeout: float = 600) -> None:
    from ablations.tracking import init_store

    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            init_store(uri)
            if any(r.info.status == "FINISHED" for r in runs_of(uri, study)):
                return
        except Exception:  # the store or the experiment may not exist yet
            pass
        time.sleep(1)
    raise RuntimeError(f"{study}: no trial finished (driver exit {proc.poll()})")


def tally(uri: str, study: str, planned: int) -> dict:
    runs = runs_of(uri, study)
    hashes = Counter(r.data.tags.get("trial_hash") for r in runs)
    finished = {r.data.tags.get("trial_hash") for r in runs if r.info.status == "FINISHED"}
    return {"finished": len(finished), "planned": planned, "lost": planned - len(finished),
            "duplicated": sum(n - 1 for n in hashes.values()), "running": sum(r.info.status == "RUNNING" for r in runs)}


def signal_fault(folder: Path, sig: int, resume_flag: list[str]) -> dict:
    study, uri = study_file(folder, "fault", [1, 2, 3]), f"sqlite:///{folder / 'mlflow.db'}"
    proc = driver(folder, study, uri, "first.log")
    wait_first_finished(uri, "fault", proc)
    t0 = time.time()
    os.killpg(proc.pid, sig) if sig == signal.SIGKILL else proc.send_signal(sig)
    proc.wait(timeout=300)
    assert driver(folder, study, uri, "again.log", *resume_flag).wait(timeout=900) == 0, "the recovery run failed"
    return {**tally(uri, "fault", 3), "recover_s": time.time() - t0}


def concurrent_fault(folder: Path) -> dict:
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    t0 = time.time()
    procs = [driver(folder, study_file(folder, name, seeds), uri, f"{name}.log")
             for name, seeds in (("fault", [1, 2, 3]), ("fault_b", [4, 5, 6]))]
    codes = [p.wait(timeout=900) for p in procs]
    assert codes == [0, 0], f"exit codes {codes}"
    a, b = tally(uri, "fault", 3), tally(uri, "fault_b", 3)
    return {k: a[k] + b[k] for k in a} | {"recover_s": time.time() - t0}


def store_fault(folder: Path) -> dict:
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    code = "import sys; from ablations.tracking import StudyRuns; StudyRuns(sys.argv[1], 'fault', 'full')"
    t0 = time.time()
    procs = [subprocess.Popen([sys.executable, "-c", code, uri], stderr=subprocess.PIPE) for _ in range(4)]
    failed = sum(p.wait(timeout=300) != 0 for p in procs)
    return {"finished": 4 - failed, "planned": 4, "lost": failed, "duplicated": 0, "running": 0,
            "recover_s": time.time() - t0}


def server_fault(folder: Path) -> dict:
    port, backend, art = free_port(), f"sqlite:///{folder / 'server.db'}", str(folder / "artifacts")
    study = study_file(folder, "fault", [1, 2, 3])
    with serve(backend, art, folder / "server.log", port=port) as uri:
        proc = driver(folder, study, uri, "driver.log")
        wait_first_finished(uri, "fault", proc)
    t0 = time.time()
    time.sleep(25)
    with serve(backend, art, folder / "server.log", port=port) as uri:
        assert proc.wait(timeout=900) == 0, "the study failed"
        return {**tally(uri, "fault", 3), "recover_s": time.time() - t0}


FAULTS = {
    "sigint": lambda f: signal_fault(f, signal.SIGINT, []),
    "sigterm": lambda f: signal_fault(f, signal.SIGTERM, []),
    "killed": lambda f: signal_fault(f, signal.SIGKILL, ["--resume"]),
    "concurrent": concurrent_fault,
    "store": store_fault,
    "server": server_fault,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--faults", nargs="+", default=list(FAULTS), choices=list(FAULTS))
    args = ap.parse_args()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} cores; {load}")
    print("| fault | injections | trials finished / planned | runs lost | runs duplicated | runs left RUNNING | "
          "time to recover, s (max) |")
    print("|:---|---:|---:|---:|---:|---:|---:|")
    for name in args.faults:
        rows = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix=f"shapca-fault-{name}-") as tmp:
                rows.append(FAULTS[name](Path(tmp)))
        total = {k: sum(r[k] for r in rows) for k in ("finished", "planned", "lost", "duplicated", "running")}
        print(f"| {name} | {len(rows)} | {total['finished']} / {total['planned']} | {total['lost']} | "
              f"{total['duplicated']} | {total['running']} | {max(r['recover_s'] for r in rows):.0f} |", flush=True)


if __name__ == "__main__":
    main()
