"""The machine or cluster a study's trials run on: connecting to it, what it has, and what `train.amp=auto` trains
in there.

A trial's identity names its precision, so `auto` is resolved once, when the study is planned, for the machine that
will train it, which need not be the one that plans it (a laptop driving a GPU cluster):
- no cluster (`--address` not given): this machine, on the device a trial asks for (a GPU when the study's
  resources ask for one, else the CPU);
- a cluster: a probe task placed with one trial's resources answers from a node that can run the trials (its GPU,
  or its CPU). Where no node takes it within PROBE_WAIT_S (an autoscaling cluster still starting its nodes), GPU
  trials are planned in bf16 (every data-center GPU since the A100 computes it natively) and CPU trials in float32
  (right on any processor). Nodes that differ from the one that answered train as planned, just more slowly
  where their hardware lacks native bf16: set `train.amp` to decide for a mixed cluster.
"""
from __future__ import annotations

import os

from trainables.heap import trial_process_env

PROBE_WAIT_S = 60.0  # how long a cluster may take to place the precision probe


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
        from ablations.reaper import watch_agents

        watch_agents()  # a driver killed outright would leave two of Ray's agents for a minute (ablations/reaper.py)


def machine_resources(address: str | None) -> dict:
    """What the study would run on: the cluster at `address`, else this machine."""
    if address:
        import ray

        connect_ray(address)
        return ray.cluster_resources()
    import torch

    return {"CPU": os.cpu_count() or 1, "GPU": torch.cuda.device_count()}


def _probe(device: str) -> str:
    from shapca.precision import resolve_amp

    return resolve_amp("auto", device)


def training_amp(address: str | None, resources: dict) -> tuple[str, str]:
    """(`bf16` or `none`, where that was decided, in words) for trials with `resources` (a study's `resources`)."""
    gpus = float(resources.get("gpus_per_worker", 0) or 0)
    device = "cuda" if gpus else "cpu"
    if not address:
        return _probe(device), f"this machine's {device.upper()}"
    import ray

    connect_ray(address)
    task = ray.remote(_probe).options(num_cpus=float(resources.get("cpus_per_worker", 1)), num_gpus=gpus)
    ref = task.remote(device)
    ready, _ = ray.wait([ref], timeout=PROBE_WAIT_S)
    if ready:
        return ray.get(ref), f"a probe on a cluster node's {device.upper()}"
    ray.cancel(ref, force=True)
    return ("bf16" if gpus else "none"), (f"no cluster node took a probe within {PROBE_WAIT_S:.0f} s: "
                                          f"{'GPUs are assumed to compute bf16' if gpus else 'CPUs float32'}")
