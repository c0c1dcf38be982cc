"""Run a whole study: trials on Ray (Tune + Train, Optuna where the study searches), runs in MLflow, tables at the end.

    python ablations/run.py --study shapley_samples [--preset smoke|cpu|compare|full] [--dry-run] [--resume]
                            [--address ray://... | auto] [--tracking-uri http://127.0.0.1:5000] [--storage DIR]

A trial is identified by the hash of its resolved config: rerunning a study skips every trial that finished
(in MLflow) and fills only the missing ones. `--resume` also restores an interrupted Optuna search. One start of a
study runs at a time on a tracking store: a second one refuses, naming the first (ablations/lease.py).

Exit status: 0 every planned trial finished; 2 refused before anything ran (bad input, a store or folder that
cannot be used); 3 writes kept for a tracking store that could not be reached; 4 trials failed, or the study
stopped on an error (the summary says which and why; the same command runs them again); 75 the study is already
running (another start holds it); 130 interrupted (Ctrl-C, SIGTERM). docs/studies.md.
"""
from __future__ import annotations

import os
import shlex
import sys
import time
import traceback
from pathlib import Path

from ablations.adaptive import power_lines, until_resolved
from ablations.describe import describe
from ablations.estimate import price
from ablations.interrupts import Interrupts
from ablations.launch import Outcome, launch
from ablations.lease import StudyBusy, StudyLease, holder_of
from ablations.machine import connect_ray, machine_resources, training_amp
from ablations.options import Options
from ablations.outbox import Outbox
from ablations.plan import make_plan
from ablations.plan_record import plan_record
from ablations.preflight import FolderError, check_folders
from ablations.schema import StudyError
from ablations.status import status
from ablations.store import TrackingError, check_reachable, default_tracking_uri, store_errors, untouched
from ablations.study_file import load_study
from ablations.tracking import StudyRuns, machine_text
from reports.links import next_steps, ui_url
from reports.table_runs import view_key
from reports.contract import (COMMAND_TAG, DATASETS_TAG, MACHINE_TAG, OVERHEAD_METRIC, PLAN_ARTIFACT,
                              REPORT_KIND_TAG, REPORT_PARAMS_TAG, SEEDS_TAG, UNTIL_RESOLVED_TAG, WALL_METRIC)
from reports.failure import error_summary
from shapca.data.fetch import CACHE_ENV, MIRROR_ENV
from shapca.model import EncoderUnavailable, check_encoder

OK, REFUSED, KEPT, FAILED, BUSY, INTERRUPTED = 0, 2, 3, 4, 75, 130  # exit statuses, as the docstring says


def main(argv=None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before the study's run was opened
        print("interrupted before the study started: no run was opened or changed", file=sys.stderr)
        return INTERRUPTED


def _main(argv) -> int:
    started = time.time()
    options = Options.parse(argv, __doc__)
    for var in (MIRROR_ENV, CACHE_ENV):  # trial processes run in Ray's own folders: a relative path would miss
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).resolve())
    # a server that is away is waited for by the outbox, not by MLflow's minutes of retries inside one call
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    uri = options.tracking_uri or default_tracking_uri()
    looking = options.dry_run or options.status  # they only read: a store that does not exist yet stays so
    try:
        study = load_study(options.study)
        amp = training_amp(options.address, study.resources)  # what train.amp=auto trains in, decided once
        plan = make_plan(study, options, amp=amp)  # every trial's config resolves (and a bad --set fails) here,
        check_reachable(uri)                       # before any output
        if looking:
            with store_errors(uri):
                runs = None if untouched(uri) else StudyRuns(uri, study.name, plan.preset.name)
                return _look(plan, options, uri, runs)
        for encoder in plan.encoders:  # before the store is opened: a run that cannot load its model writes nothing
            check_encoder(encoder)
        check_folders(str(plan.folder(options)), uri)
        with store_errors(uri):
            runs = StudyRuns(uri, plan.study.name, plan.preset.name, plan.study.description)
            resources = _priced(plan, options, runs)
            lease = StudyLease(runs)
            runs.use_parent(lease.take())
    except (StudyError, TrackingError, EncoderUnavailable, FolderError) as e:
        print(f"error: {e}", file=sys.stderr)
        return REFUSED
    except StudyBusy as e:
        print(f"error: {e}\nfollow it with\n  {status_command(options, plan)}\n(a second start would train the same "
              "trials beside it; this one stops here. A start whose process is gone, or that is not heard from for "
              "a while on another host, is taken over: docs/studies.md)", file=sys.stderr)
        return BUSY
    try:
        replan = lambda extra: make_plan(study, options, extra_seeds=extra, amp=amp)  # noqa: E731 - rounds of seeds
        return _run(plan, replan, options, uri, runs, lease, resources, started)
    finally:
        lease.release()


def _look(plan, options, uri, runs) -> int:
    """--status and --dry-run: they read the store, write nothing and take no lease."""
    if options.status:
        print(status(plan, runs.trial_runs() if runs else [], running(runs)))
        return OK
    print(describe(plan, runs.done_hashes() if runs else set()))
    for line in power_lines(plan, uri if runs else ""):
        print(line)
    print(price(plan, runs, options, machine_resources(options.address), measure=options.probe))
    return OK


def _priced(plan, options, runs) -> dict:
    """What the study runs on; a bare run (the full preset) on a machine without a GPU can take days: priced first."""
    resources = machine_resources(options.address)
    if options.preset is None and not options.address and not resources.get("GPU"):
        print(price(plan, runs, options, resources, measure=True))
        print("(no GPU here: --preset cpu is sized for a laptop, --preset smoke checks the pipeline; "
              "--dry-run --preset P prices each)", flush=True)
    return resources


def running(runs) -> str | None:
    """Who runs the study now, for --status (None: no start holds it)."""
    for parent in runs.parents() if runs else []:
        held = holder_of(runs.client, parent.info.run_id)
        if held and not held.stale():
            return held.describe()
    return None


def status_command(options, plan) -> str:
    words = ["python", "ablations/run.py", "--study", options.study, "--preset", plan.preset.name, "--status"]
    return shlex.join(words + (["--tracking-uri", options.tracking_uri] if options.tracking_uri else []))


def _run(plan, replan, options, uri, runs, lease, resources, started) -> int:
    """The study, once this start holds it: every way out (the end, failures, Ctrl-C, an error) ends its runs."""
    interrupts = Interrupts().install()
    study, preset, report = plan.study.name, plan.preset.name, plan.study.report
    outcome, outbox, crash, ours = Outcome(), None, None, False
    t0 = time.time()
    try:
        with store_errors(uri):
            orphans = runs.end_orphans()  # this start holds the lease: no live start runs them
            if orphans:
                print(f"tracking: {orphans} trial run(s) left RUNNING by an earlier start that ended without ending "
                      "them are now KILLED (this start or a later one continues those it plans)", flush=True)
            parent_id = runs.parent({REPORT_KIND_TAG: report.get("kind", "sweep"),
                                     REPORT_PARAMS_TAG: ",".join(report.get("params", [])),
                                     SEEDS_TAG: ",".join(map(str, plan.study.seeds)),
                                     DATASETS_TAG: ",".join(plan.study.datasets), COMMAND_TAG: options.command(),
                                     UNTIL_RESOLVED_TAG: str(report.get("until_resolved") or ""),
                                     MACHINE_TAG: machine_text(resources)}, study_file=plan.study.path)
            runs.client.log_dict(parent_id, plan_record(plan), PLAN_ARTIFACT)  # what reports/ reads the rows from
        outbox = Outbox(runs, plan.folder(options) / f"mlflow-outbox-{study}-{preset}.jsonl")
        if not outbox.flush():  # they stay in their file for the next run
            print("error: writes kept by the last run of this study could not be sent to the tracking store",
                  file=sys.stderr)
            return REFUSED
        import ray

        ours = not ray.is_initialized()  # a Ray this run starts (or connects to) is shut down by it, at its end
        connect_ray(options.address)
        interrupts.install()  # ray.init sets its own SIGTERM handler (exit at once): the study's comes back
        t0 = time.time()
        launch(plan, options, outbox, outcome)
        if report.get("until_resolved"):
            until_resolved(plan, replan, uri, lambda more: launch(more, options, outbox, outcome), outbox, outcome)
    except (KeyboardInterrupt, SystemExit):  # SystemExit: Ray's SIGTERM handler, while Ray was starting
        outcome.stopped = True
    except TrackingError as e:
        outcome.error = str(e)
    except Exception as e:  # noqa: BLE001 - a fault of the runner itself: the runs are ended first, then it is raised
        outcome.error, crash = error_summary(traceback.format_exc(), 300), e
    interrupts.ending = True
    code = _end(plan, options, uri, runs, lease, outbox, outcome, interrupts, time.time() - t0, started)
    if ours:  # here, not at exit: a Ctrl-C now is still the study's, said and not raised
        import ray

        ray.shutdown()
    interrupts.restore()
    if crash is not None:
        raise crash
    return code


def _end(plan, options, uri, runs, lease, outbox, outcome, interrupts, took_s, started) -> int:
    """Ends the study's runs, says what happened and how to go on, and returns the exit status."""
    study, preset = plan.study.name, plan.preset.name
    kept = 0
    if outbox is not None:
        try:
            kept = outbox.close(options.tracking_wait, hurry=lambda: interrupts.hurry)
        except OSError as e:
            print(f"error: {len(outbox.queue)} write(s) the tracking store did not take could not be kept in "
                  f"{outbox.spill}: {e.strerror}", file=sys.stderr)
    print(f"study {study} ({preset}): {outcome.summary()}, in {took_s / 60:.1f} min", flush=True)
    for line in outcome.failure_lines() + [f"note: {n}" for n in outcome.notes]:
        print(line, flush=True)
    if lease.lost:
        print(f"error: {lease.lost}; this start stopped and left the study's runs to it", file=sys.stderr)
    elif outcome.error:
        print(f"error: the study stopped: {outcome.error}\nunfinished trials are KILLED in MLflow; once the cause is "
              f"fixed, the same command continues:\n  {options.command()}", file=sys.stderr, flush=True)
    elif outcome.interrupted:
        print(f"interrupted: unfinished trials are KILLED in MLflow and resume from their last epoch with\n  "
              f"{options.resume_command()}", file=sys.stderr, flush=True)
    elif outcome.failed:
        print(f"{outcome.failed} trial(s) failed (each MLflow run's error tag has the traceback); the same command "
              f"runs them again:\n  {options.command()}", file=sys.stderr, flush=True)
    report = None
    if not options.no_report and not lease.lost and (outcome.ended or options.partial_report):
        report = build_tables(study, preset, uri, partial=not outcome.ended, ui_url=options.ui_url)
    elif not options.no_report and not lease.lost:
        print("no tables: the study did not run to its end (--partial-report builds them from what finished)",
              file=sys.stderr)
    print(*next_steps(uri, ui_url(uri, options.ui_url), runs.experiment_id, view_key(study, preset) if report else None,
                      report), sep="\n", flush=True)
    if kept:
        print(f"tracking: the store could not be reached for {options.tracking_wait:.0f} s at the end; {kept} "
              f"write(s) are kept in {outbox.spill} and sent by the next run of this study (the same command)",
              file=sys.stderr)
        return KEPT
    if not lease.lost:  # a start that lost the study leaves its run to the start that took it
        _close_parent(runs, outcome, time.time() - started)
    if outcome.interrupted:
        return BUSY if lease.lost else INTERRUPTED
    return FAILED if outcome.failed or outcome.error else OK


def _close_parent(runs, outcome: Outcome, wall: float) -> None:
    if not runs.opened:
        return
    overhead = outcome.overhead_s(wall)
    try:
        if overhead is not None:  # the next dry run adds the overhead to its trials' time; the results page the wall
            runs.log_metrics(runs.parent({}), {OVERHEAD_METRIC: overhead, WALL_METRIC: wall})
        runs.close_parent("KILLED" if outcome.interrupted else "FAILED" if outcome.error else "FINISHED")
    except Exception as e:  # noqa: BLE001 - the store went away at the very end: the next run reopens the parent
        print(f"tracking: the study's run could not be ended ({error_summary(str(e))}); the next run of the same "
              "command ends it", file=sys.stderr)


def build_tables(study: str, preset: str, uri: str, partial: bool, ui_url: str | None) -> str | None:
    """Builds the study's tables; returns the path of its report.html (None when there are no tables)."""
    from reports.build import build_study
    from reports.records import ReportError

    try:
        outputs = build_study(study, uri, preset=preset, ui_url=ui_url)
        print("tables" + (" (partial: the study did not run to its end)" if partial else "") + ":",
              *[str(p) for p in outputs], sep="\n  ")
        return next((str(p.resolve()) for p in outputs if p.name == "report.html"), None)
    except ReportError as e:
        print(f"no tables: {e}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main())
