"""The trial function that Ray Tune runs: one worker trains in the trial's own process, more as a Ray Train run.

A study's `resources.workers` chooses the path (TrialPayload.in_process):
- 1 worker (one GPU, or a few CPU threads, per trial): trainables/in_process.py, inside this Tune process, which
  the study reuses from trial to trial;
- more: a data-parallel TorchTrainer (Ray Train V2 under Tune: a function trial that builds and fits it; the
  workers' reports reach Tune through TuneReportCallback).
Either way the trial's checkpoint is named after its config hash, under the study's storage, so a restarted
trial (or a resumed study) picks up its own state.
"""
from __future__ import annotations

from shapca.config import Config
from trainables.payload import TrialPayload, read, resolve


def trial_name(cfg: Config, payload: TrialPayload) -> str:
    return f"{payload.study}-{payload.preset}-{cfg.hash()}"


def run_trial(tune_config: dict) -> None:
    """Tune trial function. Raises when training fails for good, so Tune records the trial as errored."""
    payload, _ = read(tune_config)
    cfg = resolve(tune_config)
    if payload.in_process:
        from trainables.in_process import train_in_process

        train_in_process(cfg, payload.storage, trial_name(cfg, payload), payload.cpus_per_worker)
    else:
        run_data_parallel(cfg, payload)


def run_data_parallel(cfg: Config, payload: TrialPayload) -> None:
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    from trainables.worker import train_loop

    gpus, cpus = payload.gpus_per_worker, payload.cpus_per_worker
    backend = payload.backend if payload.backend != "auto" else ("nccl" if gpus > 0 else "gloo")
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={"config": cfg.to_dict(), "cpus_per_worker": cpus},
        torch_config=TorchConfig(backend=backend),
        scaling_config=ScalingConfig(num_workers=payload.workers, use_gpu=gpus > 0,
                                     resources_per_worker={"CPU": cpus, **({"GPU": gpus} if gpus else {})}),
        run_config=RunConfig(
            name=trial_name(cfg, payload), storage_path=payload.storage,
            failure_config=FailureConfig(max_failures=payload.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            callbacks=[TuneReportCallback()],
        ),
    )
    result = trainer.fit()
    if result.error:
        raise result.error
