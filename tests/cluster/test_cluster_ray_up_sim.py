"""A real `ray up` on this machine: clusters/local.yaml pointed at 127.0.0.1, a study submitted, then `ray down`.

The "node" is an unprivileged account created for the test (clusters/sim/setup_sshd.sh) behind an sshd of its own on
a loopback port, so the `ray stop` that `ray down` runs on the node reaches only this test's Ray processes. Needs
root (apt-get, useradd, sshd); skipped otherwise. Takes minutes: marked slow.
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from clusters.check import check_config
from clusters.problems import ERROR
from clusters.sim.render_config import PORT_FLAGS, SimNode, render

ROOT = Path(__file__).resolve().parents[2]
SIM = ROOT / "clusters" / "sim"
RAY = Path(sys.executable).parent / "ray"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args: list, log: Path, env: dict, timeout: int) -> subprocess.CompletedProcess:
    started = time.monotonic()
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout)
    log.write_text(result.stdout + result.stderr)
    print(f"[{time.monotonic() - started:6.1f} s] {' '.join(str(a) for a in args[1:4])} -> {result.returncode}")
    return result


def _snapshot(dest: Path) -> Path:
    """The files `ray up` would send from the checkout (tracked + untracked, minus .gitignore): Ray hashes every file
    under a synced folder before it rsyncs, and the checkout's .venv alone is gigabytes."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


RUNNER_SMOKE = "cd ~/shapca && python ablations/run.py --study shapley_samples --preset smoke"


def _runner_ready() -> bool:
    return (ROOT / "ablations" / "run.py").exists() and (ROOT / "search_spaces" / "shapley_samples.yaml").exists()


def _study_runs(mlflow_url: str, study: str) -> tuple[list, list]:
    """The study's parent runs and the trial runs of the newest one (directly under it, or under one of its table's
    row runs once the tables are built), found by tags as docs/tracking.md lays out."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_url)
    experiments = [e.experiment_id for e in client.search_experiments()]
    parents = client.search_runs(experiments, f"tags.`shapca.role` = 'study' and tags.study = '{study}'")
    if not parents:
        return parents, []
    under = {parents[0].info.run_id} | {r.info.run_id for r in client.search_runs(
        experiments, f"tags.`shapca.role` = 'row' and tags.mlflow.parentRunId = '{parents[0].info.run_id}'")}
    trials = client.search_runs(experiments, f"tags.`shapca.role` = 'trial' and tags.study = '{study}'")
    return parents, [t for t in trials if t.data.tags.get("mlflow.parentRunId") in under]


@pytest.fixture
def sim_node(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root: installs openssh-server, creates the node account, starts an sshd")
    if shutil.which("apt-get") is None and not all(shutil.which(t) for t in ("rsync", "nc", "sshd")):
        pytest.skip("needs openssh-server, rsync and netcat, or apt-get to install them")
    user, port, keydir = f"shsim-{secrets.token_hex(3)}", _free_port(), tmp_path / "ssh"
    setup = subprocess.run(["bash", SIM / "setup_sshd.sh", keydir, user, str(port)], capture_output=True, text=True,
                           timeout=900)
    try:
        assert setup.returncode == 0, setup.stderr
        yield user, port, Path(setup.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["bash", SIM / "teardown_sshd.sh", keydir, user], timeout=180)


def _leftover_ray(user: str) -> list[str]:
    ps = subprocess.run(["ps", "-u", user, "-o", "args="], capture_output=True, text=True).stdout.splitlines()
    return [p for p in ps if any(word in p for word in ("raylet", "gcs_server", "ray::", "mlflow", "dashboard"))]


def test_ray_up_submit_study_ray_down(sim_node, tmp_path):
    user, ssh_port, key = sim_node
    token = tmp_path / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    ports = {flag: _free_port() for flag in PORT_FLAGS} | {"mlflow": _free_port()}
    node_env = {k: os.environ[k] for k in ("SHAPCA_DATA_MIRROR", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS",
                                           "TQDM_DISABLE", "TOKENIZERS_PARALLELISM") if k in os.environ}
    node = SimNode(cluster_name=f"shapca-{user}", repo=_snapshot(tmp_path / "checkout"), node_user=user,
                   ssh_key=key, ssh_port=ssh_port, token_file=token, venv=Path(sys.prefix), ports=ports, env=node_env)
    config = render(node)
    assert [p for p in check_config(config) if p.severity == ERROR] == []
    cluster_file = tmp_path / "sim.yaml"
    cluster_file.write_text(yaml.safe_dump(config, sort_keys=False))

    # The client side, as a user's laptop: the cluster's token, and no leftover address of some other Ray.
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    mlflow_url = f"http://127.0.0.1:{ports['mlflow']}"
    submit = [RAY, "job", "submit", "--address", f"http://127.0.0.1:{ports['dashboard-port']}", "--", "sh", "-c"]
    try:
        up = _run([RAY, "up", "-y", "--no-config-cache", "--log-style", "record", cluster_file], tmp_path / "up.log",
                  env, timeout=600)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert urllib.request.urlopen(f"{mlflow_url}/health", timeout=10).read().strip() == b"OK"

        # 1. The cluster's plumbing, independent of the runner: a study-shaped job (clusters/sim/smoke_job.py).
        job = _run(submit + ["cd ~/shapca && python clusters/sim/smoke_job.py"], tmp_path / "smoke_job.log", env,
                   timeout=600)
        assert job.returncode == 0, job.stdout[-4000:] + job.stderr[-2000:]
        evidence = [line for line in job.stdout.splitlines() if line.startswith("SMOKE_RESULT ")]
        result = json.loads(evidence[-1].removeprefix("SMOKE_RESULT "))
        print("placement evidence:", json.dumps(result["trials"]))
        assert {t["user"] for t in result["trials"]} == {user}  # trials ran as the node account, on the node
        assert {t["node_id"] for t in result["trials"]} <= set(result["cluster_nodes"])
        assert (Path(f"/home/{user}/shapca-storage") / "sim_smoke").is_dir()  # results landed in SHAPCA_STORAGE
        parents, children = _study_runs(mlflow_url, "sim_smoke")  # on the head's MLflow server
        assert len(parents) == 1 and len(children) == 2

        # 2. The runner's smoke study, submitted the way docs/cluster.md tells users to.
        if _runner_ready():
            study = _run(submit + [RUNNER_SMOKE], tmp_path / "runner.log", env, timeout=600)
            assert study.returncode == 0, study.stdout[-4000:] + study.stderr[-2000:]
            parents, children = _study_runs(mlflow_url, "shapley_samples")
            assert parents and children
            assert all(c.data.tags.get("shapca.role") == "trial" and c.info.status == "FINISHED" for c in children)
    finally:
        # The MLflow server is the head's own process, not Ray's: stop it before `ray down` (docs/cluster.md).
        stop = _run([RAY, "exec", cluster_file, "~/shapca/clusters/head_services.sh stop"], tmp_path / "stop.log",
                    env, timeout=120)
        down = _run([RAY, "down", "-y", cluster_file], tmp_path / "down.log", env, timeout=300)
        for state in Path("/tmp/ray").glob(f"cluster-{node.cluster_name}.*"):
            state.unlink()  # the local provider's record of this cluster (on the client side)
    assert stop.returncode == 0 and "mlflow server stopped" in stop.stdout, stop.stdout[-2000:]
    assert down.returncode == 0, down.stdout[-2000:]
    deadline = time.monotonic() + 30
    while _leftover_ray(user) and time.monotonic() < deadline:
        time.sleep(1)
    assert _leftover_ray(user) == []
