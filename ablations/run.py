"""Run a whole study: trials on Ray (Tune + Train, Optuna where the study searches), runs in MLflow, tables at the end.

    python ablations/run.py --study shapley_samples [--preset smoke|cpu|full] [--dry-run] [--resume]
                            [--address ray://... | auto] [--tracking-uri http://127.0.0.1:5000] [--storage DIR]

A trial is identified by the hash of its resolved config: rerunning a study skips every trial that finished
(in MLflow) and fills only the missing ones. `--resume` also restores an interrupted Optuna search.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from ablations.presets import apply_preset  # noqa: E402
from ablations.plan import describe_plan, plan, resolve_sampled, search_space  # noqa: E402
from ablations.study import StudyError, load_study  # noqa: E402
from ablations.tracking import StudyRuns, TrackingError, check_reachable, default_tracking_uri  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", required=True, help="a study name (search_spaces/<name>.yaml) or a YAML path")
    ap.add_argument("--preset", default="full", help="smoke, cpu or full (recorded on every run)")
    ap.add_argument("--dry-run", action="store_true", help="print the planned trials and what would be skipped")
    ap.add_argument("--resume", action="store_true", help="restore an interrupted Optuna search (grids always fill "
                    "only missing trials)")
    ap.add_argument("--address", default=os.environ.get("RAY_ADDRESS"),
                    help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray started here)")
    ap.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: sqlite ./mlflow.db)")
    ap.add_argument("--storage", default=os.environ.get("SHAPCA_STORAGE", "runs"),
                    help="results and checkpoints (shared storage on a cluster; default ./runs or $SHAPCA_STORAGE)")
    ap.add_argument("--max-concurrent", type=int, default=0, help="trials at once (0: as resources allow)")
    ap.add_argument("--max-failures", type=int, default=1, help="retries of a trial's workers from its checkpoint")
    ap.add_argument("--backend", default="auto", choices=["auto", "gloo", "nccl"], help="torch.distributed backend")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides for every trial")
    ap.add_argument("--no-report", action="store_true", help="do not build the tables at the end")
    return ap.parse_args(argv)


def storage_path(value: str) -> str:
    return value if "://" in value else str(Path(value).resolve())


def connect_ray(address: str | None):
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, logging_level="warning")
    else:
        # The dashboard (State API) must be on: Train inside Tune relies on it to free an early-stopped trial's
        # workers. address="local" never joins a stray cluster.
        ray.init(address="local", include_dashboard=True, dashboard_host="127.0.0.1", logging_level="warning",
                 log_to_driver=False)


def fitting_trials(study) -> int:
    """How many trials the cluster's CPUs and GPUs can run at once (Tune would otherwise start every trial's
    driver at once and leave their workers queueing)."""
    import ray

    have = ray.cluster_resources()
    r = study.resources
    workers = max(1, int(r.get("workers", 1)))
    fits = [int(have.get("CPU", 1) // max(1e-9, workers * float(r.get("cpus_per_worker", 1))))]
    if float(r.get("gpus_per_worker", 0)) > 0:
        fits.append(int(have.get("GPU", 0) // (workers * float(r["gpus_per_worker"]))))
    return max(1, min(fits))


def meta_for(study, spec_variant: str | None, components, args, storage: str) -> dict:
    r = study.resources
    return {"study": study.name, "preset": study.preset, "variant": spec_variant, "components": components,
            "storage": storage, "workers": r.get("workers", 1), "cpus_per_worker": r.get("cpus_per_worker", 1),
            "gpus_per_worker": r.get("gpus_per_worker", 0), "max_failures": args.max_failures,
            "backend": args.backend}


def with_overrides(cfg, assignments: list[str]):
    return cfg.override(assignments) if assignments else cfg


def run_tuner(param_space: dict, study, args, storage: str, name: str, runs: StudyRuns, total: int,
              epochs: int, search_alg=None, num_samples: int = 1):
    from ray import tune

    from ablations.callbacks import MLflowTrials, Progress
    from ablations.search import make_scheduler
    from trainables.driver import DRIVER_CPU, run_trial

    trainable = tune.with_resources(run_trial, {"CPU": DRIVER_CPU})
    metric = f"best_{study.metric}"
    callbacks = [MLflowTrials(runs, images="none"), Progress(total, metric)]
    tuner = tune.Tuner(
        trainable, param_space=param_space,
        tune_config=tune.TuneConfig(metric=metric, mode=study.mode, search_alg=search_alg,
                                    scheduler=make_scheduler(study.scheduler, epochs),
                                    num_samples=num_samples, max_concurrent_trials=args.max_concurrent or fitting_trials(study)),
        run_config=tune.RunConfig(name=name, storage_path=storage, callbacks=callbacks, verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=0)),
    )
    return tuner.fit()


def run_grid(study, args, storage: str, runs: StudyRuns) -> int:
    from ray import tune

    specs = plan(study, study.preset)
    done = runs.done_hashes()
    todo = []
    for s in specs:
        cfg = with_overrides(s.config, args.set)
        if cfg.hash() not in done:
            todo.append({"base": cfg.to_dict(), "params": {},
                         "meta": meta_for(study, s.variant, s.components, args, storage)})
    print(f"{len(specs)} planned, {len(specs) - len(todo)} already finished, {len(todo)} to run", flush=True)
    if not todo:
        return 0
    run_tuner({"trial": tune.grid_search(todo)}, study, args, storage, "grid-" + time.strftime("%Y%m%d-%H%M%S"),
              runs, total=len(todo), epochs=max(t["base"]["train"]["epochs"] for t in todo))
    return len(todo)


def run_optuna(study, args, storage: str, runs: StudyRuns, study_dir: Path) -> int:
    from ablations.search import make_optuna, requeue_interrupted

    n = int(study.search["num_samples"])
    ran = 0
    for dataset in study.datasets:
        for seed in study.seeds:
            base = with_overrides(resolve_sampled(study, study.preset, dataset, seed, {}).config, args.set)
            have = runs.finished_count(dataset, seed)
            left = n - have
            print(f"{dataset} seed {seed}: {have}/{n} trials finished, {max(0, left)} to run", flush=True)
            if left <= 0:
                continue
            name = f"optuna-{dataset}-seed{seed}"
            journal = str(study_dir / f"{name}.journal")
            if args.resume and (k := requeue_interrupted(journal, name)):
                print(f"{name}: {k} interrupted trial(s) queued again", flush=True)
            space = {"trial": {"base": base.to_dict(), "params": search_space(study),
                               "meta": meta_for(study, None, None, args, storage)}}
            search = make_optuna(study.search, f"best_{study.metric}", study.mode, journal, name)
            run_tuner(space, study, args, storage, f"{name}-{time.strftime('%Y%m%d-%H%M%S')}", runs, total=left,
                      epochs=base.train.epochs, search_alg=search, num_samples=left)
            ran += left
    return ran


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        study = apply_preset(load_study(args.study), args.preset)
    except StudyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    uri = args.tracking_uri or default_tracking_uri()
    storage = storage_path(args.storage)
    study_dir = Path(storage) / f"{study.name}-{study.preset}" if "://" not in storage else Path(".")
    try:
        check_reachable(uri)
    except TrackingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        fresh = uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).exists()
        done = set() if fresh else StudyRuns(uri, study.name, study.preset).done_hashes()  # a dry run creates nothing
        print(describe_plan(study, study.preset, done))
        return 0
    runs = StudyRuns(uri, study.name, study.preset)
    study_dir.mkdir(parents=True, exist_ok=True)
    runs.parent({"report_kind": study.report.get("kind", "sweep"),
                 "report_params": ",".join(study.report.get("params", [])),
                 "seeds": ",".join(map(str, study.seeds)), "datasets": ",".join(study.datasets)},
                study_file=study.path)
    connect_ray(args.address)
    t0 = time.time()
    trial_storage = storage if "://" in storage else str(study_dir)
    if study.search.get("algorithm", "grid") == "grid":
        n = run_grid(study, args, trial_storage, runs)
    else:
        n = run_optuna(study, args, trial_storage, runs, study_dir)
    print(f"study {study.name} ({study.preset}): {n} trials run in {(time.time() - t0) / 60:.1f} min", flush=True)
    if not args.no_report:
        from reports.build import build_study
        from reports.records import ReportError

        try:
            outputs = build_study(study.name, uri, preset=study.preset)
            print("tables:", *[str(p) for p in outputs], sep="\n  ")
        except ReportError as e:
            print(f"no tables: {e}", file=sys.stderr)
    runs.close_parent()
    return 0


if __name__ == "__main__":
    sys.exit(main())
