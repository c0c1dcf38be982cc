"""Turns clusters/local.yaml into the one-node cluster file that tests/cluster/test_ray_up_sim.py brings up here.

What stays from local.yaml: the layout (file_mounts of the checkout and the token, rsync filters), the head's start
commands (`ray start --head ...`, then clusters/head_services.sh start). What changes, and why:
- provider: head 127.0.0.1, no workers; auth: the simulation's node account and fresh key, reached on a non-22 port
  through `ssh_proxy_command` (Ray's local provider has no ssh port setting);
- setup_commands: a node image made of this machine's project environment (clusters/sim/node_image.sh) instead of
  local.yaml's installs (CUDA torch and the project, per node: minutes); the settings point at the account's home;
- the `ray stop` lines are dropped, and `ray start --head` gets ports chosen free on this machine, so that the
  simulated cluster never meets another Ray instance of the machine.
"""
import copy
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

LOCAL_YAML = Path(__file__).resolve().parents[1] / "local.yaml"

# `ray start --head` flags whose ports must not collide with other Ray instances on this machine.
PORT_FLAGS = ("port", "dashboard-port", "ray-client-server-port", "dashboard-agent-listen-port",
              "dashboard-agent-grpc-port", "runtime-env-agent-port", "metrics-export-port", "node-manager-port",
              "object-manager-port")


@dataclass(frozen=True)
class SimNode:
    cluster_name: str
    repo: Path  # the checkout to sync, as `ray up` users do from their repository root
    node_user: str
    ssh_key: Path
    ssh_port: int
    token_file: Path
    venv: Path  # this machine's project environment: clusters/sim/node_image.sh builds the node's from it
    ports: dict  # PORT_FLAGS name -> free port, plus "mlflow"
    env: dict  # extra settings for the node account (data mirror, offline hubs)


def _settings(node: SimNode) -> list[str]:
    settings = {
        "PATH": "$HOME/nodeenv/bin:$PATH",
        "RAY_AUTH_MODE": "token",
        "RAY_TMPDIR": "$HOME/rt",  # the node account's Ray files (and `ray stop`'s address file) stay in its home
        "SHAPCA_STORAGE": "$HOME/shapca-storage",  # one node: its own disk is shared storage enough
        "SHAPCA_STATE": "$HOME/shapca-state",
        "SHAPCA_MLFLOW_PORT": str(node.ports["mlflow"]),
        "SHAPCA_MLFLOW_WORKERS": "1",
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{node.ports['mlflow']}",
        **node.env,
    }
    # Values are written double-quoted so that $HOME and $PATH expand when the node's shells read the file.
    lines = " ".join(shlex.quote(f'export {k}="{v}"') for k, v in settings.items())
    return [
        f"bash ~/shapca/clusters/sim/node_image.sh {shlex.quote(str(node.venv))}",
        "mkdir -p ~/shapca-storage ~/shapca-state ~/rt",
        f"printf '%s\\n' {lines} > ~/.shapca_env",
        "grep -q shapca_env ~/.bashrc || echo '. ~/.shapca_env' >> ~/.bashrc",
        'python -c "import shapca, ray"',  # the node image must already hold the project
    ]


def _start_head(command: str, node: SimNode) -> str:
    words = [w for w in command.split() if not w.startswith("--port=")]
    flags = [f"--{flag}={node.ports[flag]}" for flag in PORT_FLAGS]
    flags += ["--node-ip-address=127.0.0.1", "--num-cpus=2", "--num-gpus=0", f"--object-store-memory={256 * 1024 ** 2}"]
    return " ".join(words + flags)


def render(node: SimNode, local_yaml: Path = LOCAL_YAML) -> dict:
    config = copy.deepcopy(yaml.safe_load(local_yaml.read_text(encoding="utf-8")))
    config["cluster_name"] = node.cluster_name
    config["provider"] = {"type": "local", "head_ip": "127.0.0.1", "worker_ips": []}
    config["max_workers"] = 0
    config["auth"] = {"ssh_user": node.node_user, "ssh_private_key": str(node.ssh_key),
                      "ssh_proxy_command": f"nc 127.0.0.1 {node.ssh_port}"}
    config["file_mounts"] = {"~/shapca": f"{node.repo}/", "~/.ray/auth_token": str(node.token_file)}
    config["setup_commands"] = _settings(node)
    head = []
    for command in config["head_start_ray_commands"]:
        if command.strip().startswith("ray stop"):
            continue  # never run here, even though the node account could only stop its own processes
        head.append(_start_head(command, node) if "ray start --head" in command else command)
    config["head_start_ray_commands"] = head
    config["worker_start_ray_commands"] = [c for c in config["worker_start_ray_commands"]
                                           if not c.strip().startswith("ray stop")]
    return config
