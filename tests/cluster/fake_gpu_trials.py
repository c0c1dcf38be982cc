"""Runs in its own process for test_cluster_fake_gpus.py: a three-node Ray cluster on this machine (a head with no
GPU, two nodes with one fake GPU each), and a small Tune study whose trials each ask for one GPU, as the runner's
trials do with `resources: {workers: 1, cpus_per_worker: 1, gpus_per_worker: G}` (the runner's own resource request
and concurrency rule, for a whole GPU or a share of one). Prints the evidence as JSON.

Own process, because a Ray driver joins one cluster for its lifetime: the test session's Ray cannot host this one.
Usage: python tests/cluster/fake_gpu_trials.py STORAGE_DIR [GPUS_PER_TRIAL (default 1)]
"""
import json
import os
import sys
import time

import ray
from ray import tune
from ray.cluster_utils import Cluster

EXTRA_TRIALS = 2  # more trials than the GPUs hold at once, so that the bound is tested
TRIAL_SECONDS = 1.5  # long enough that trials which could overlap do


def trial(config: dict) -> None:
    import torch

    started = time.time()
    # The device rule every trainer must follow: Ray sets CUDA_VISIBLE_DEVICES for a fake GPU too, but only
    # torch.cuda.is_available() says whether CUDA really works here.
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    value = float((torch.ones(3, device=device) * config["x"]).sum())
    time.sleep(TRIAL_SECONDS)
    tune.report({
        "value": value, "device": str(device), "cuda_available": torch.cuda.is_available(),
        "node_id": ray.get_runtime_context().get_node_id(), "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": started, "end": time.time(),
    })


def main(storage: str, gpus_per_trial: float) -> None:
    from ablations.launch import fitting_trials
    from trainables.payload import TrialPayload

    payload = TrialPayload(config={}, study="fake", preset="smoke", storage=storage, variant="fake", trial_hash="-",
                           config_hash="-", gpus_per_worker=gpus_per_trial)
    per_gpu = round(1 / gpus_per_trial)
    trials = 2 * per_gpu + EXTRA_TRIALS
    small = {"object_store_memory": 100 * 1024 ** 2, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0, **small})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=per_gpu, num_gpus=1,
                             **{k: v for k, v in small.items() if k != "include_dashboard"})
        ray.init(address=cluster.address, logging_level="warning", log_to_driver=False)
        cluster.wait_for_nodes()
        nodes = [n for n in ray.nodes() if n["Alive"]]
        gpu_nodes = sorted(n["NodeID"] for n in nodes if n["Resources"].get("GPU", 0) > 0)
        head = [n["NodeID"] for n in nodes if n["Resources"].get("GPU", 0) == 0]
        tuner = tune.Tuner(
            tune.with_resources(trial, payload.resources()),
            param_space={"x": tune.grid_search(list(range(trials)))},
            tune_config=tune.TuneConfig(max_concurrent_trials=fitting_trials(payload)),
            run_config=tune.RunConfig(name="fake_gpus", storage_path=storage, verbose=0),
        )
        results = tuner.fit()
        trials = [{k: r.metrics[k] for k in ("value", "device", "cuda_available", "node_id", "gpu_ids",
                                             "cuda_visible_devices", "start", "end")} for r in results]
        print("EVIDENCE " + json.dumps({"gpu_nodes": gpu_nodes, "cpu_only_nodes": head, "errors": len(results.errors),
                                        "trials": trials}), flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 1.0)
