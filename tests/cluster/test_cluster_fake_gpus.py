"""Trials that ask for a GPU (or a share of one) land on GPU nodes only, never more at once than the GPUs hold, packed
up to that many when they ask for a share, and torch stays on CPU when the GPU is fake (Ray's resource, no CUDA
behind it). The cluster runs in a subprocess: fake_gpu_trials.py."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent


def _max_concurrent(trials: list[dict]) -> int:
    """The largest number of trials running at one instant (each trial's [start, end] interval)."""
    return max(sum(other["start"] <= t["start"] < other["end"] for other in trials) for t in trials)


@pytest.mark.parametrize("gpus_per_trial", [1.0, 0.25])
def test_gpu_trials_land_on_gpu_nodes_within_the_gpu_count(tmp_path, gpus_per_trial):
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a cluster of its own, never another one
    run = subprocess.run([sys.executable, str(HERE / "fake_gpu_trials.py"), str(tmp_path), str(gpus_per_trial)],
                         capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in run.stdout.splitlines() if line.startswith("EVIDENCE ")]
    assert run.returncode == 0 and lines, run.stdout[-3000:] + run.stderr[-3000:]
    evidence = json.loads(lines[-1].removeprefix("EVIDENCE "))
    trials = evidence["trials"]
    print("placement:", json.dumps([{k: t[k] for k in ("node_id", "gpu_ids", "cuda_visible_devices", "device")}
                                    for t in trials]))
    print("max concurrent trials:", _max_concurrent(trials), "of", len(evidence["gpu_nodes"]), "GPUs")

    per_gpu = round(1 / gpus_per_trial)
    assert evidence["errors"] == 0 and len(trials) == 2 * per_gpu + 2
    assert len(evidence["gpu_nodes"]) == 2 and len(evidence["cpu_only_nodes"]) == 1
    assert {t["node_id"] for t in trials} <= set(evidence["gpu_nodes"])  # never on the GPU-less head
    assert _max_concurrent(trials) <= 2 * per_gpu
    for node in evidence["gpu_nodes"]:
        assert _max_concurrent([t for t in trials if t["node_id"] == node]) <= per_gpu
    if per_gpu > 1:
        assert _max_concurrent(trials) > 2  # shares of a GPU were used at once: trials packed onto GPUs
    for t in trials:
        assert len(t["gpu_ids"]) == 1  # Ray gave the trial one GPU ...
        assert t["cuda_visible_devices"] == t["gpu_ids"][0]  # ... and told CUDA about it ...
        assert t["device"] == ("cuda" if t["cuda_available"] else "cpu")  # ... and the device follows real CUDA
        if not torch.cuda.is_available():
            assert t["device"] == "cpu"  # a fake GPU on a machine without CUDA: torch stayed on CPU
