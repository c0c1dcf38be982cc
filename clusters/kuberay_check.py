"""Check a KubeRay RayJob manifest for a Shap-CA study offline: `python -m clusters.kuberay_check FILE [FILE...]`.

It checks what KubeRay's RayJob (apiVersion ray.io/v1) accepts and what a study needs (docs/slurm_kubernetes.md):
known spec fields (Kubernetes drops unknown ones, so a typo silently loses a setting), an entrypoint that runs the
study, one of rayClusterSpec or clusterSelector, rayStartParams as strings, a head and worker pod template with an
image whose Ray version matches rayVersion and the version constraints.txt pins, whole replica counts within their
bounds, a worker group with GPUs, and SHAPCA_STORAGE (shared) and MLFLOW_TRACKING_URI (a server) in the pods, since
the pods and their disks go when the job ends. Each finding names the file, line and key, as clusters/check.py
does; placeholders (REPLACE-ME) are warnings, refused under --strict. Exit status 0 when every file passes, else 1.
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

import yaml

from clusters.problems import ERROR, WARNING, Problem, check_files, load_yaml_with_lines

API_VERSION, KIND = "ray.io/v1", "RayJob"
SPEC_FIELDS = {"entrypoint", "rayClusterSpec", "clusterSelector", "shutdownAfterJobFinishes", "ttlSecondsAfterFinished",
               "activeDeadlineSeconds", "runtimeEnvYAML", "submissionMode", "submitterPodTemplate", "submitterConfig",
               "suspend", "jobId", "metadata", "entrypointNumCpus", "entrypointNumGpus", "entrypointResources",
               "backoffLimit", "managedBy", "deletionStrategy"}
SUBMISSION_MODES = ("K8sJobMode", "HTTPMode", "InteractiveMode", "SidecarMode")
STUDY_COMMANDS = ("ablations/run.py", "shapca-study")
SHARED_SCHEMES = ("s3://", "gs://", "gcs://", "abfs://", "abfss://", "az://", "hdfs://")
GPU = "nvidia.com/gpu"
PLACEHOLDER = "REPLACE-ME"
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_IMAGE_RAY = re.compile(r"(?:^|/)ray(?:-ml)?:(\d+\.\d+\.\d+)")
_CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"


def pinned_ray() -> str | None:
    """The Ray version constraints.txt pins, if any."""
    if not _CONSTRAINTS.is_file():
        return None
    match = re.search(r"^ray(?:\[[^\]]*\])?==(\S+)", _CONSTRAINTS.read_text(encoding="utf-8"), re.MULTILINE)
    return match.group(1) if match else None


def _containers(template, key: str, problems: list[Problem]) -> list[tuple[str, dict]]:
    spec = template.get("spec") if isinstance(template, dict) else None
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if not isinstance(containers, list) or not containers or not all(isinstance(c, dict) for c in containers):
        problems.append(Problem(ERROR, f"{key}.template.spec.containers", "missing: a list with the Ray container"))
        return []
    found = []
    for index, container in enumerate(containers):
        where = f"{key}.template.spec.containers[{index}]"
        if not container.get("image"):
            problems.append(Problem(ERROR, f"{where}.image", "missing: the container's image"))
        found.append((where, container))
    return found


def _start_params(group: dict, key: str, problems: list[Problem]) -> None:
    params = group.get("rayStartParams", {})
    if not isinstance(params, dict):
        problems.append(Problem(ERROR, f"{key}.rayStartParams", "must be a mapping of ray start options to strings"))
        return
    for name, value in params.items():
        if not isinstance(value, str):
            problems.append(Problem(ERROR, f"{key}.rayStartParams.{name}", f"must be a string, got {value!r}: "
                                    "KubeRay's rayStartParams is map[string]string; quote it"))


def _env(container: dict) -> dict[str, str]:
    return {str(e.get("name")): str(e.get("value", "")) for e in container.get("env") or [] if isinstance(e, dict)}


def _pod_problems(where: str, container: dict, head: bool, problems: list[Problem]) -> None:
    env = _env(container)
    storage = env.get("SHAPCA_STORAGE")
    mounts = [str(m.get("mountPath", "")) for m in container.get("volumeMounts") or [] if isinstance(m, dict)]
    if storage is None:
        problems.append(Problem(ERROR, f"{where}.env", "no SHAPCA_STORAGE: trial results and checkpoints need "
                                "storage every pod shares (s3://, gs://, or a path on a shared volume)"))
    elif not storage.startswith(SHARED_SCHEMES) and not any(storage.startswith(m.rstrip("/") + "/") for m in mounts
                                                            if m):
        problems.append(Problem(ERROR, f"{where}.env", f"SHAPCA_STORAGE={storage} is neither a bucket nor under a "
                                "mounted volume: each pod would write to its own disk, deleted with the pod"))
    tracking = env.get("MLFLOW_TRACKING_URI")
    if head and not (tracking or "").startswith(("http://", "https://", "postgresql://", "mysql://")):
        problems.append(Problem(ERROR, f"{where}.env", f"MLFLOW_TRACKING_URI={tracking or '(unset)'}: the driver "
                                "must log to an MLflow server or database outside the pod, which is deleted when "
                                "the job ends"))


def _image_problems(where: str, container: dict, ray_version: str | None, problems: list[Problem]) -> None:
    image = str(container.get("image") or "")
    match = _IMAGE_RAY.search(image) or re.search(r":(\d+\.\d+\.\d+)", image)
    if ray_version and match and match.group(1) != ray_version:
        problems.append(Problem(ERROR, f"{where}.image", f"image {image} has Ray {match.group(1)} but rayVersion is "
                                f"{ray_version}: KubeRay configures the pods for rayVersion"))


def _worker_problems(groups, key: str, ray_version: str | None, problems: list[Problem]) -> None:
    if not isinstance(groups, list) or not groups:
        problems.append(Problem(ERROR, key, "missing: at least one worker group (the trials run on workers)"))
        return
    gpus = 0
    for index, group in enumerate(groups):
        where = f"{key}[{index}]"
        if not isinstance(group, dict):
            problems.append(Problem(ERROR, where, "must be a mapping"))
            continue
        if not group.get("groupName"):
            problems.append(Problem(ERROR, f"{where}.groupName", "missing: each worker group needs a name"))
        counts = {}
        for field in ("replicas", "minReplicas", "maxReplicas"):
            value = group.get(field)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                problems.append(Problem(ERROR, f"{where}.{field}", f"must be a whole number >= 0, got {value!r}"))
            elif value is not None:
                counts[field] = value
        low, high = counts.get("minReplicas", 0), counts.get("maxReplicas")
        if high is not None and low > high:
            problems.append(Problem(ERROR, f"{where}.minReplicas", f"{low} is above maxReplicas ({high})"))
        elif high is not None and not low <= counts.get("replicas", low) <= high:
            problems.append(Problem(ERROR, f"{where}.replicas", f"{counts['replicas']} is outside minReplicas.."
                                    f"maxReplicas ({low}..{high})"))
        _start_params(group, where, problems)
        for path, container in _containers(group.get("template"), where, problems):
            limits = (container.get("resources") or {}).get("limits") or {}
            value = limits.get(GPU)
            if value is not None and (not re.fullmatch(r"[1-9]\d*", str(value))):
                problems.append(Problem(ERROR, f"{path}.resources.limits.{GPU}", f"must be a whole number of GPUs, "
                                        f"got {value!r}"))
            gpus += bool(value)
            _image_problems(path, container, ray_version, problems)
            _pod_problems(path, container, False, problems)
    if not gpus:
        problems.append(Problem(ERROR, key, f"no worker group has GPUs (resources.limits.{GPU}): the study's trials "
                                "ask for GPUs and would wait for ever"))


def check_manifest(raw: dict) -> list[Problem]:
    problems: list[Problem] = []
    if raw.get("apiVersion") != API_VERSION:
        problems.append(Problem(ERROR, "apiVersion", f"must be {API_VERSION}, got {raw.get('apiVersion')!r} "
                                "(ray.io/v1alpha1 is gone from current KubeRay)"))
    if raw.get("kind") != KIND:
        problems.append(Problem(ERROR, "kind", f"must be {KIND}, got {raw.get('kind')!r}"))
    name = str((raw.get("metadata") or {}).get("name") or "")
    if not _NAME.fullmatch(name) or len(name) > 63:
        problems.append(Problem(ERROR, "metadata.name", f"{name!r} is not a DNS-1123 label (lower-case letters, "
                                "digits and '-', at most 63 characters)"))
    spec = raw.get("spec")
    if not isinstance(spec, dict):
        return problems + [Problem(ERROR, "spec", "missing: the RayJob's spec")]
    for field in spec:
        if field not in SPEC_FIELDS:
            close = difflib.get_close_matches(field, sorted(SPEC_FIELDS), n=1)
            problems.append(Problem(ERROR, f"spec.{field}", "not a RayJob field (Kubernetes would drop it)"
                                    + (f"; did you mean {close[0]!r}?" if close else "")))
    entrypoint = str(spec.get("entrypoint") or "")
    if not any(command in entrypoint for command in STUDY_COMMANDS) or "--study" not in entrypoint:
        problems.append(Problem(ERROR, "spec.entrypoint", f"must run a study ({' or '.join(STUDY_COMMANDS)} "
                                f"--study NAME), got {entrypoint!r}"))
    if spec.get("submissionMode", SUBMISSION_MODES[0]) not in SUBMISSION_MODES:
        problems.append(Problem(ERROR, "spec.submissionMode", f"must be one of {', '.join(SUBMISSION_MODES)}"))
    for field, minimum in (("ttlSecondsAfterFinished", 0), ("activeDeadlineSeconds", 1)):
        value = spec.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < minimum):
            problems.append(Problem(ERROR, f"spec.{field}", f"must be a whole number >= {minimum}, got {value!r}"))
    if "shutdownAfterJobFinishes" in spec and not isinstance(spec["shutdownAfterJobFinishes"], bool):
        problems.append(Problem(ERROR, "spec.shutdownAfterJobFinishes", "must be true or false"))
    if "runtimeEnvYAML" in spec:
        try:
            env = yaml.safe_load(str(spec["runtimeEnvYAML"]))
        except yaml.YAMLError as err:
            env = err
        if not isinstance(env, dict):
            problems.append(Problem(ERROR, "spec.runtimeEnvYAML", "must be a YAML mapping in a string (use '|')"))
    cluster = spec.get("rayClusterSpec")
    if (cluster is None) == (spec.get("clusterSelector") is None):
        problems.append(Problem(ERROR, "spec.rayClusterSpec", "give exactly one of rayClusterSpec (a cluster for "
                                "this job) and clusterSelector (an existing cluster)"))
    if isinstance(cluster, dict):
        problems += _cluster_problems(cluster)
    return problems


def _cluster_problems(cluster: dict) -> list[Problem]:
    problems: list[Problem] = []
    version = cluster.get("rayVersion")
    version = str(version) if version is not None else None
    pinned = pinned_ray()
    if version is None:
        problems.append(Problem(ERROR, "spec.rayClusterSpec.rayVersion", "missing: the Ray version of the image"))
    elif pinned and version != pinned:
        problems.append(Problem(ERROR, "spec.rayClusterSpec.rayVersion", f"{version} differs from the Ray version "
                                f"constraints.txt pins ({pinned}), which the trials are tested with"))
    head = cluster.get("headGroupSpec")
    key = "spec.rayClusterSpec.headGroupSpec"
    if not isinstance(head, dict):
        return problems + [Problem(ERROR, key, "missing: the head pod's group")]
    _start_params(head, key, problems)
    for path, container in _containers(head.get("template"), key, problems):
        _image_problems(path, container, version, problems)
        _pod_problems(path, container, True, problems)
    _worker_problems(cluster.get("workerGroupSpecs"), "spec.rayClusterSpec.workerGroupSpecs", version, problems)
    return problems


def _placeholders(raw, key: str = "") -> list[Problem]:
    if isinstance(raw, dict):
        return [p for k, v in raw.items() for p in _placeholders(v, f"{key}.{k}" if key else str(k))]
    if isinstance(raw, list):
        return [p for i, v in enumerate(raw) for p in _placeholders(v, f"{key}[{i}]")]
    if PLACEHOLDER in str(raw):
        return [Problem(WARNING, key, f"placeholder {str(raw)!r}: fill it in before kubectl apply")]
    return []


def check_file(path: Path) -> tuple[list[Problem], dict[str, int]]:
    raw, lines = load_yaml_with_lines(path)
    return check_manifest(raw) + _placeholders(raw), lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clusters.kuberay_check", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="RayJob manifests (clusters/kuberay/*.yaml)")
    parser.add_argument("--strict", action="store_true", help="refuse files with warnings too (placeholders)")
    args = parser.parse_args(argv)
    return check_files(args.files, check_file, args.strict)


if __name__ == "__main__":
    sys.exit(main())
