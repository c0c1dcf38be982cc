"""Run a whole study: trials on Ray (Tune + Train, Optuna where the study searches), runs in MLflow, tables at the end.

    python ablations/run.py --study shapley_samples [--preset smoke|cpu|compare|full] [--dry-run] [--resume]
                            [--address ray://... | auto] [--tracking-uri http://127.0.0.1:5000] [--storage DIR]

A trial is identified by the hash of its resolved config: rerunning a study skips every trial that finished
(in MLflow) and fills only the missing ones. `--resume` also restores an interrupted Optuna search.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from ablations.estimate import OVERHEAD_METRIC
from ablations.outbox import Outbox
from ablations.plan import describe_plan
from ablations.plan_record import plan_record
from ablations.precision import training_amp
from ablations.presets import apply_preset
from ablations.status import describe as describe_status
from ablations.status import planned, price
from ablations.study import StudyError, load_study, select, with_cli_overrides
from ablations.tracking import StudyRuns, TrackingError, check_reachable, default_tracking_uri, machine_text
from ablations.trials import Outcome, connect_ray, first_payload, machine_resources, run_grid, run_optuna
from reports.contract import COMMAND_TAG, MACHINE_TAG, PLAN_ARTIFACT, WALL_METRIC
from shapca.config_help import config_help
from shapca.data.fetch import CACHE_ENV, MIRROR_ENV
from shapca.model import EncoderUnavailable, check_encoder


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=config_help())
    ap.add_argument("--study", required=True, help="a study name (search_spaces/<name>.yaml) or a YAML path")
    ap.add_argument("--preset", default=None, help="smoke, cpu, compare or full (default; recorded on every run)")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the planned trials, what would be skipped, and what the rest would cost")
    ap.add_argument("--probe", action="store_true",
                    help="with --dry-run: where no trial of the study has finished yet, time one config here")
    ap.add_argument("--status", action="store_true", help="where the study stands: done, running, pending, failed, "
                    "best so far, ETA (reads MLflow only)")
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
    ap.add_argument("--datasets", nargs="+", default=None, metavar="NAME",
                    help="run only these of the study's datasets (before the preset's cut)")
    ap.add_argument("--variants", nargs="+", default=None, metavar="NAME",
                    help="run only these named variants (rows) of the study; a sweep's grid stays")
    ap.add_argument("--seeds", nargs="+", type=int, default=None, metavar="N",
                    help="run these seeds instead of the study's (before the preset's cut)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides for every trial")
    ap.add_argument("--no-report", action="store_true", help="do not build the tables at the end")
    ap.add_argument("--ray-output", action="store_true", help="also show Ray Tune's own progress tables")
    ap.add_argument("--tracking-wait", type=float, default=600.0,
                    help="seconds to keep trying an unreachable tracking store at the end before saving the writes")
    ap.add_argument("--partial-report", action="store_true",
                    help="build the tables even when the study is interrupted (they say they are partial)")
    return ap.parse_args(argv)


def storage_path(value: str) -> str:
    return value if "://" in value else str(Path(value).resolve())


def main(argv=None) -> int:
    started = time.time()
    args = parse_args(argv)
    for var in (MIRROR_ENV, CACHE_ENV):  # trial processes run in Ray's own folders: a relative path would miss
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).resolve())
    try:
        chosen = select(load_study(args.study), args.datasets, args.variants, args.seeds)
        study = with_cli_overrides(apply_preset(chosen, args.preset or "full"), args.set)
        amp, decided = training_amp(args.address, study.resources)  # what train.amp=auto trains in, once
        study = dataclasses.replace(study, amp_auto=amp, amp_decided=decided)
        trials = planned(study)  # every trial's config resolves (and a bad --set fails) here, before any output
    except StudyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    uri = args.tracking_uri or default_tracking_uri()
    # a server that is away is waited for by the outbox, not by MLflow's minutes of retries inside one call
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    storage = storage_path(args.storage)
    study_dir = Path(storage) / f"{study.name}-{study.preset}" if "://" not in storage else Path(".")
    try:
        check_reachable(uri)
    except TrackingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run or args.status:
        fresh = uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).exists()
        runs = None if fresh else StudyRuns(uri, study.name, study.preset)  # a dry run creates nothing
        if args.status:
            print(describe_status(study, runs))
            return 0
        print(describe_plan(study, study.preset, runs.done_hashes() if runs else set()))
        print(price(study, runs, first_payload(study, trials, args, storage), machine_resources(args.address),
                    args.probe, trials))
        return 0
    try:
        for encoder in sorted({cfg.model.encoder for _, cfg, _ in trials}):
            check_encoder(encoder)
    except EncoderUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    runs = StudyRuns(uri, study.name, study.preset)
    resources = machine_resources(args.address)
    if args.preset is None and not args.address and not resources.get("GPU"):
        # a bare run is the full preset: on a machine without a GPU that can take days, so say so first
        print(price(study, runs, first_payload(study, trials, args, storage), resources, measure=True,
                    trials=trials))
        print("(no GPU here: --preset cpu is sized for a laptop, --preset smoke checks the pipeline; "
              "--dry-run --preset P prices each)", flush=True)
    study_dir.mkdir(parents=True, exist_ok=True)
    parent_id = runs.parent({"report_kind": study.report.get("kind", "sweep"),
                             "report_params": ",".join(study.report.get("params", [])),
                             "seeds": ",".join(map(str, study.seeds)), "datasets": ",".join(study.datasets),
                             COMMAND_TAG: study_command(argv), MACHINE_TAG: machine_text(resources)},
                            study_file=study.path)
    runs.client.log_dict(parent_id, plan_record(study), PLAN_ARTIFACT)  # what reports/ reads the rows from
    outbox = Outbox(runs, study_dir / f"mlflow-outbox-{study.name}-{study.preset}.jsonl")
    if not outbox.flush():
        print("error: writes kept by the last run of this study could not be sent to the tracking store",
              file=sys.stderr)
        return 2
    connect_ray(args.address)
    t0 = time.time()
    trial_storage = storage if "://" in storage else str(study_dir)
    outcome = Outcome()
    # Tune stops a study gracefully on SIGINT; SIGTERM (a scheduler, `kill`) is made to mean the same
    previous = signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    try:
        if study.is_grid:
            run_grid(study, args, trial_storage, outbox, outcome)
        else:
            run_optuna(study, args, trial_storage, outbox, study_dir, outcome)
    finally:
        signal.signal(signal.SIGTERM, previous)
    kept = outbox.close(args.tracking_wait)
    minutes = (time.time() - t0) / 60
    print(f"study {study.name} ({study.preset}): {outcome.summary()}, in {minutes:.1f} min", flush=True)
    if outcome.interrupted:
        print(f"interrupted: unfinished trials are KILLED in MLflow and resume from their last epoch with\n  "
              f"{resume_command(argv)}", file=sys.stderr, flush=True)
    if not args.no_report and (not outcome.interrupted or args.partial_report):
        build_tables(study, uri, partial=outcome.interrupted)
    elif outcome.interrupted and not args.no_report:
        print("no tables: the study was interrupted (--partial-report builds them from what finished)",
              file=sys.stderr)
    if kept:
        print(f"tracking: the store could not be reached for {args.tracking_wait:.0f} s at the end; {kept} write(s) "
              f"are kept in {outbox.spill} and sent by the next run of this study (the same command)",
              file=sys.stderr)
        return 3
    wall = time.time() - started
    overhead = outcome.overhead_s(wall)
    if overhead is not None:  # the next dry run adds the overhead to its trials' time; the results page the wall
        runs.log_metrics(parent_id, {OVERHEAD_METRIC: overhead, WALL_METRIC: wall})
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


def study_command(argv) -> str:
    """The command as typed (quoted for a shell), for the parent run and the resume hint."""
    return shlex.join(["python", "ablations/run.py", *(sys.argv[1:] if argv is None else argv)])


def resume_command(argv) -> str:
    words = list(sys.argv[1:] if argv is None else argv)
    return study_command(words) + ("" if "--resume" in words else " --resume")


if __name__ == "__main__":
    sys.exit(main())
