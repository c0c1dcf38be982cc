"""Run a whole study: trials on Ray (Tune + Train, Optuna where the study searches), runs in MLflow, tables at the end.

    python ablations/run.py --study shapley_samples [--preset smoke|cpu|compare|full] [--dry-run] [--resume]
                            [--address ray://... | auto] [--tracking-uri http://127.0.0.1:5000] [--storage DIR]

A trial is identified by the hash of its resolved config: rerunning a study skips every trial that finished
(in MLflow) and fills only the missing ones. `--resume` also restores an interrupted Optuna search.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from ablations.adaptive import power_lines, until_resolved
from ablations.describe import describe
from ablations.estimate import price
from ablations.launch import Outcome, launch
from ablations.machine import connect_ray, machine_resources, training_amp
from ablations.options import Options
from ablations.outbox import Outbox
from ablations.plan import make_plan
from ablations.plan_record import plan_record
from ablations.schema import StudyError
from ablations.status import status
from ablations.store import TrackingError, check_reachable, default_tracking_uri, untouched
from ablations.study_file import load_study
from ablations.tracking import StudyRuns, machine_text
from reports.links import next_steps, ui_url
from reports.table_runs import view_key
from reports.contract import (COMMAND_TAG, DATASETS_TAG, MACHINE_TAG, OVERHEAD_METRIC, PLAN_ARTIFACT,
                              REPORT_KIND_TAG, REPORT_PARAMS_TAG, SEEDS_TAG, WALL_METRIC)
from shapca.data.fetch import CACHE_ENV, MIRROR_ENV
from shapca.model import EncoderUnavailable, check_encoder


def main(argv=None) -> int:
    started = time.time()
    options = Options.parse(argv, __doc__)
    for var in (MIRROR_ENV, CACHE_ENV):  # trial processes run in Ray's own folders: a relative path would miss
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).resolve())
    try:
        study_file = load_study(options.study)
        amp = training_amp(options.address, study_file.resources)  # what train.amp=auto trains in, decided once
        plan = make_plan(study_file, options, amp=amp)  # every trial's config resolves (a bad --set fails) here,
    except StudyError as e:                        # before any output
        print(f"error: {e}", file=sys.stderr)
        return 2
    uri = options.tracking_uri or default_tracking_uri()
    # a server that is away is waited for by the outbox, not by MLflow's minutes of retries inside one call
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    try:
        check_reachable(uri)
    except TrackingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    study, preset = plan.study.name, plan.preset.name
    looking = options.dry_run or options.status  # they only read: a store that does not exist yet stays so
    if not looking:
        try:  # before the store is opened: a run that cannot load its model writes nothing
            for encoder in plan.encoders:
                check_encoder(encoder)
        except EncoderUnavailable as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    runs = None if looking and untouched(uri) else StudyRuns(uri, study, preset, plan.study.description)
    if options.status:
        print(status(plan, runs.trial_runs() if runs else []))
        return 0
    if options.dry_run:
        print(describe(plan, runs.done_hashes() if runs else set()))
        for line in power_lines(plan, uri if runs else ""):
            print(line)
    resources = machine_resources(options.address)
    # a bare run is the full preset: on a machine without a GPU that can take days, so it is priced first
    bare = not options.dry_run and options.preset is None and not options.address and not resources.get("GPU")
    if options.dry_run or bare:
        print(price(plan, runs, options, resources, measure=options.probe or bare))
    if options.dry_run:
        return 0
    if bare:
        print("(no GPU here: --preset cpu is sized for a laptop, --preset smoke checks the pipeline; "
              "--dry-run --preset P prices each)", flush=True)
    folder = plan.folder(options)
    folder.mkdir(parents=True, exist_ok=True)
    report = plan.study.report
    parent_id = runs.parent({REPORT_KIND_TAG: report.get("kind", "sweep"),
                             REPORT_PARAMS_TAG: ",".join(report.get("params", [])),
                             SEEDS_TAG: ",".join(map(str, plan.study.seeds)),
                             DATASETS_TAG: ",".join(plan.study.datasets), COMMAND_TAG: options.command(),
                             MACHINE_TAG: machine_text(resources)}, study_file=plan.study.path)
    runs.client.log_dict(parent_id, plan_record(plan), PLAN_ARTIFACT)  # what reports/ reads the rows from
    outbox = Outbox(runs, folder / f"mlflow-outbox-{study}-{preset}.jsonl")
    if not outbox.flush():
        print("error: writes kept by the last run of this study could not be sent to the tracking store",
              file=sys.stderr)
        return 2
    connect_ray(options.address)
    t0 = time.time()
    outcome = Outcome()
    # Tune stops a study gracefully on SIGINT; SIGTERM (a scheduler, `kill`) is made to mean the same
    previous = signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    try:
        launch(plan, options, outbox, outcome)
        if plan.study.report.get("until_resolved"):
            until_resolved(plan, lambda extra: make_plan(study_file, options, extra_seeds=extra, amp=amp), uri,
                           lambda more: launch(more, options, outbox, outcome), outbox, outcome)
    finally:
        signal.signal(signal.SIGTERM, previous)
    kept = outbox.close(options.tracking_wait)
    minutes = (time.time() - t0) / 60
    print(f"study {study} ({preset}): {outcome.summary()}, in {minutes:.1f} min", flush=True)
    if outcome.interrupted:
        print(f"interrupted: unfinished trials are KILLED in MLflow and resume from their last epoch with\n  "
              f"{options.resume_command()}", file=sys.stderr, flush=True)
    report = None
    if not options.no_report and (not outcome.interrupted or options.partial_report):
        report = build_tables(study, preset, uri, partial=outcome.interrupted, ui_url=options.ui_url)
    elif outcome.interrupted and not options.no_report:
        print("no tables: the study was interrupted (--partial-report builds them from what finished)",
              file=sys.stderr)
    print(*next_steps(uri, ui_url(uri, options.ui_url), runs.experiment_id, view_key(study, preset) if report else None,
                      report), sep="\n", flush=True)
    if kept:
        print(f"tracking: the store could not be reached for {options.tracking_wait:.0f} s at the end; {kept} "
              f"write(s) are kept in {outbox.spill} and sent by the next run of this study (the same command)",
              file=sys.stderr)
        return 3
    wall = time.time() - started
    overhead = outcome.overhead_s(wall)
    if overhead is not None:  # the next dry run adds the overhead to its trials' time; the results page the wall
        runs.log_metrics(parent_id, {OVERHEAD_METRIC: overhead, WALL_METRIC: wall})
    runs.close_parent()
    return 130 if outcome.interrupted else 0


def build_tables(study: str, preset: str, uri: str, partial: bool, ui_url: str | None) -> str | None:
    """Builds the study's tables; returns the path of its report.html (None when there are no tables)."""
    from reports.build import build_study
    from reports.records import ReportError

    try:
        outputs = build_study(study, uri, preset=preset, ui_url=ui_url)
        print("tables" + (" (partial: the study was interrupted)" if partial else "") + ":",
              *[str(p) for p in outputs], sep="\n  ")
        return next((str(p.resolve()) for p in outputs if p.name == "report.html"), None)
    except ReportError as e:
        print(f"no tables: {e}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main())
