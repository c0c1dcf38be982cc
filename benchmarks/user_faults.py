"""The faults of issue 26 (a user's, not a machine's), for benchmarks/fault_injection.py. Each returns its row:
the tally after the recovery, what was left RUNNING right after the fault, the exit statuses in order, a note.

- double: the same command started again while the study runs (its first trial running); no recovery step.
- ctrlc2: SIGINT twice to the driver's process group, 0.5 s apart (a terminal's Ctrl-C, twice), once the first trial
  has finished; recovery: the printed resume command.
- checkpoint: Ctrl-C once a second trial has checkpointed, then its state.pt cut to 1,000 bytes; recovery: --resume.
- journal: an Optuna study (3 samples) stopped by Ctrl-C once a trial finished, the last 40 bytes of its journal cut
  off; recovery: --resume, twice (a torn journal once broke every later run too).
- disk: --storage on a 20 MB tmpfs (a checkpoint is about 272 MB); recovery: the same tmpfs grown to 800 MB, the same
  command. Needs root (mount); skipped otherwise.
- locked: the SQLite store held by another process (BEGIN EXCLUSIVE) when the study starts; recovery: the lock
  released, the same command.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from fault_harness import driver, runs_of, study_file, tally, wait_for


def _clean(folder: Path, log: str) -> bool:
    return "Traceback" not in (folder / log).read_text()


def _row(uri, planned, t0, codes, after_fault, note="", study="fault") -> dict:
    return {**tally(uri, study, planned), "recover_s": time.time() - t0, "codes": codes, "left": after_fault,
            "note": note}


def double_start(folder: Path) -> dict:
    study, uri = study_file(folder, "fault", [1, 2, 3], epochs=4), f"sqlite:///{folder / 'mlflow.db'}"
    first = driver(folder, study, uri, "first.log")
    wait_for(uri, "fault", first, "RUNNING")
    t0 = time.time()
    second = driver(folder, study, uri, "second.log")
    refused = second.wait(timeout=600)
    refused_s = time.time() - t0
    done = first.wait(timeout=900)
    said = "already running" in (folder / "second.log").read_text() and _clean(folder, "second.log")
    return _row(uri, 3, t0, [done, refused], 0, f"the second start refused after {refused_s:.0f} s"
                f"{', naming the first' if said else ', WITHOUT a clear message'}")


def ctrl_c_twice(folder: Path) -> dict:
    study, uri = study_file(folder, "fault", [1, 2, 3]), f"sqlite:///{folder / 'mlflow.db'}"
    proc = driver(folder, study, uri, "first.log")
    wait_for(uri, "fault", proc)
    t0 = time.time()
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    first = proc.wait(timeout=300)
    left = tally(uri, "fault", 3)["running"]
    log = (folder / "first.log").read_text()
    note = f"{'no traceback' if _clean(folder, 'first.log') else 'a TRACEBACK'}, resume command " \
           f"{'printed' if '--resume' in log else 'NOT printed'}"
    again = driver(folder, study, uri, "again.log", "--resume").wait(timeout=900)
    return _row(uri, 3, t0, [first, again], left, note)


def corrupted_checkpoint(folder: Path) -> dict:
    study, uri = study_file(folder, "fault", [1, 2, 3], epochs=4), f"sqlite:///{folder / 'mlflow.db'}"
    proc = driver(folder, study, uri, "first.log")
    wait_for(uri, "fault", proc)
    trials = folder / "runs" / "fault-full" / "trials"
    while len(list(trials.glob("*/state.pt"))) < 2 and proc.poll() is None:  # the second trial has checkpointed
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    first = proc.wait(timeout=300)
    left = tally(uri, "fault", 3)["running"]
    killed = [r.data.tags["trial_hash"] for r in runs_of(uri, "fault") if r.info.status == "KILLED"]
    state = trials / f"fault-full-{killed[0]}" / "state.pt"
    t0 = time.time()
    state.write_bytes(state.read_bytes()[:1000])
    again = driver(folder, study, uri, "again.log", "--resume").wait(timeout=900)
    tagged = [r for r in runs_of(uri, "fault") if r.data.tags.get("checkpoint_set_aside")]
    return _row(uri, 3, t0, [first, again], left, f"set aside and tagged on {len(tagged)} run(s); said: "
                f"{'yes' if 'set aside as' in (folder / 'again.log').read_text() else 'NO'}")


def torn_journal(folder: Path) -> dict:
    study, uri = study_file(folder, "fault", [1], search=True), f"sqlite:///{folder / 'mlflow.db'}"
    proc = driver(folder, study, uri, "first.log")
    wait_for(uri, "fault", proc)
    proc.send_signal(signal.SIGINT)
    first = proc.wait(timeout=300)
    left = tally(uri, "fault", 3)["running"]
    journal = folder / "runs" / "fault-full" / "optuna-twitter2017-seed1.journal"
    t0 = time.time()
    journal.write_bytes(journal.read_bytes()[:-40])
    codes = [first] + [driver(folder, study, uri, f"again{i}.log", "--resume").wait(timeout=900) for i in (1, 2)]
    said = [line for line in (folder / "again1.log").read_text().splitlines() if "journal" in line][:1]
    return _row(uri, 3, t0, codes, left, f"the first rerun said: {said[0][:200] if said else 'nothing of the journal'}")


def full_disk(folder: Path) -> dict:
    disk, uri = folder / "disk", f"sqlite:///{folder / 'mlflow.db'}"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(disk)]).returncode:
        return {"finished": 0, "planned": 0, "lost": 0, "duplicated": 0, "running": 0, "recover_s": 0.0,
                "codes": [], "left": 0, "note": "skipped: mounting a tmpfs needs root"}
    try:
        study = study_file(folder, "fault", [1, 2, 3])
        first = driver(folder, study, uri, "first.log", storage=disk).wait(timeout=900)
        left = tally(uri, "fault", 3)["running"]
        log = (folder / "first.log").read_text()
        said = "no space left on the device for" in log and "MB needed" in log
        leftovers = [p.name for p in disk.rglob("*.tmp")]
        t0 = time.time()
        subprocess.run(["mount", "-o", "remount,size=800m", str(disk)], check=True)
        again = driver(folder, study, uri, "again.log", storage=disk).wait(timeout=900)
        return _row(uri, 3, t0, [first, again], left, f"path and size said: {'yes' if said else 'NO'}; partial "
                    f"files left: {len(leftovers)}")
    finally:
        subprocess.run(["umount", str(disk)])


def locked_store(folder: Path) -> dict:
    study, db = study_file(folder, "fault", [1, 2, 3]), folder / "mlflow.db"
    uri = f"sqlite:///{db}"
    from ablations.store import init_store

    init_store(uri)  # the store exists; another program holds it
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    t0 = time.time()
    try:
        first = driver(folder, study, uri, "first.log").wait(timeout=600)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    said = "is locked by another process" in (folder / "first.log").read_text() and _clean(folder, "first.log")
    left = tally(uri, "fault", 3)["running"]
    again = driver(folder, study, uri, "again.log").wait(timeout=900)
    return _row(uri, 3, t0, [first, again], left, f"refused {'in one line' if said else 'WITH A TRACEBACK'}")


FAULTS = {"double": double_start, "ctrlc2": ctrl_c_twice, "checkpoint": corrupted_checkpoint,
          "journal": torn_journal, "disk": full_disk, "locked": locked_store}
