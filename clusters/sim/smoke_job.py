"""A study-shaped smoke job for the simulated cluster (tests/cluster/test_ray_up_sim.py), for use until the runner
(`ablations/run.py`) can be submitted in its place.

Submitted with `ray job submit`, it runs on the head like a study driver: Ray Tune runs two one-CPU trials with their
results in SHAPCA_STORAGE, and it records a parent MLflow run with one child per trial on the head's MLflow server
(MLFLOW_TRACKING_URI), tagged as docs/tracking.md says. It prints one line `SMOKE_RESULT <json>` as evidence.
"""
import getpass
import json
import os
import socket

import mlflow
import ray
from ray import tune

STUDY = "sim_smoke"


def trial(config: dict) -> None:
    context = ray.get_runtime_context()
    tune.report({"score": float(config["x"] ** 2), "node_id": context.get_node_id(),
                 "host": socket.gethostname(), "user": getpass.getuser(), "pid": os.getpid()})


def main() -> None:
    storage = os.environ["SHAPCA_STORAGE"]
    ray.init()  # inside a Ray job this joins the job's cluster (RAY_ADDRESS is set by the job supervisor)
    tuner = tune.Tuner(
        tune.with_resources(trial, {"cpu": 1}),
        param_space={"x": tune.grid_search([1, 2])},
        run_config=tune.RunConfig(name=STUDY, storage_path=storage),
    )
    results = tuner.fit()
    rows = [r.metrics for r in results]
    if results.errors or len(rows) != 2:
        raise SystemExit(f"smoke study failed: {len(results.errors)} errored trial(s), {len(rows)} result(s)")

    mlflow.set_experiment("shapca-sim")
    with mlflow.start_run(run_name=STUDY, tags={"shapca.role": "study", "study": STUDY, "preset": "smoke"}) as parent:
        for row in rows:
            tags = {"shapca.role": "trial", "study": STUDY, "mlflow.parentRunId": parent.info.run_id}
            with mlflow.start_run(run_name=f"x={row['config']['x']}", nested=True, tags=tags):
                mlflow.log_metric("score", row["score"])
    print("SMOKE_RESULT " + json.dumps({
        "trials": [{k: row[k] for k in ("score", "node_id", "host", "user", "pid")} for row in rows],
        "storage": os.path.join(storage, STUDY),
        "mlflow_parent_run": parent.info.run_id,
        "cluster_nodes": [n["NodeID"] for n in ray.nodes() if n["Alive"]],
    }), flush=True)


if __name__ == "__main__":
    main()
