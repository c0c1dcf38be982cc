"""Each fault a study meets in real use, injected N times into a small study, and what it cost.

    python benchmarks/fault_injection.py [--repeat 1] [--faults sigint sigterm killed concurrent store server
                                          double ctrlc2 checkpoint journal disk locked]

Per fault and injection: a fresh store and a 3-trial study (Twitter-2017 slice, 2 epochs, one trial at a time),
each driver in its own process with its own local Ray, as a user's would be. After the fault, the same command
is run again where it has to be (the recovery) and the store is read: trials finished of those planned, runs lost
(a planned trial with no FINISHED run), runs duplicated (a trial hash with more than one run, or an epoch logged
twice on one run), runs left RUNNING (trial runs and the study's own run; right after the fault / after the
recovery), the seconds from the fault to a complete study, and the exit status of each run of the command.
- sigint / sigterm: the signal once the first trial has finished; recovery: the printed resume command.
- killed: SIGKILL of the driver's process group at the same point; recovery: the same command with --resume.
- concurrent: two studies started at the same instant on one new store; no recovery step.
- store: 4 processes opening one new SQLite store at once (MLflow's schema migration); no study: "trials"
  counts the processes that opened it, "lost" those that died.
- server: the MLflow server stopped for 25 s once the first trial has finished, then started again.
- double, ctrlc2, checkpoint, journal, disk, locked: the faults of a user (benchmarks/user_faults.py says each).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clusters.pg_server import free_port
from clusters.tracking_server import serve
from fault_harness import driver, study_file, tally, wait_for
from user_faults import FAULTS as USER_FAULTS


def signal_fault(folder: Path, sig: int, resume_flag: list[str]) -> dict:
    study, uri = study_file(folder, "fault", [1, 2, 3]), f"sqlite:///{folder / 'mlflow.db'}"
    proc = driver(folder, study, uri, "first.log")
    wait_for(uri, "fault", proc)
    t0 = time.time()
    os.killpg(proc.pid, sig) if sig == signal.SIGKILL else proc.send_signal(sig)
    first = proc.wait(timeout=300)
    left = tally(uri, "fault", 3)["running"]
    again = driver(folder, study, uri, "again.log", *resume_flag).wait(timeout=900)
    return {**tally(uri, "fault", 3), "recover_s": time.time() - t0, "codes": [first, again], "left": left}


def concurrent_fault(folder: Path) -> dict:
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    t0 = time.time()
    procs = [driver(folder, study_file(folder, name, seeds), uri, f"{name}.log")
             for name, seeds in (("fault", [1, 2, 3]), ("fault_b", [4, 5, 6]))]
    codes = [p.wait(timeout=900) for p in procs]
    a, b = tally(uri, "fault", 3), tally(uri, "fault_b", 3)
    return {k: a[k] + b[k] for k in a} | {"recover_s": time.time() - t0, "codes": codes, "left": 0}


def store_fault(folder: Path) -> dict:
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    code = "import sys; from ablations.tracking import StudyRuns; StudyRuns(sys.argv[1], 'fault', 'full')"
    t0 = time.time()
    procs = [subprocess.Popen([sys.executable, "-c", code, uri], stderr=subprocess.PIPE) for _ in range(4)]
    failed = sum(p.wait(timeout=300) != 0 for p in procs)
    return {"finished": 4 - failed, "planned": 4, "lost": failed, "duplicated": 0, "running": 0,
            "recover_s": time.time() - t0, "codes": [p.returncode for p in procs], "left": 0}


def server_fault(folder: Path) -> dict:
    port, backend, art = free_port(), f"sqlite:///{folder / 'server.db'}", str(folder / "artifacts")
    study = study_file(folder, "fault", [1, 2, 3])
    with serve(backend, art, folder / "server.log", port=port) as uri:
        proc = driver(folder, study, uri, "driver.log")
        wait_for(uri, "fault", proc)
    t0 = time.time()
    time.sleep(25)
    with serve(backend, art, folder / "server.log", port=port) as uri:
        code = proc.wait(timeout=900)
        return {**tally(uri, "fault", 3), "recover_s": time.time() - t0, "codes": [code], "left": 0}


FAULTS = {
    "sigint": lambda f: signal_fault(f, signal.SIGINT, []),
    "sigterm": lambda f: signal_fault(f, signal.SIGTERM, []),
    "killed": lambda f: signal_fault(f, signal.SIGKILL, ["--resume"]),
    "concurrent": concurrent_fault,
    "store": store_fault,
    "server": server_fault,
    **USER_FAULTS,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--faults", nargs="+", default=list(FAULTS), choices=list(FAULTS))
    args = ap.parse_args()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} cores; {load}")
    print("| fault | injections | trials finished / planned | runs lost | runs duplicated | runs left RUNNING "
          "(after the fault / after recovery) | time to recover, s (max) | exit statuses |")
    print("|:---|---:|---:|---:|---:|---:|---:|:---|")
    notes = []
    for name in args.faults:
        rows = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix=f"shapca-fault-{name}-") as tmp:
                rows.append(FAULTS[name](Path(tmp)))
        total = {k: sum(r[k] for r in rows) for k in ("finished", "planned", "lost", "duplicated", "running", "left")}
        codes = "; ".join(", ".join(map(str, r["codes"])) for r in rows)
        print(f"| {name} | {len(rows)} | {total['finished']} / {total['planned']} | {total['lost']} | "
              f"{total['duplicated']} | {total['left']} / {total['running']} | "
              f"{max(r['recover_s'] for r in rows):.0f} | {codes} |", flush=True)
        notes += [f"- {name}: {r['note']}" for r in rows if r.get("note")]
    print("\n".join(notes))


if __name__ == "__main__":
    main()
