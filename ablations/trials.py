"""A study's trials on Ray Tune: one Tuner run per grid, one per (dataset, seed) of an Optuna search.

Each trial is a TrialPayload (trainables/payload.py) run by trainables/driver.py; every trial is logged to MLflow
by ablations/callbacks.py through the study's Outbox; Outcome counts what the runs came to.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from ablations.plan import plan, resolve_sampled, search_space
from ablations.status import concurrency
from trainables.heap import trial_process_env
from trainables.payload import KEY as PAYLOAD_KEY
from trainables.payload import TrialPayload


def connect_ray(address: str | None):
    import ray

    if ray.is_initialized():
        return
    # the study's trial processes keep the heap they free for the next trial (trainables/heap.py says why)
    runtime_env = {"env_vars": trial_process_env()}
    if address:
        ray.init(address=address, logging_level="warning", runtime_env=runtime_env)
    else:
        # The dashboard (State API) must be on: Train inside Tune relies on it to free an early-stopped trial's
        # workers. address="local" never joins a stray cluster.
        ray.init(address="local", include_dashboard=True, dashboard_host="127.0.0.1", logging_level="warning",
                 log_to_driver=False, runtime_env=runtime_env)


def fitting_trials(payload: TrialPayload) -> int:
    """How many trials fit the connected cluster at once (Tune would otherwise start more trials than fit and
    leave them waiting)."""
    import ray

    return concurrency(payload, ray.cluster_resources())


def machine_resources(address: str | None) -> dict:
    """What the study would run on: the cluster at `address`, else this machine."""
    if address:
        import ray

        connect_ray(address)
        return ray.cluster_resources()
    import torch

    return {"CPU": os.cpu_count() or 1, "GPU": torch.cuda.device_count()}


def payload_for(study, cfg, variant: str | None, components, args, storage: str) -> TrialPayload:
    r = study.resources
    return TrialPayload(config=cfg.to_dict(), study=study.name, preset=study.preset, storage=storage,
                        variant=variant, components=components, workers=int(r.get("workers", 1)),
                        cpus_per_worker=float(r.get("cpus_per_worker", 1)),
                        gpus_per_worker=float(r.get("gpus_per_worker", 0)), max_failures=args.max_failures,
                        backend=args.backend)


def first_payload(study, trials: list, args, storage: str) -> TrialPayload:
    """The resources of the study's trials (the same for all), with its first planned config (`trials`: as
    ablations.status.planned lists them)."""
    return payload_for(study, trials[0][1], None, None, args, storage)


class Outcome:
    """What a study's Tuner runs came to, summed over its searches."""

    def __init__(self):
        self.planned = self.finished = self.failed = self.killed = 0
        self.trial_seconds = 0.0  # summed wall time of the trials run
        self.concurrency = 1  # the most trials run at once by any of its searches

    def add(self, planned: int, trials) -> None:  # trials: ablations.callbacks.MLflowTrials
        self.planned += planned
        self.finished += trials.finished
        self.failed += trials.failed
        self.killed += trials.close_unfinished()
        self.trial_seconds += trials.trial_seconds

    @property
    def unfinished(self) -> int:
        return self.planned - self.finished - self.failed

    @property
    def interrupted(self) -> bool:
        return self.unfinished > 0

    def overhead_s(self, wall_s: float) -> float | None:
        """What the study cost beyond its trials run `concurrency` at a time (Ray's start, the first trial
        process, the tables); None when no trial ran."""
        return max(0.0, wall_s - self.trial_seconds / self.concurrency) if self.trial_seconds else None

    def summary(self) -> str:
        return (f"{self.finished} finished, {self.failed} failed, {self.unfinished} unfinished "
                f"({self.killed} stopped while running) of {self.planned}")


def run_tuner(param_space: dict, payload: TrialPayload, study, args, name: str, outbox, total: int,
              epochs: int, outcome: Outcome, search_alg=None, num_samples: int = 1) -> None:
    from ray import tune

    from ablations.callbacks import MLflowTrials, Progress, Waiting
    from ablations.search import make_scheduler
    from trainables.driver import run_trial

    metric = f"best_{study.metric}"
    at_once = args.max_concurrent or fitting_trials(payload)
    outcome.concurrency = max(outcome.concurrency, min(at_once, total))
    trials = MLflowTrials(outbox, images="none", search=search_alg)
    # Ray's own tables and TensorBoard hint stay out of the study's output unless asked: the progress lines say it
    os.environ["RAY_AIR_NEW_OUTPUT"] = "1" if args.ray_output else "0"
    tuner = tune.Tuner(
        tune.with_resources(run_trial, payload.resources()), param_space=param_space,
        tune_config=tune.TuneConfig(metric=metric, mode=study.mode, search_alg=search_alg,
                                    scheduler=make_scheduler(study.scheduler, epochs), num_samples=num_samples,
                                    max_concurrent_trials=at_once,
                                    # in-process trials keep their process (imports, data, weights) for the next
                                    reuse_actors=payload.in_process),
        run_config=tune.RunConfig(
            name=name, storage_path=payload.storage, callbacks=[trials, Progress(total, metric), Waiting()],
            verbose=1 if args.ray_output else 0,
            # in process, Tune restarts a failed trial (from its checkpoint); data parallel, Ray Train does
            failure_config=tune.FailureConfig(max_failures=payload.max_failures if payload.in_process else 0)),
    )
    try:
        tuner.fit()
    finally:
        outcome.add(total, trials)


def run_grid(study, args, storage: str, outbox, outcome: Outcome) -> None:
    from ray import tune

    specs = plan(study, study.preset)
    done = outbox.runs.done_hashes()
    todo = []
    for s in specs:
        if s.trial_hash not in done:
            todo.append(payload_for(study, s.config, s.variant, s.components, args, storage))
    print(f"{len(specs)} planned, {len(specs) - len(todo)} already finished, {len(todo)} to run", flush=True)
    if not todo:
        return
    space = {PAYLOAD_KEY: tune.grid_search([t.to_tune()[PAYLOAD_KEY] for t in todo])}
    run_tuner(space, todo[0], study, args, "grid-" + time.strftime("%Y%m%d-%H%M%S"), outbox, total=len(todo),
              epochs=max(t.config["train"]["epochs"] for t in todo), outcome=outcome)


def run_optuna(study, args, storage: str, outbox, study_dir: Path, outcome: Outcome) -> None:
    from ablations.search import make_optuna, requeue_interrupted

    n = int(study.search["num_samples"])
    for dataset in study.datasets:
        for seed in study.seeds:
            base = resolve_sampled(study, study.preset, dataset, seed, {}).config
            have = outbox.runs.finished_count(dataset, seed)
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
                      f"{name}-{time.strftime('%Y%m%d-%H%M%S')}", outbox, total=left, epochs=base.train.epochs,
                      outcome=outcome, search_alg=search, num_samples=left)
            if outcome.interrupted:
                return
