"""The node types of a cluster file with what each offers, in one shape for cloud and on-premises providers.

Cloud providers declare node types with resources. The local (on-premises) provider has none: Ray detects each
machine's CPUs and GPUs when it starts, so they are known offline only where the start commands pass --num-cpus /
--num-gpus; otherwise they stay None (unknown).
"""
import re
from dataclasses import dataclass

_FLAG = {"cpus": re.compile(r"--num-cpus[ =]+(\d+)"), "gpus": re.compile(r"--num-gpus[ =]+(\d+)")}


@dataclass(frozen=True)
class NodeType:
    name: str
    is_head: bool
    min_workers: int
    max_workers: int  # as declared; the head node itself is not counted here (see count())
    cpus: float | None  # None: not declared, Ray detects it on the machine
    gpus: float | None

    def count(self) -> int:
        return 1 if self.is_head else self.max_workers


def _declared(commands: list, resource: str) -> float | None:
    values = [float(m.group(1)) for cmd in commands or [] if isinstance(cmd, str)
              for m in _FLAG[resource].finditer(cmd)]
    return values[-1] if values else None


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def node_types(raw: dict, prepared: dict) -> dict[str, NodeType]:
    if raw["provider"].get("type") == "local":
        head_cmds, worker_cmds = raw.get("head_start_ray_commands"), raw.get("worker_start_ray_commands")
        workers = len(raw["provider"].get("worker_ips") or [])
        return {
            "head": NodeType("head", True, 0, 0, _declared(head_cmds, "cpus"), _declared(head_cmds, "gpus")),
            "worker_ips": NodeType("worker_ips", False, workers, workers,
                                   _declared(worker_cmds, "cpus"), _declared(worker_cmds, "gpus")),
        }
    head = prepared.get("head_node_type")
    types = {}
    for name, spec in (prepared.get("available_node_types") or {}).items():
        resources = spec.get("resources") or {}
        is_head = name == head
        types[name] = NodeType(
            name, is_head, int(spec.get("min_workers") or 0), int(spec.get("max_workers") or 0),
            _number(resources.get("CPU")), _number(resources.get("GPU", 0 if "CPU" in resources else None)))
    return types


def cluster_is_multi_node(raw: dict, types: dict[str, NodeType]) -> bool:
    return any(not t.is_head and t.max_workers > 0 for t in types.values())
