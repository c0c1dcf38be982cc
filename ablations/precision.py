"""What `train.amp=auto` trains in where a study's trials run, decided once when the study is planned.

A trial's identity names its precision, so `auto` is resolved before any trial is planned, for the machine that
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

PROBE_WAIT_S = 60.0


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

    from ablations.launch import connect_ray

    connect_ray(address)
    task = ray.remote(_probe).options(num_cpus=float(resources.get("cpus_per_worker", 1)), num_gpus=gpus)
    ref = task.remote(device)
    ready, _ = ray.wait([ref], timeout=PROBE_WAIT_S)
    if ready:
        return ray.get(ref), f"a probe on a cluster node's {device.upper()}"
    ray.cancel(ref, force=True)
    return ("bf16" if gpus else "none"), (f"no cluster node took a probe within {PROBE_WAIT_S:.0f} s: "
                                          f"{'GPUs are assumed to compute bf16' if gpus else 'CPUs float32'}")
