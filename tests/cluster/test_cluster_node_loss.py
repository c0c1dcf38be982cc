"""A node lost mid-trial: the trial resumes from its checkpoint on another node and finishes; MLflow has it once,
every epoch logged once. The cluster runs in a subprocess: node_loss_study.py."""
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import yaml

HERE = Path(__file__).resolve().parent
STUDY = {"name": "node_loss", "description": "a trial that loses its node", "datasets": ["twitter2017"],
         "seeds": [1], "search": {"algorithm": "grid"}, "metric": "dev_f1", "report": {"kind": "main", "params": []},
         "resources": {"workers": 1, "cpus_per_worker": 1, "gpus_per_worker": 0},
         "base": {"data.context": "blip2", "model.encoder": "minilm", "data.limit_train": 32, "data.limit_eval": 16,
                  "data.max_len": 48,
                  "data.context_max_len": 16, "train.batch_size": 8, "train.epochs": 3}}


def test_a_trial_whose_node_is_lost_resumes_elsewhere_and_is_recorded_once(tmp_path):
    study = tmp_path / "node_loss.yaml"
    study.write_text(yaml.safe_dump(STUDY))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    run = subprocess.run([sys.executable, str(HERE / "node_loss_study.py"), str(study), str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    lines = [line for line in run.stdout.splitlines() if line.startswith("EVIDENCE ")]
    assert run.returncode == 0 and lines, run.stdout[-3000:] + run.stderr[-3000:]
    evidence = json.loads(lines[-1].removeprefix("EVIDENCE "))
    assert evidence["removed"] is not None, "the trial's node was never removed"
    assert evidence["exit"] == 0
    assert evidence["removed"] not in evidence["alive_nodes"]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    kids = client.search_runs([e.experiment_id for e in client.search_experiments()], "tags.`shapca.role` = 'trial'")
    assert len(kids) == 1 and kids[0].info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(kids[0].info.run_id, "epoch_dev_f1")] == [1, 2, 3]
