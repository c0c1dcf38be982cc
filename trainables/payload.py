"""What a trial is told: one typed payload, written by the runner into the Tune config and read back here only.

Tune config layout: {"payload": <TrialPayload as a dict>, <dotted config key>: <sampled value>, ...}. The sampled
values sit at the top level so that Optuna names its parameters plainly (`train.lr`, not `trial/params/train.lr`).

A trial's identity travels on its payload: the planner (ablations/plan.py) puts each planned trial's label and hashes
there; a trial sampled on top of a payload gets its own from `trial_of`. Both come from `identity`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from shapca.config import Config, format_assignments

KEY = "payload"
SEED_KEY = "train.seed"
DRIVER_CPU = 0.01  # what a data-parallel trial's driver reserves: Tune refuses zero, its workers hold the rest


def identity(cfg: Config) -> tuple[str, str]:
    """(trial_hash, config_hash): the hash of the whole resolved config, the trial's identity, and of it without the
    seed, which names one table cell across seeds. The one place where either is computed."""
    return cfg.hash(), cfg.hash(exclude=(SEED_KEY,))


@dataclass(frozen=True)
class TrialPayload:
    config: dict  # the resolved Config as a dict (a search's: before the sampled values)
    study: str
    preset: str
    storage: str  # where checkpoints go: a local folder or a storage URI (s3://, gs://)
    variant: str  # the row label of `config`
    trial_hash: str  # identity(config)
    config_hash: str
    components: dict | None = None  # an ablation row's components, for the reports
    workers: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    max_failures: int = 1  # restarts of a trial from its checkpoint
    backend: str = "auto"  # torch.distributed backend of data-parallel trials: auto | gloo | nccl

    def to_tune(self, sampled: dict | None = None) -> dict:
        return {KEY: dataclasses.asdict(self), **(sampled or {})}

    @property
    def in_process(self) -> bool:
        """One worker: the trial trains in its own Tune process; more: a Ray Train data-parallel run."""
        return self.workers <= 1

    def resources(self) -> dict:
        """What the trial reserves in Tune. In process: the worker's share itself. Data parallel: a driver too
        small to matter while the Train workers hold the real resources."""
        if self.in_process:
            return {"CPU": self.cpus_per_worker, **({"GPU": self.gpus_per_worker} if self.gpus_per_worker else {})}
        return {"CPU": DRIVER_CPU}

    def reserved(self) -> dict:
        """Everything one trial holds while it runs, for counting how many fit at once."""
        if self.in_process:
            return self.resources()
        out = {"CPU": DRIVER_CPU + self.workers * self.cpus_per_worker}
        if self.gpus_per_worker:
            out["GPU"] = self.workers * self.gpus_per_worker
        return out

    def fitting(self, resources: dict) -> int:
        """How many such trials fit `resources` at once ({"CPU": n, "GPU": m}), counting all a trial reserves."""
        fits = [int(resources.get(kind, 0) // amount) for kind, amount in self.reserved().items() if amount > 0]
        return max(1, min(fits))


@dataclass(frozen=True)
class Trial:
    """What one Tune trial runs: its payload, its whole config (sampled values applied), its label and identity."""
    payload: TrialPayload
    config: Config
    label: str
    trial_hash: str
    config_hash: str


def trial_of(tune_config: dict) -> Trial:
    """The trial a Tune config holds: the payload's own, as planned; with sampled values, the sampled trial, whose
    label ("key=value, ..." in the sweep's order, reals to 4 significant digits) and identity are made here."""
    payload = TrialPayload(**tune_config[KEY])
    sampled = {k: v for k, v in tune_config.items() if k != KEY}
    cfg = Config.from_dict(payload.config, where="trial base config")
    if not sampled:
        return Trial(payload, cfg, payload.variant, payload.trial_hash, payload.config_hash)
    cfg.update(sampled, where="sampled parameters")
    return Trial(payload, cfg, format_assignments(sampled, digits=4), *identity(cfg))
