"""A plan launched on Ray Tune: one Tuner run per unit of the plan (ablations/plan.py), what is left of it.

A grid unit's trials go to Tune as a grid search over their payloads; a search unit's payload goes with its space to
Optuna, which samples its budget. That choice of searcher is the one place the launch tells them apart. Each trial
is run by trainables/driver.py and logged to MLflow by ablations/callbacks.py through the study's Outbox; Outcome
counts what the runs came to.
"""
from __future__ import annotations

import os
import shutil
import time
import traceback
from collections import Counter

from ablations.plan import GridUnit, Plan, SearchUnit
from ablations.preflight import space_note
from reports.failure import error_summary
from trainables.payload import KEY as PAYLOAD_KEY
from trainables.payload import TrialPayload


def fitting_trials(payload: TrialPayload) -> int:
    """How many trials fit the connected cluster at once (Tune would otherwise start more trials than fit and
    leave them waiting)."""
    import ray

    return payload.fitting(ray.cluster_resources())


class Outcome:
    """What a study's Tuner runs came to, summed over its searches."""

    def __init__(self):
        self.planned = self.finished = self.failed = self.killed = 0
        self.failures: list[tuple[str, str]] = []  # (trial, the first line of its error)
        self.stopped_early = 0  # finished early: stopped by the study's scheduler (counted in finished too)
        self.trial_seconds = 0.0  # summed wall time of the trials run
        self.concurrency = 1  # the most trials run at once by any of its searches
        self.stopped = False  # by the user: Ctrl-C or SIGTERM
        self.error: str | None = None  # why the study stopped before its end, when not by the user
        self.notes: list[str] = []  # what went wrong beside the trials without stopping them

    def add(self, planned: int, trials) -> None:  # trials: ablations.callbacks.MLflowTrials
        self.planned += planned
        self.finished += trials.finished
        self.stopped_early += trials.stopped
        self.failed += trials.failed
        self.failures += trials.failures
        self.killed += trials.close_unfinished()
        self.trial_seconds += trials.trial_seconds

    def tune_failed(self, message: str) -> None:
        """Tune itself raised: the study stopped there, unless every trial had ended (then Tune failed only on its
        own records, and the trials' runs hold every result)."""
        if self.unfinished:
            self.error = self.error or message
        else:
            self.notes.append(f"Tune failed after the last trial ended ({message}); every result is in MLflow")

    @property
    def unfinished(self) -> int:
        return self.planned - self.finished - self.failed

    @property
    def interrupted(self) -> bool:
        return self.stopped or (self.unfinished > 0 and self.error is None)

    @property
    def ended(self) -> bool:
        """The study ran to its end: every trial it started finished or failed."""
        return not self.interrupted and self.error is None

    def overhead_s(self, wall_s: float) -> float | None:
        """What the study cost beyond its trials run `concurrency` at a time (Ray's start, the first trial
        process, the tables); None when no trial ran."""
        return max(0.0, wall_s - self.trial_seconds / self.concurrency) if self.trial_seconds else None

    def summary(self) -> str:
        early = f" ({self.stopped_early} stopped early by the scheduler)" if self.stopped_early else ""
        return (f"{self.finished} finished{early}, {self.failed} failed, {self.unfinished} unfinished "
                f"({self.killed} stopped while running) of {self.planned}")

    def failure_lines(self, most: int = 5) -> list[str]:
        """The failures grouped by their first line, most frequent first, with the trials they hit."""
        by_cause = Counter(cause for _, cause in self.failures)
        lines = []
        for cause, n in by_cause.most_common(most):
            names = [name for name, c in self.failures if c == cause]
            shown = ", ".join(names[:3]) + (f" and {n - 3} more" if n > 3 else "")
            lines.append(f"  {n} failed ({shown}): {cause}")
        if len(by_cause) > most:
            lines.append(f"  ... and {len(by_cause) - most} other causes (each trial's MLflow run has its error tag)")
        return lines


def launch(plan: Plan, options, outbox, outcome: Outcome) -> None:
    """Runs what is left of each unit of the plan, one Tuner run after another, until one is interrupted."""
    for unit in plan.units:
        todo = unit.todo(outbox.runs)
        searcher = SEARCHERS[type(unit)](plan, unit, todo, options)
        if searcher:
            _tune(plan, unit, todo, options, outbox, outcome, *searcher)
        if not outcome.ended:
            return


def _grid(plan: Plan, unit: GridUnit, todo: list, options) -> tuple | None:
    """Tune's grid search over the payloads of the trials left."""
    from ray import tune

    print(f"{unit.size} planned, {unit.size - len(todo)} already finished, {len(todo)} to run", flush=True)
    if not todo:
        return None
    payloads = [plan.payload(t, options) for t in todo]
    return payloads[0], {PAYLOAD_KEY: tune.grid_search([p.to_tune()[PAYLOAD_KEY] for p in payloads])}, None, 1


def _optuna(plan: Plan, unit: SearchUnit, todo: list, options) -> tuple | None:
    """Optuna's sampler over the space, on top of the base's payload, for as many trials as are left."""
    from ablations.search import journal_study, make_optuna, requeue_interrupted

    base = unit.base
    print(f"{base.dataset} seed {base.seed}: {unit.size - len(todo)}/{unit.size} trials finished, {len(todo)} to run",
          flush=True)
    if not todo:
        return None
    journal = str(plan.folder(options) / f"{unit.name}.journal")
    # the Optuna study says what it is in optuna-dashboard; a journal begun under its old name goes on under it
    name = journal_study(journal, f"{plan.study.name}-{plan.preset.name}-{base.dataset}-seed{base.seed}", unit.name)
    if options.resume and (k := requeue_interrupted(journal, name)):
        print(f"{name}: {k} interrupted trial(s) queued again", flush=True)
    search = make_optuna(plan.study.search, f"best_{plan.study.metric}", plan.study.mode, journal, name)
    payload = plan.payload(base, options)
    return payload, payload.to_tune(tune_space(unit.space)), search, len(todo)


# the searcher each kind of unit is run with: it says what is left of the unit, and gives Tune a trial's payload, the
# param_space, the search_alg and num_samples (None: nothing is left)
SEARCHERS = {GridUnit: _grid, SearchUnit: _optuna}


def tune_space(space: dict) -> dict:
    """A search's space as Ray Tune distributions, keyed by dotted config key.

    `int` and `logint` bounds are inclusive in the study file; Tune's randint/lograndint exclude the upper bound,
    hence hi + 1."""
    from ray import tune

    make = {"choice": lambda v: tune.choice(list(v)), "uniform": lambda v: tune.uniform(*v),
            "loguniform": lambda v: tune.loguniform(*v), "int": lambda v: tune.randint(v[0], v[1] + 1),
            "logint": lambda v: tune.lograndint(v[0], v[1] + 1)}
    return {key: make[d.kind](d.values) for key, d in space.items()}


def _tune(plan: Plan, unit, todo: list, options, outbox, outcome: Outcome, payload: TrialPayload, param_space: dict,
          search_alg, num_samples: int) -> None:
    from ray import tune

    from ablations.callbacks import MLflowTrials, Waiting
    from ablations.progress_line import Progress
    from ablations.search import make_scheduler
    from trainables.driver import run_trial

    metric, total = f"best_{plan.study.metric}", len(todo)
    at_once = options.max_concurrent or fitting_trials(payload)
    outcome.concurrency = max(outcome.concurrency, min(at_once, total))
    # Ray's own tables and TensorBoard hint stay out of the study's output unless asked: the progress lines say it
    os.environ["RAY_AIR_NEW_OUTPUT"] = "1" if options.ray_output else "0"
    scheduler = make_scheduler(plan.study.scheduler, max(t.config.train.epochs for t in todo))
    trials = MLflowTrials(outbox, search=search_alg, scheduler=scheduler)  # the scheduler says why it stopped one
    progress = Progress(total, metric, sum(t.config.train.epochs for t in todo), scheduler)
    name = f"{unit.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    failed = None
    try:
        tuner = tune.Tuner(
            tune.with_resources(run_trial, payload.resources()), param_space=param_space,
            tune_config=tune.TuneConfig(metric=metric, mode=plan.study.mode, search_alg=search_alg,
                                        scheduler=scheduler, num_samples=num_samples, max_concurrent_trials=at_once,
                                        # in-process trials keep their process (imports, data, weights) for the next
                                        reuse_actors=payload.in_process),
            run_config=tune.RunConfig(
                name=name, storage_path=payload.storage,
                callbacks=[trials, progress, Waiting()], verbose=1 if options.ray_output else 0,
                # in process, Tune restarts a failed trial (from its checkpoint); data parallel, Ray Train does
                failure_config=tune.FailureConfig(max_failures=payload.max_failures if payload.in_process else 0)),
        )
        tuner.fit()
    except Exception:  # noqa: BLE001 - Tune's own writes and reads (a full disk, a file it wrote half): said below
        failed = error_summary(traceback.format_exc(), 300)
    finally:
        outcome.add(total, trials)
    full = [cause for cause in [failed, *(c for _, c in trials.failures)] if cause and _no_space(cause)]
    if full and "://" not in payload.storage:
        # Tune's records of this run (its state, each trial's error file) were written on a full disk, some of them
        # in part; the study never reads them back (trials resume from their own checkpoints, results are in MLflow)
        shutil.rmtree(f"{payload.storage}/{name}", ignore_errors=True)
        outcome.notes.append(f"the disk is full ({space_note(payload.storage)}); Tune's records of this run, "
                             f"written there in part, were removed ({payload.storage}/{name})")
    if failed:
        outcome.tune_failed(failed + (f" ({space_note(payload.storage)})" if _no_space(failed) else ""))


def _no_space(text: str) -> bool:
    return "no space left" in text.lower() or "errno 28" in text.lower()
