"""The trial function that Ray Tune runs: one worker trains in the trial's own process, more as a Ray Train run.

A study's `resources.workers` chooses the path (TrialPayload.in_process):
- 1 worker (one GPU, or a few CPU threads, per trial): trainables/in_process.py, inside this Tune process, which
  the study reuses from trial to trial;
- more: a data-parallel TorchTrainer (Ray Train V2 under Tune: a function trial that builds and fits it; the
  workers' reports reach Tune through TuneReportCallback).
Either way the trial's checkpoint is named after its identity (trainables/payload.py), under the study's storage, so
a restarted trial (or a resumed study) picks up its own state.
"""
from __future__ import annotations

from trainables.payload import Trial, trial_of


def trial_name(trial: Trial) -> str:
    return f"{trial.payload.study}-{trial.payload.preset}-{trial.trial_hash}"


def run_trial(tune_config: dict) -> None:
    """Tune trial function. Raises when training fails for good, so Tune records the trial as errored."""
    trial = trial_of(tune_config)
    if trial.payload.in_process:
        from trainables.in_process import train_in_process

        train_in_process(trial.config, trial.payload.storage, trial_name(trial), trial.payload.cpus_per_worker)
    else:
        run_data_parallel(trial)


def run_data_parallel(trial: Trial) -> None:
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    from trainables.worker import train_loop

    cfg, payload = trial.config, trial.payload
    gpus, cpus = payload.gpus_per_worker, payload.cpus_per_worker
    backend = payload.backend if payload.backend != "auto" else ("nccl" if gpus > 0 else "gloo")
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={"config": cfg.to_dict(), "cpus_per_worker": cpus},
        torch_config=TorchConfig(backend=backend),
        scaling_config=ScalingConfig(num_workers=payload.workers, use_gpu=gpus > 0,
                                     resources_per_worker={"CPU": cpus, **({"GPU": gpus} if gpus else {})}),
        run_config=RunConfig(
            name=trial_name(trial), storage_path=payload.storage,
            failure_config=FailureConfig(max_failures=payload.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            callbacks=[TuneReportCallback()],
        ),
    )
    result = trainer.fit()
    if result.error:
        raise result.error
