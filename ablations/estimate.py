"""What a study will cost before it runs: wall time and CPU/GPU-hours, from measured times, saying what they rest on.

`price` is the dry run's estimate line (and the warning before a bare `full` run on a machine without a GPU).

Two sources of measurement, best first:
- finished runs of the same study and preset in MLflow: each planned trial is priced at the median wall time of
  the finished trials of its row (the same label, another seed), or of all finished trials where its row has none;
- a probe (on request, or for a bare `full` run on a machine without a GPU): one trial's config timed here for a few
  training steps and evaluation batches, then scaled by the trial's steps, evaluation size and epochs, plus the
  measured set-up (data and model loading).
Wall time assumes the trials run `concurrency` at a time, each as long as its estimate, plus the study's overhead
(Ray's start, the first trial process, the tables): measured by earlier runs of the study (each run logs it on its
parent run), else by any study's runs in the store, else, with a probe, the start of one trial process here.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from reports.contract import OVERHEAD_METRIC, VARIANT_TAG


def price(plan, runs, options, resources: dict, measure: bool) -> str:
    """What is left of `plan` (ablations/plan.py) priced: from the finished runs of its study in `runs` (a StudyRuns,
    or None) where there are any, else from a probe here when `measure`; run `resources` ({"CPU": n, "GPU": m}) at
    a time, as a trial's payload reserves them."""
    payload = plan.payload(plan.planned[0], options)
    left = plan.todo(runs)
    if not left:
        return "estimate   nothing left to run"
    history = from_history(finished_durations(runs), [t.label for t in left]) if runs else None
    if history is None and not measure:
        return ("estimate   none yet: no finished trials of this study and preset in MLflow; add --probe to time "
                "one config here (a minute or so)")
    if history is None:
        try:
            cfg = left[0].config.copy()
            cfg.train.num_threads = cfg.train.num_threads or int(max(1, payload.cpus_per_worker))  # as a trial has
            history = from_probe(probe(cfg), [t.config for t in left])
        except Exception as e:  # the probe runs the real code: a model that cannot load here says so
            return f"estimate   none: the probe failed: {type(e).__name__}: {e}"
    per, basis = history
    overhead = (measured_overhead(runs) if runs else None) or (process_start() if measure else None)
    return Estimate(per, basis, payload.fitting(resources), payload.cpus_per_worker * payload.workers,
                    payload.gpus_per_worker * payload.workers, *(overhead or ())).describe()


@dataclass
class Estimate:
    per_trial_s: list[float]  # one per planned trial still to run
    basis: str  # what the figures rest on, in words
    concurrency: int
    cpus_per_trial: float
    gpus_per_trial: float
    overhead_s: float = 0.0
    overhead_basis: str = "not measured yet"

    @property
    def wall_s(self) -> float:
        return sum(self.per_trial_s) / max(1, self.concurrency) + self.overhead_s

    def describe(self) -> str:
        total_h = sum(self.per_trial_s) / 3600
        gpu = f", {total_h * self.gpus_per_trial:.1f} GPU-hours" if self.gpus_per_trial else ""
        return (f"estimate   {len(self.per_trial_s)} trial(s) to run: about {_duration(self.wall_s)} wall at "
                f"{self.concurrency} at a time, {total_h * self.cpus_per_trial:.1f} CPU-hours{gpu}; rests on "
                f"{self.basis}; study overhead {_duration(self.overhead_s)}: {self.overhead_basis}")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def from_history(durations: dict[str, list[float]], labels: list[str]) -> tuple[list[float], str] | None:
    """Per planned trial (by row label): the median finished duration of its row, else of all finished trials.
    `durations` maps a row label to the wall times (s) of its finished trials. None when nothing finished."""
    every = [d for ds in durations.values() for d in ds]
    if not every:
        return None
    overall = statistics.median(every)
    own = sum(1 for label in labels if durations.get(label))
    per = [statistics.median(durations[label]) if durations.get(label) else overall for label in labels]
    return per, (f"{len(every)} finished trial(s) of this study and preset in MLflow ({own} of {len(labels)} "
                 f"planned trials priced by their own row, the rest by the median of all)")


def finished_durations(runs) -> dict[str, list[float]]:
    """Row label -> wall times (s) of the finished trials of a StudyRuns' study and preset."""
    out: dict[str, list[float]] = {}
    for r in runs.trial_runs("FINISHED"):
        if r.info.end_time and r.info.start_time:
            out.setdefault(r.data.tags.get(VARIANT_TAG, ""), []).append((r.info.end_time - r.info.start_time) / 1000)
    return out


def measured_overhead(runs) -> tuple[float, str] | None:
    """The median overhead logged by earlier runs of this study and preset, else by any study's runs in the store."""
    for every_study, whose in ((False, "this study and preset"), (True, "studies in this store")):
        values = runs.parent_metric(OVERHEAD_METRIC, every_study)
        if values:
            return statistics.median(values), f"measured by {len(values)} earlier run(s) of {whose}"
    return None


def process_start() -> tuple[float, str]:
    """One trial process's start, timed here: the imports a fresh trial pays before its first step."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import ray.tune, shapca.trainer, trainables.in_process"], check=True,
                   capture_output=True)
    seconds = time.perf_counter() - t0
    return seconds, "one trial process's start timed here (Ray's own start and the tables not included)"


def probe(cfg, steps: int = 3) -> dict:
    """Times one config here: set-up, a training step and an evaluation batch (after one warm-up of each)."""
    from shapca.features import collate
    from shapca.trainer import Trainer

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the dry run's output is the plan, not weight-loading bars
    t0 = time.perf_counter()
    small = cfg.copy().update({"data.limit_train": 0, "data.limit_eval": 0})
    tr = Trainer(small, log=lambda *a, **k: None)
    setup = time.perf_counter() - t0
    enc, exs, pad = tr.prep.encoded["train"], tr.prep.examples["train"], tr.prep.tokenizer.pad_token_id
    bs, ebs = cfg.train.batch_size, cfg.train.eval_batch_size
    train_times, eval_times = [], []
    for s in range(steps + 1):
        idx = list(range(s * bs, (s + 1) * bs))
        batch = {k: v.to(tr.device) for k, v in collate([enc[i] for i in idx], pad).items()}
        t = time.perf_counter()
        tr.train_step(batch, [exs[i] for i in idx], s)
        if s:
            train_times.append(time.perf_counter() - t)
    dev = tr.prep.encoded["dev"]
    for s in range(2):  # the first evaluation batch warms up
        t = time.perf_counter()
        _eval_slice(tr, dev, s, ebs)
        if s:
            eval_times.append(time.perf_counter() - t)
    return {"setup_s": setup, "train_step_s": statistics.median(train_times),
            "eval_example_s": statistics.median(eval_times) / ebs,
            "sizes": {split: len(tr.prep.encoded[split]) for split in ("train", "dev", "test")}}


def _eval_slice(tr, enc, s: int, ebs: int) -> None:
    import torch

    from shapca.features import collate

    batch = collate(enc[s * ebs: (s + 1) * ebs], tr.prep.tokenizer.pad_token_id)
    with torch.no_grad():
        tr.model.eval()
        tr.model({k: v.to(tr.device) for k, v in batch.items()})


def from_probe(measured: dict, configs: list) -> tuple[list[float], str]:
    """Per planned trial: set-up + epochs x (its training steps x the step time + its evaluation examples x the
    time per example), with each trial's own data limits and epochs."""
    sizes, per = measured["sizes"], []
    for cfg in configs:
        n_train = min(cfg.data.limit_train or sizes["train"], sizes["train"])
        n_eval = sum(min(cfg.data.limit_eval or sizes[s], sizes[s]) for s in ("dev", "test"))
        steps = -(-n_train // cfg.train.batch_size)
        epoch = steps * measured["train_step_s"] + n_eval * measured["eval_example_s"]
        per.append(measured["setup_s"] + cfg.train.epochs * epoch)
    return per, (f"a probe here: {measured['train_step_s'] * 1000:.0f} ms per training step, "
                 f"{measured['eval_example_s'] * 1000:.1f} ms per evaluated example, {measured['setup_s']:.0f} s "
                 f"set-up (the first planned config; other rows may differ in speed)")
