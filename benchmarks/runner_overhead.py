"""What the Ray runner costs on top of the core trainer, side by side in one run.

    python benchmarks/runner_overhead.py [--limit-train 128] [--epochs 2]

1. The same trial (real Twitter-2017 slice, BLIP-2 contexts) run by the core trainer in this process, then as a
   one-trial study through `ablations/run.py` on a local Ray: the ratio of their epoch times (training + evaluation)
   after start-up, and the start-up of each (Ray, Tune, the Train worker group, data and model loading).
2. A two-trial study run one trial at a time, then two at once (one worker of 1 CPU each): trials per hour.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml


def study_file(folder: Path, name: str, base: dict, seeds: list[int]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "description": "runner overhead benchmark", "datasets": ["twitter2017"], "seeds": seeds,
        "base": base, "search": {"algorithm": "grid"}, "metric": "dev_f1",
        "resources": {"workers": 1, "cpus_per_worker": 1, "gpus_per_worker": 0},
        "report": {"kind": "main", "params": []}}))
    return path


def epoch_times(uri: str, study: str) -> list[float]:
    import mlflow

    from ablations.tracking import EXPERIMENT

    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(f"{EXPERIMENT}/{study}")  # each study's own (ablations/tracking.py)
    runs = client.search_runs([exp.experiment_id], f"tags.study = '{study}' and tags.`shapca.role` = 'trial'")
    return [m.value for r in runs for m in client.get_metric_history(r.info.run_id, "epoch_epoch_time_s")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit-train", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    base = {"data.context": "blip2", "model.encoder": "minilm", "data.limit_train": args.limit_train,
            "data.limit_eval": 64,
            "train.epochs": args.epochs, "train.num_threads": 1}
    tmp = Path(tempfile.mkdtemp(prefix="shapca-bench-"))

    from shapca.config import Config
    from shapca.trainer import fit

    cfg = Config()
    cfg.update({"data.dataset": "twitter2017", **base})
    t0 = time.perf_counter()
    result = fit(cfg, log=lambda *a: None)
    core_total = time.perf_counter() - t0
    core_epochs = sum(r["epoch_time_s"] for r in result.history)

    import ray

    from ablations import run

    t0 = time.perf_counter()
    run.connect_ray(None)
    ray_start = time.perf_counter() - t0

    def study(name: str, seeds: list[int], concurrent: int) -> tuple[float, list[float]]:
        uri = f"sqlite:///{tmp / name}.db"
        path = study_file(tmp, name, base, seeds)
        t = time.perf_counter()
        run.main(["--study", str(path), "--tracking-uri", uri, "--storage", str(tmp / "runs"), "--no-report",
                  "--max-concurrent", str(concurrent)])
        return time.perf_counter() - t, epoch_times(uri, name)

    one_total, one_epochs = study("one_trial", [1], 1)
    serial, _ = study("two_serial", [1, 2], 1)
    parallel, _ = study("two_parallel", [1, 2], 2)
    ray.shutdown()

    print(f"trial: Twitter-2017, {args.limit_train} train / 64 dev / 64 test examples, BLIP-2 contexts, "
          f"{args.epochs} epochs, 1 thread per trial")
    print("| measure | core trainer | runner (Ray Tune + Train + MLflow) | ratio |")
    print("|---|---|---|---|")
    print(f"| epochs (train + eval), s | {core_epochs:.1f} | {sum(one_epochs):.1f} | "
          f"{sum(one_epochs) / core_epochs:.2f}x |")
    print(f"| start-up before the first epoch, s | {core_total - core_epochs:.1f} (data + model) | "
          f"{one_total - sum(one_epochs):.1f} (+ {ray_start:.1f} s Ray start) | |")
    print(f"| whole trial, s | {core_total:.1f} | {one_total:.1f} | {one_total / core_total:.2f}x |")
    print()
    print("| two one-worker trials | wall, s | trials per hour |")
    print("|---|---|---|")
    print(f"| one at a time | {serial:.0f} | {2 * 3600 / serial:.0f} |")
    print(f"| two at once | {parallel:.0f} | {2 * 3600 / parallel:.0f} |")


if __name__ == "__main__":
    main()
