"""Where a study stands, drawn: its MLflow trial runs against its plan.

    python ablations/run.py --study NAME [--preset P] --status

Works for grid and Optuna studies, while the study runs or after: it only reads MLflow.
"""
from __future__ import annotations

import statistics
import time

from ablations.plan import Plan
from reports.contract import DATASET_TAG, POINTS, SCALE_TAG, SEED_TAG, STOPPED_EARLY_TAG, VARIANT_TAG

STATES = ("FINISHED", "RUNNING", "FAILED", "KILLED")


def status(plan: Plan, kids: list, running: str | None = None) -> str:
    """Counts by state against the plan (early stops among the finished), best so far, and an ETA from finished
    trials' times at the concurrency the study has run at; `kids`: the study's trial runs (StudyRuns.trial_runs);
    `running`: the start that runs the study now, if any (ablations/lease.py)."""
    counts = {s: sum(k.info.status == s for k in kids) for s in STATES}
    stopped = [k for k in kids if k.info.status == "FINISHED" and STOPPED_EARLY_TAG in k.data.tags]
    pending = max(0, plan.size - counts["FINISHED"] - counts["RUNNING"])
    lines = [f"study      {plan.study.name} ({plan.preset.name}): {plan.size} planned | " +
             " | ".join(f"{counts[s]} {s.lower()}" + (f" ({len(stopped)} stopped early)" if s == "FINISHED" and
                                                       stopped else "") for s in STATES) + f" | {pending} pending"]
    lines.append(f"started    {running}" if running else "started    no start of the study runs now")
    done = [k for k in kids if k.info.status == "FINISHED" and "dev_f1" in k.data.metrics]
    if done:
        best = max(done, key=lambda k: score(k, "dev_f1"))
        lines.append(f"best       dev F1 {100 * score(best, 'dev_f1'):.2f} (test F1 "
                     f"{100 * score(best, 'test_f1'):.2f}): {_where(best)} (run {best.info.run_id})")
        took = [(k.info.end_time - k.info.start_time) / 1000 for k in done if k.info.end_time]
        at_once = max(1, counts["RUNNING"], most_at_once(kids))
        left = pending + counts["RUNNING"] / 2  # a running trial is on average half done
        lines.append(f"eta        about {left * statistics.median(took) / at_once / 60:.0f} min "
                     f"({statistics.median(took) / 60:.1f} min per trial, {at_once} at a time)")
    for k in kids:
        if k.info.status == "RUNNING":
            minutes = (time.time() * 1000 - k.info.start_time) / 60000
            lines.append(f"running    {_where(k)}: {minutes:.1f} min")
    for k in stopped:
        lines.append(f"stopped    {_where(k)}: early, after {k.data.tags[STOPPED_EARLY_TAG]} "
                     f"(best dev F1 {100 * score(k, 'dev_f1'):.2f})")
    return "\n".join(lines)


def score(run, key: str) -> float:
    """A score of the run in [0, 1], whichever scale it was logged in (reports.contract.SCALE_TAG)."""
    value = run.data.metrics.get(key, float("nan"))
    return value / 100 if run.data.tags.get(SCALE_TAG) == POINTS else value


def most_at_once(kids: list) -> int:
    """The most trial runs that were running at the same moment: what the study's concurrency has been (the runs
    running now may be fewer, between two trials, or at the end)."""
    now = time.time() * 1000
    started = [k for k in kids if k.info.start_time is not None]
    events = sorted([(k.info.start_time, 1) for k in started] +
                    [(k.info.end_time or now, -1) for k in started])  # at one moment, ends sort before starts
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def _where(run) -> str:
    tags = run.data.tags
    return f"{tags.get(VARIANT_TAG)} | {tags.get(DATASET_TAG)} | seed {tags.get(SEED_TAG)}"
