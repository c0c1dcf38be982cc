"""Where a study stands (its MLflow runs against its plan), and what is left of it, priced.

    python ablations/run.py --study NAME [--preset P] --status
    python ablations/run.py --study NAME [--preset P] --dry-run [--probe]

Both work for grid and Optuna studies, while the study runs or after: they only read MLflow.
"""
from __future__ import annotations

import statistics
import time

from ablations import estimate
from ablations.plan import plan, resolve_sampled

STATES = ("FINISHED", "RUNNING", "FAILED", "KILLED")


def planned(study) -> list:
    """Every planned trial as (label, config, trial hash or None): grid rows x seeds, or for a search its sample
    budget per (dataset, seed), whose sampled values are not known in advance (labelled by the search)."""
    if study.is_grid:
        return [(s.variant, s.config, s.trial_hash) for s in plan(study)]
    out = []
    for d in study.datasets:
        for seed in study.seeds:
            base = resolve_sampled(study, study.preset, d, seed, {}).config
            out += [(f"{d} seed {seed}", base, None)] * int(study.search["num_samples"])
    return out


def trials_left(study, runs, trials: list | None = None) -> list:
    """The planned trials (`trials`, else planned(study)) with no FINISHED run yet."""
    trials = trials if trials is not None else planned(study)
    if study.is_grid:
        done = runs.done_hashes() if runs else set()
        return [t for t in trials if t[2] not in done]
    left = []
    for d in study.datasets:
        for seed in study.seeds:
            mine = [t for t in trials if t[0] == f"{d} seed {seed}"]
            left += mine[runs.finished_count(d, seed) if runs else 0:]
    return left


def concurrency(payload, resources: dict) -> int:
    """How many trials fit `resources` at once ({"CPU": n, "GPU": m}), counting all a trial reserves."""
    fits = [int(resources.get(kind, 0) // amount) for kind, amount in payload.reserved().items() if amount > 0]
    return max(1, min(fits))


def price(study, runs, payload, resources: dict, measure: bool, trials: list | None = None) -> str:
    """The dry run's estimate line: from finished runs where there are any, else from a probe when `measure`."""
    left = trials_left(study, runs, trials)
    if not left:
        return "estimate   nothing left to run"
    history = estimate.from_history(estimate.finished_durations(runs), [t[0] for t in left]) if runs else None
    if history is None and not measure:
        return ("estimate   none yet: no finished trials of this study and preset in MLflow; add --probe to time "
                "one config here (a minute or so)")
    if history is None:
        try:
            cfg = left[0][1].copy()
            cfg.train.num_threads = cfg.train.num_threads or int(max(1, payload.cpus_per_worker))  # as a trial has
            history = estimate.from_probe(estimate.probe(cfg), [t[1] for t in left])
        except Exception as e:  # the probe runs the real code: a model that cannot load here says so
            return f"estimate   none: the probe failed: {type(e).__name__}: {e}"
    per, basis = history
    overhead = (estimate.measured_overhead(runs) if runs else None) or (estimate.process_start() if measure else None)
    return estimate.Estimate(per, basis, concurrency(payload, resources), payload.cpus_per_worker * payload.workers,
                             payload.gpus_per_worker * payload.workers, *(overhead or ())).describe()


def describe(study, runs) -> str:
    """The status view: counts by state against the plan, best so far, and an ETA from finished trials' times."""
    kids = runs._search("tags.`shapca.role` = 'trial'") if runs else []
    counts = {s: sum(k.info.status == s for k in kids) for s in STATES}
    total = len(planned(study))
    pending = max(0, total - counts["FINISHED"] - counts["RUNNING"])
    lines = [f"study      {study.name} ({study.preset}): {total} planned | " +
             " | ".join(f"{counts[s]} {s.lower()}" for s in STATES) + f" | {pending} pending"]
    done = [k for k in kids if k.info.status == "FINISHED" and "dev_f1" in k.data.metrics]
    if done:
        best = max(done, key=lambda k: k.data.metrics["dev_f1"])
        lines.append(f"best       dev F1 {100 * best.data.metrics['dev_f1']:.2f} (test F1 "
                     f"{100 * best.data.metrics.get('test_f1', float('nan')):.2f}): "
                     f"{best.data.tags.get('variant')} | {best.data.tags.get('dataset')} | seed "
                     f"{best.data.tags.get('seed')} (run {best.info.run_id})")
        took = [(k.info.end_time - k.info.start_time) / 1000 for k in done if k.info.end_time]
        at_once = max(1, counts["RUNNING"])
        left = pending + counts["RUNNING"] / 2  # a running trial is on average half done
        lines.append(f"eta        about {left * statistics.median(took) / at_once / 60:.0f} min "
                     f"({statistics.median(took) / 60:.1f} min per trial, {at_once} at a time)")
    running = [k for k in kids if k.info.status == "RUNNING"]
    for k in running:
        minutes = (time.time() * 1000 - k.info.start_time) / 60000
        lines.append(f"running    {k.data.tags.get('variant')} | {k.data.tags.get('dataset')} | seed "
                     f"{k.data.tags.get('seed')}: {minutes:.1f} min")
    return "\n".join(lines)
