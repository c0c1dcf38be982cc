"""Run a whole study: trials on Ray (Tune + Train, Optuna where the study searches), runs in MLflow, tables at the end.

    python ablations/run.py --study shapley_samples [--preset smoke|cpu|full] [--dry-run] [--resume]
                            [--address ray://... | auto] [--tracking-uri http://127.0.0.1:5000] [--storage DIR]

A trial is identified by the hash of its resolved config: rerunning a study skips every trial that finished
(in MLflow) and fills only the missing ones. `--resume` also restores an interrupted Optuna search.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from ablations.presets import apply_preset  # noqa: E402
from ablations.plan import describe_plan, plan, resolve_sampled, search_space  # noqa: E402
from ablations.study import StudyError, load_study, with_cli_overrides  # noqa: E402
from ablations.tracking import StudyRuns, TrackingError, check_reachable, default_tracking_uri  # noqa: E402
from trainables.payload import KEY as PAYLOAD_KEY  # noqa: E402
from trainables.payload import TrialPayload  # noqa: E402


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
    ap.add_argument("--partial-report", action="store_true",
                    help="build the tables even when the study is interrupted (they say they are partial)")
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


def fitting_trials(payload: TrialPayload) -> int:
    """How many trials fit the cluster at once, counting everything a trial reserves (Tune would otherwise start
    more trials than fit and leave them waiting)."""
    import ray

    have = ray.cluster_resources()
    fits = [int(have.get(kind, 0) // amount) for kind, amount in payload.reserved().items() if amount > 0]
    return max(1, min(fits))


def payload_for(study, cfg, variant: str | None, components, args, storage: str) -> TrialPayload:
    r = study.resources
    return TrialPayload(config=cfg.to_dict(), study=study.name, preset=study.preset, storage=storage,
                        variant=variant, components=components, workers=int(r.get("workers", 1)),
                        cpus_per_worker=float(r.get("cpus_per_worker", 1)),
                        gpus_per_worker=float(r.get("gpus_per_worker", 0)), max_failures=args.max_failures,
                        backend=args.backend)


class Outcome:
    """What a study's Tuner runs came to, summed over its searches."""

    def __init__(self):
        self.planned = self.finished = self.failed = self.unfinished = 0

    def add(self, planned: int, trials) -> None:  # trials: ablations.callbacks.MLflowTrials
        self.planned += planned
        self.finished += trials.finished
        self.failed += trials.failed
        self.unfinished += trials.close_unfinished()

    @property
    def interrupted(self) -> bool:
        return self.finished + self.failed < self.planned


def run_tuner(param_space: dict, payload: TrialPayload, study, args, name: str, runs: StudyRuns, total: int,
              epochs: int, outcome: Outcome, search_alg=None, num_samples: int = 1) -> None:
    from ray import tune

    from ablations.callbacks import MLflowTrials, Progress, Waiting
    from ablations.search import make_scheduler
    from trainables.driver import run_trial

    metric = f"best_{study.metric}"
    trials = MLflowTrials(runs, images="none")
    tuner = tune.Tuner(
        tune.with_resources(run_trial, payload.resources()), param_space=param_space,
        tune_config=tune.TuneConfig(metric=metric, mode=study.mode, search_alg=search_alg,
                                    scheduler=make_scheduler(study.scheduler, epochs), num_samples=num_samples,
                                    max_concurrent_trials=args.max_concurrent or fitting_trials(payload),
                                    # in-process trials keep their process (imports, data, weights) for the next
                                    reuse_actors=payload.in_process),
        run_config=tune.RunConfig(
            name=name, storage_path=payload.storage, callbacks=[trials, Progress(total, metric), Waiting()],
            verbose=0,
            # in process, Tune restarts a failed trial (from its checkpoint); data parallel, Ray Train does
            failure_config=tune.FailureConfig(max_failures=payload.max_failures if payload.in_process else 0)),
    )
    try:
        tuner.fit()
    finally:
        outcome.add(total, trials)


def run_grid(study, args, storage: str, runs: StudyRuns, outcome: Outcome) -> None:
    from ray import tune

    specs = plan(study, study.preset)
    done = runs.done_hashes()
    todo = []
    for s in specs:
        if s.trial_hash not in done:
            todo.append(payload_for(study, s.config, s.variant, s.components, args, storage))
    print(f"{len(specs)} planned, {len(specs) - len(todo)} already finished, {len(todo)} to run", flush=True)
    if not todo:
        return
    space = {PAYLOAD_KEY: tune.grid_search([t.to_tune()[PAYLOAD_KEY] for t in todo])}
    run_tuner(space, todo[0], study, args, "grid-" + time.strftime("%Y%m%d-%H%M%S"), runs, total=len(todo),
              epochs=max(t.config["train"]["epochs"] for t in todo), outcome=outcome)


def run_optuna(study, args, storage: str, runs: StudyRuns, study_dir: Path, outcome: Outcome) -> None:
    from ablations.search import make_optuna, requeue_interrupted

    n = int(study.search["num_samples"])
    for dataset in study.datasets:
        for seed in study.seeds:
            base = resolve_sampled(study, study.preset, dataset, seed, {}).config
            have = runs.finished_count(dataset, seed)
            left = n - have
            print(f"{dataset} seed {seed}: {have}/{n} trials finished, {max(0, left)} to run", flush=True)
            if left <= 0:
                continue
            name = f"optuna-{dataset}-seed{seed}"
            journal = str(study_dir / f"{name}.journal")
            if args.resume and (k := requeue_interrupted(journal, name)):
                print(f"{name}: {k} interrupted trial(s) queued again", flush=True)
            payload = payload_for(study, base, None, None, args, storage)
            search = make_optuna(study.search, f"best_{study.metric}", study.mode, journal, name)
            run_tuner(payload.to_tune(search_space(study)), payload, study, args,
                      f"{name}-{time.strftime('%Y%m%d-%H%M%S')}", runs, total=left, epochs=base.train.epochs,
                      outcome=outcome, search_alg=search, num_samples=left)
            if outcome.interrupted:
                return


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        study = with_cli_overrides(apply_preset(load_study(args.study), args.preset), args.set)
        if args.dry_run:  # every trial's config resolves (and a bad --set fails) here, before any output
            plan(study) if study.is_grid else resolve_sampled(study, study.preset, study.datasets[0],
                                                              study.seeds[0], {})
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
    outcome = Outcome()
    # Tune stops a study gracefully on SIGINT; SIGTERM (a scheduler, `kill`) is made to mean the same
    previous = signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    try:
        if study.is_grid:
            run_grid(study, args, trial_storage, runs, outcome)
        else:
            run_optuna(study, args, trial_storage, runs, study_dir, outcome)
    finally:
        signal.signal(signal.SIGTERM, previous)
    minutes = (time.time() - t0) / 60
    print(f"study {study.name} ({study.preset}): {outcome.finished} finished, {outcome.failed} failed, "
          f"{outcome.unfinished} unfinished of {outcome.planned} run in {minutes:.1f} min", flush=True)
    if outcome.interrupted:
        print(f"interrupted: unfinished trials are KILLED in MLflow and resume from their last epoch with\n  "
              f"{resume_command(argv)}", file=sys.stderr, flush=True)
    if not args.no_report and (not outcome.interrupted or args.partial_report):
        build_tables(study, uri, partial=outcome.interrupted)
    elif outcome.interrupted and not args.no_report:
        print("no tables: the study was interrupted (--partial-report builds them from what finished)",
              file=sys.stderr)
    runs.close_parent()
    return 130 if outcome.interrupted else 0


def build_tables(study, uri: str, partial: bool) -> None:
    from reports.build import build_study
    from reports.records import ReportError

    try:
        outputs = build_study(study.name, uri, preset=study.preset)
        print("tables" + (" (partial: the study was interrupted)" if partial else "") + ":",
              *[str(p) for p in outputs], sep="\n  ")
    except ReportError as e:
        print(f"no tables: {e}", file=sys.stderr)


def resume_command(argv) -> str:
    words = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python ablations/run.py", *words, *([] if "--resume" in words else ["--resume"])])

if __name__ == "__main__":
    sys.exit(main())
