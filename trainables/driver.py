"""The per-trial driver that Ray Tune runs: resolve the trial's config, run it as a TorchTrainer, forward reports.

Under Ray Train V2 a Tune trial is a function that builds a TorchTrainer and calls `fit()`; the worker's reports
reach Tune through `TuneReportCallback`. The inner Train run is named after the trial's config hash, under the
study's storage path, so a restarted trial (or a resumed study) picks up its own run and checkpoint.

Tune config layout (built by the runner):
    {"trial": {"base": <resolved Config as dict>, "params": {<dotted key>: <sampled value>, ...}, "meta": {...}}}
meta: storage (path or URI), workers, cpus_per_worker, gpus_per_worker, max_failures, backend (auto|gloo|nccl).
"""
from __future__ import annotations

from shapca.config import Config

DRIVER_CPU = 0.01  # Tune refuses a trial of zero resources; the trial's real work runs in the Train workers


def payload(tune_config: dict) -> dict:
    """The runner nests each trial's settings under "trial" (a grid point or a sampled space)."""
    return tune_config.get("trial", tune_config)


def resolve(tune_config: dict) -> Config:
    tune_config = payload(tune_config)
    cfg = Config.from_dict(tune_config["base"], where="trial base config")
    if tune_config.get("params"):
        cfg.update(dict(tune_config["params"]), where="sampled parameters")
    return cfg


def train_run_name(cfg: Config, meta: dict) -> str:
    return f"{meta.get('study', 'study')}-{meta.get('preset', 'full')}-{cfg.hash()}"


def run_trial(tune_config: dict) -> None:
    """Tune trial function. Raises when the Train run fails for good, so Tune records the trial as errored."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    from trainables.worker import train_loop

    meta = payload(tune_config)["meta"]
    cfg = resolve(tune_config)
    gpus = float(meta.get("gpus_per_worker", 0))
    backend = meta.get("backend", "auto")
    if backend == "auto":
        backend = "nccl" if gpus > 0 else "gloo"
    cpus = float(meta.get("cpus_per_worker", 1))
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={"config": cfg.to_dict(), "cpus_per_worker": cpus},
        torch_config=TorchConfig(backend=backend),
        scaling_config=ScalingConfig(num_workers=int(meta.get("workers", 1)), use_gpu=gpus > 0,
                                     resources_per_worker={"CPU": cpus, **({"GPU": gpus} if gpus else {})}),
        run_config=RunConfig(
            name=train_run_name(cfg, meta), storage_path=meta["storage"],
            failure_config=FailureConfig(max_failures=int(meta.get("max_failures", 1))),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            callbacks=[TuneReportCallback()],
        ),
    )
    result = trainer.fit()
    if result.error:
        raise result.error
