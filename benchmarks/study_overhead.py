"""What a study costs on top of its training, side by side in one run (issue: trials that cost what training costs).

    python benchmarks/study_overhead.py [--grid-trials 12] [--limit 32]

1. A grid study of N small trials (Twitter-2017 slice, BLIP-2 contexts, 1 epoch, 1 thread, one trial at a time)
   through the runner (Ray started before, the tracking store created before), against the same N configs run
   back to back by the core trainer in one process: this one (its imports done), and a fresh one.
2. The smoke `shapley_samples` study through the runner (Ray's start included), against its 4 configs run one
   after another as plain `python -m shapca.train` processes.
3. Start-up of each trial of (1): from its MLflow run's start to its first epoch's report, less that epoch.
4. Two trials at once of 1 thread each, against one trial at a time of 2 threads: trials per hour.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ablations import run
from ablations.options import Options
from ablations.plan import make_plan
from ablations.store import init_store
from ablations.study_file import load_study


def grid_study(folder: Path, name: str, limit: int, n: int, threads: int) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "description": "study overhead benchmark", "datasets": ["twitter2017"],
        "seeds": list(range(1, n + 1)),
        "base": {"data.context": "blip2", "model.encoder": "minilm", "data.limit_train": limit,
                 "data.limit_eval": limit, "data.max_len": 64,
                 "data.context_max_len": 32, "train.epochs": 1, "train.num_threads": threads},
        "search": {"algorithm": "grid"}, "metric": "dev_f1",
        "resources": {"workers": 1, "cpus_per_worker": threads, "gpus_per_worker": 0},
        "report": {"kind": "main", "params": []}}))
    return path


def study_wall(path: Path, folder: Path, uri: str, *extra) -> float:
    t = time.perf_counter()
    code = run.main(["--study", str(path), "--tracking-uri", uri, "--storage", str(folder / "runs"), "--no-report",
                     *extra])
    assert code == 0, f"{path.stem}: the runner exited {code}"
    return time.perf_counter() - t


def startups(uri: str, study: str) -> list[float]:
    """Per trial, in start order: seconds from its run's start to its first epoch's report, less that epoch."""
    import mlflow

    from ablations.tracking import EXPERIMENT

    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(f"{EXPERIMENT}/{study}")  # each study's own (ablations/tracking.py)
    out = []
    trials = f"tags.`shapca.role` = 'trial' and tags.study = '{study}'"
    for r in client.search_runs([exp.experiment_id], trials, order_by=["start_time ASC"]):
        first = client.get_metric_history(r.info.run_id, "epoch_epoch_time_s")[0]
        out.append((first.timestamp - r.info.start_time) / 1000 - first.value)
    return out


def core_back_to_back(path: Path) -> float:
    from shapca.trainer import fit

    specs = make_plan(load_study(path), Options(study=str(path), preset="full")).planned
    t = time.perf_counter()
    for s in specs:
        fit(s.config, log=lambda *a, **k: None)
    return time.perf_counter() - t


def core_fresh_process(path: Path) -> float:
    """core_back_to_back in a process of its own, timed from its start: its imports count, as the runner's trial
    process counts its own."""
    t = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--core-of", str(path)], check=True, capture_output=True)
    return time.perf_counter() - t


def plain_processes(study: str, preset: str, folder: Path) -> float:
    specs = make_plan(load_study(study), Options(study=study, preset=preset)).planned
    t = time.perf_counter()
    for i, s in enumerate(specs):
        cfg_file = folder / f"plain-{i}.yaml"
        cfg_file.write_text(s.config.to_yaml())
        subprocess.run([sys.executable, "-m", "shapca.train", "--config", str(cfg_file)], check=True,
                       capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid-trials", type=int, default=12)
    ap.add_argument("--limit", type=int, default=32, help="train, dev and test examples per trial")
    ap.add_argument("--core-of", type=Path, help=argparse.SUPPRESS)  # core_fresh_process's own process
    args = ap.parse_args()
    if args.core_of:
        core_back_to_back(args.core_of)
        return
    tmp = Path(tempfile.mkdtemp(prefix="shapca-bench-"))
    # one tracking store for every study here, created first, as a researcher's store exists after the first
    # study: its creation (MLflow's schema migration) is a cost of the store, not of each study, and is shown apart
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    t = time.perf_counter()
    init_store(uri)
    store_creation = time.perf_counter() - t

    plain = plain_processes("shapley_samples", "smoke", tmp)
    t = time.perf_counter()
    run.connect_ray(None)
    ray_start = time.perf_counter() - t
    smoke = study_wall(load_study("shapley_samples").path, tmp, uri, "--preset", "smoke", "--max-concurrent", "1")
    smoke += ray_start

    grid = grid_study(tmp, "grid", args.limit, args.grid_trials, threads=1)
    core = core_back_to_back(grid)
    core_fresh = core_fresh_process(grid)
    runner = study_wall(grid, tmp, uri, "--preset", "full", "--max-concurrent", "1")
    starts = startups(uri, "grid")

    pair = 4
    two_at_once = study_wall(grid_study(tmp, "two_at_once", args.limit, pair, threads=1), tmp, uri, "--preset", "full")
    one_wide = study_wall(grid_study(tmp, "one_wide", args.limit, pair, threads=2), tmp, uri, "--preset", "full")

    print(f"machine: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"trials: Twitter-2017, {args.limit} train / {args.limit} dev / {args.limit} test, BLIP-2 contexts, "
          "1 epoch; one at a time unless said")
    print(f"the tracking store's creation, once before every study here (not counted): {store_creation:.1f} s")
    print("| measure | runner | baseline | ratio | goal |")
    print("|:---|---:|---:|---:|:---|")
    print(f"| {args.grid_trials}-trial grid study vs the core trainer back to back in one process, s | "
          f"{runner:.1f} | {core:.1f} | {runner / core:.2f}x | <= 1.15x |")
    print(f"| the same, the baseline a fresh process (its start and imports counted), s | {runner:.1f} | "
          f"{core_fresh:.1f} | {runner / core_fresh:.2f}x | |")
    print(f"| smoke shapley_samples (4 trials, Ray start {ray_start:.1f} s included) vs 4 plain "
          f"`python -m shapca.train` processes, s | {smoke:.1f} | {plain:.1f} | {smoke / plain:.2f}x | <= 1.2x |")
    later = starts[1:]
    print(f"| start-up of the first trial (beyond Ray's start), s | {starts[0]:.1f} | | | <= 15 s |")
    print(f"| start-up of each later trial, median (max), s | {statistics.median(later):.2f} "
          f"({max(later):.2f}) | | | <= 3 s |")
    print(f"| {pair} trials: two at once of 1 thread vs one at a time of 2 threads, trials/h | "
          f"{pair * 3600 / two_at_once:.0f} | {pair * 3600 / one_wide:.0f} | "
          f"{one_wide / two_at_once:.2f}x | |")


if __name__ == "__main__":
    main()
