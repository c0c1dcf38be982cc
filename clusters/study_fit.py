"""Does one trial of a study fit the cluster? Reads the study file's `resources` and compares with the node types.

A trial asks for `workers` Ray Train workers of {CPU: cpus_per_worker, GPU: gpus_per_worker} each (docs/studies.md).
Each worker must fit on one node of some type, and all of them must fit in the cluster at its full size. The study
is read by the runner's own parser (ablations/study_file.py), so both accept the same `resources`.
"""
import math
from pathlib import Path

from ablations.schema import STUDY_DIR, StudyError
from ablations.study_file import read_resources
from clusters.nodes import NodeType
from clusters.problems import ERROR, NOTE, Problem

__all__ = ["StudyError", "fit_problems", "study_path", "study_resources"]


def study_path(name: str) -> Path:
    """`--study NAME` means search_spaces/NAME.yaml; a value that looks like a path is taken as one."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return Path(name)
    return STUDY_DIR / f"{name}.yaml"


def study_resources(path: Path) -> dict[str, float]:
    """{workers, cpus_per_worker, gpus_per_worker} of a study file; StudyError names the file and the key."""
    return read_resources(path)


def _per_node(node: NodeType, cpus: float, gpus: float) -> int | None:
    """How many workers fit on one node of this type (None: the node's resources are not known offline)."""
    fits = math.inf
    for need, have in ((cpus, node.cpus), (gpus, node.gpus)):
        if need > 0:
            if have is None:
                return None
            fits = min(fits, math.floor(have / need + 1e-9))
    return int(fits)


def _describe(node: NodeType) -> str:
    def show(v):
        return "?" if v is None else f"{v:g}"

    return f"{node.name}: CPU {show(node.cpus)}, GPU {show(node.gpus)} x {node.count()}"


def fit_problems(types: dict[str, NodeType], resources: dict[str, float], source: str) -> list[Problem]:
    workers, cpus, gpus = resources["workers"], resources["cpus_per_worker"], resources["gpus_per_worker"]
    need = f"{workers} worker(s) of CPU {cpus:g}, GPU {gpus:g}"
    per_node = {name: _per_node(node, cpus, gpus) for name, node in types.items() if node.count() > 0}
    known = {name: n for name, n in per_node.items() if n is not None}
    nodes = "; ".join(_describe(types[name]) for name in per_node)
    if not known:
        return [Problem(NOTE, "resources", f"not checked: the cluster's node resources are detected at start "
                                           f"({nodes}); pass --num-cpus/--num-gpus in the start commands to check")]
    if not any(n >= 1 for n in known.values()) and len(known) == len(per_node):
        return [Problem(ERROR, "resources", f"a trial needs {need}; no node type can hold even one ({nodes})",
                        source)]
    capacity = sum(n * types[name].count() for name, n in known.items())
    if workers > capacity and len(known) == len(per_node):
        return [Problem(ERROR, "resources.workers", f"a trial needs {need}; at full size the cluster holds "
                                                    f"{capacity} such worker(s) ({nodes})", source)]
    return []
