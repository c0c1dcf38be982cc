"""What a trial is told: one typed payload, written by the runner into the Tune config and read back here only.

Tune config layout: {"payload": <TrialPayload as a dict>, <dotted config key>: <sampled value>, ...}. The sampled
values sit at the top level so that Optuna names its parameters plainly (`train.lr`, not `trial/params/train.lr`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from shapca.config import Config

KEY = "payload"


@dataclass(frozen=True)
class TrialPayload:
    config: dict  # the resolved Config (before sampled values) as a dict
    study: str
    preset: str
    storage: str  # where checkpoints go: a local folder or a storage URI (s3://, gs://)
    variant: str | None = None  # a grid row's planned label; None for a sampled trial
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
        small to matter (Tune refuses zero) while the Train workers hold the real resources."""
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


DRIVER_CPU = 0.01


def read(tune_config: dict) -> tuple[TrialPayload, dict]:
    """The payload and the sampled values of a Tune config."""
    p = tune_config[KEY]
    return TrialPayload(**p), {k: v for k, v in tune_config.items() if k != KEY}


def resolve(tune_config: dict) -> Config:
    """The trial's full config: the payload's resolved config with the sampled values applied."""
    payload, sampled = read(tune_config)
    cfg = Config.from_dict(payload.config, where="trial base config")
    if sampled:
        cfg.update(sampled, where="sampled parameters")
    return cfg

