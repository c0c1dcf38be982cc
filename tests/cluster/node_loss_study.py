"""Runs in its own process for test_cluster_node_loss.py: a study on a three-node Ray cluster on this machine (a head
with no CPU for trials, two one-CPU nodes), whose one trial loses its node after its first epoch. Prints the
evidence as JSON: the runner's exit status, the node removed, and where the trial ran before and after.

Own process, because a Ray driver joins one cluster for its lifetime.
Usage: python tests/cluster/node_loss_study.py STUDY_FILE WORK_DIR
"""
import json
import sys
import threading
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster


def _trial_node() -> str | None:
    """The worker node whose CPU is taken (the trial's), from each node's free resources."""
    from ray._private.state import available_resources_per_node

    free = available_resources_per_node()
    busy = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) >= 1
            and free.get(n["NodeID"], {}).get("CPU", 0) < 1]
    return busy[0] if busy else None


def main(study: str, work: str) -> None:
    import mlflow

    from ablations import run

    work_dir = Path(work)
    uri = f"sqlite:///{work_dir / 'mlflow.db'}"
    small = {"object_store_memory": 100 * 1024 ** 2}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False, **small})
    nodes = [cluster.add_node(num_cpus=1, **small) for _ in range(2)]
    cluster.wait_for_nodes()
    evidence = {"removed": None}

    def remove_after_first_epoch() -> None:
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                client = mlflow.MlflowClient(tracking_uri=uri)
                ids = [e.experiment_id for e in client.search_experiments()]
                kids = client.search_runs(ids, "tags.`shapca.role` = 'trial'") if ids else []
                if kids and client.get_metric_history(kids[0].info.run_id, "epoch_dev_f1"):
                    node_id = _trial_node()
                    victim = next(n for n in nodes if n.node_id == node_id)
                    evidence["removed"] = node_id
                    cluster.remove_node(victim)
                    return
            except Exception:  # the store or the trial may not be there yet
                pass
            time.sleep(0.5)

    try:
        ray.init(address=cluster.address, logging_level="warning", log_to_driver=False)
        watcher = threading.Thread(target=remove_after_first_epoch, daemon=True)
        watcher.start()
        code = run.main(["--study", study, "--address", cluster.address, "--tracking-uri", uri, "--storage",
                         str(work_dir / "runs"), "--no-report", "--max-failures", "2", "--preset", "full"])
        evidence["exit"] = code
        evidence["alive_nodes"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        print("EVIDENCE " + json.dumps(evidence), flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
