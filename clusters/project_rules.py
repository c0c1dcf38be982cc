"""The project's own checks of a cluster file, beyond Ray's schema: what a Shap-CA study needs from a cluster.

They read the shell commands of the file (setup and start commands), so they look for plain patterns: an export of
SHAPCA_STORAGE, a `pip install -e DIR` (or `git+URL`) of the project, a mount of shared storage, the MLflow server's
bind address. Each finding names the key (e.g. `setup_commands[3]`) that holds the command or should hold it.
"""
import posixpath
import re

from clusters.nodes import NodeType, cluster_is_multi_node, node_types
from clusters.problems import ERROR, WARNING, Problem
from clusters.tracking_rules import home_relative, tracking_problems

STORAGE_VAR = "SHAPCA_STORAGE"
SHARED_SCHEMES = ("s3://", "gs://", "gcs://", "abfs://", "abfss://", "az://", "hdfs://")
PLACEHOLDER = "REPLACE-ME"

_COMMON = ("initialization_commands", "setup_commands")
HEAD_LISTS = _COMMON + ("head_setup_commands", "head_start_ray_commands")
WORKER_LISTS = _COMMON + ("worker_setup_commands", "worker_start_ray_commands")

_STORAGE = re.compile(rf"\b{STORAGE_VAR}=(\"[^\"]*\"|'[^']*'|[^\s;'\"&|]+)")
_EDITABLE = re.compile(r"pip3? install\b[^;&|]*?(?<![\w-])(?:-e|--editable)[ =]+([^\s;&|]+)")
_GIT_INSTALL = re.compile(r"pip3? install\b[^;&|]*\bgit\+\S+")
_PREBAKED = re.compile(r"\bimport shapca\b")  # a node image that already has the project: setup only checks it
_SEGMENTS = re.compile(r"&&|\|\||[;&|\n]")
_CLONE_VALUE_OPTIONS = {"--depth", "-b", "--branch", "-o", "--origin", "--reference", "-c", "--config", "-j", "--jobs",
                        "--shallow-since", "--shallow-exclude", "-u", "--upload-pack", "--template",
                        "--separate-git-dir"}
_MOUNT = re.compile(r"\bmount\b[^;&|]*\s(/[^\s;&|]*)\s*(?:$|[;&|])")
_MOUNTPOINT = re.compile(r"\bmountpoint\b[^;&|]*\s(/[^\s;&|]*)")
_MLFLOW = re.compile(r"\bmlflow (?:server|ui)\b[^;&|]*")
_HOST_FLAG = re.compile(r"(?:--host|-h)[ =]+(\S+)")
_DASHBOARD_HOST = re.compile(r"--dashboard-host[ =]+(\S+)")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def commands(raw: dict, lists: tuple[str, ...]) -> list[tuple[str, str]]:
    """(key, command) for every command in the named lists, keys as `setup_commands[2]`."""
    found = []
    for name in lists:
        for index, command in enumerate(raw.get(name) or []):
            if isinstance(command, str):
                found.append((f"{name}[{index}]", command))
    for type_name, spec in (raw.get("available_node_types") or {}).items():
        if "worker_setup_commands" in lists and isinstance(spec, dict):
            for index, command in enumerate(spec.get("worker_setup_commands") or []):
                found.append((f"available_node_types.{type_name}.worker_setup_commands[{index}]", command))
    return found


def _placeholders(value, key: str) -> list[Problem]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _placeholders(v, f"{key}.{k}" if key else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _placeholders(v, f"{key}[{i}]")]
    if isinstance(value, str) and PLACEHOLDER in value:
        return [Problem(WARNING, key, f"placeholder {PLACEHOLDER}: fill it in before `ray up`")]
    return []


def _min_max(types: dict[str, NodeType]) -> list[Problem]:
    return [Problem(ERROR, f"available_node_types.{t.name}.min_workers",
                    f"{t.min_workers} is above max_workers ({t.max_workers})")
            for t in types.values() if t.min_workers > t.max_workers]


def _resources_declared(raw: dict, types: dict[str, NodeType]) -> list[Problem]:
    if raw["provider"].get("type") == "local":
        return []  # the local provider has no node types; Ray detects each machine's resources at start
    return [Problem(ERROR, f"available_node_types.{t.name}.resources.CPU",
                    "missing: declare the node's CPUs (and GPUs), so the autoscaler and this check know them offline")
            for t in types.values() if t.cpus is None]


def _gpu_node(raw: dict, types: dict[str, NodeType]) -> list[Problem]:
    if raw["provider"].get("type") == "local":
        return []  # on-premises machines may be CPU-only; their GPUs are detected by Ray (see docs/cluster.md)
    if any((t.gpus or 0) >= 1 and (t.is_head or t.max_workers >= 1) for t in types.values()):
        return []
    return [Problem(ERROR, "available_node_types",
                    "no node type offers a GPU (resources.GPU >= 1 and max_workers >= 1): trials would run on CPU")]


def _storage(raw: dict, multi_node: bool) -> list[Problem]:
    head_cmds = commands(raw, HEAD_LISTS)
    found = [(key, home_relative(m.group(1))) for key, cmd in head_cmds for m in _STORAGE.finditer(cmd)]
    if not found:
        return [Problem(ERROR, "setup_commands",
                        f"no command sets {STORAGE_VAR}: the runner would keep trial results and checkpoints on the "
                        f"head's own disk; export {STORAGE_VAR}=s3://... (or gs://..., or a shared mount)")]
    values = sorted({value for _, value in found})
    if len(values) > 1:
        return [Problem(ERROR, found[0][0], f"{STORAGE_VAR} is set to different values: {', '.join(values)}")]
    key, value = found[0]
    if value.startswith(SHARED_SCHEMES) or not multi_node:
        return []
    path = value[len("file://"):] if value.startswith("file://") else value
    every_node = commands(raw, WORKER_LISTS)
    mounts = {home_relative(m.group(1)) for _, cmd in every_node for rx in (_MOUNT, _MOUNTPOINT)
              for m in rx.finditer(cmd)}
    if any(path == mount or path.startswith(mount + "/") for mount in mounts):
        return []
    return [Problem(ERROR, key, f"{STORAGE_VAR}={value} is a path on each node's own disk, but the cluster has "
                                f"worker nodes: Ray Tune needs storage every node shares (s3://, gs://, or a path "
                                f"under an NFS/EFS mount that setup_commands mount or check with `mountpoint`)")]


# What a worker node's node_config needs to write to the bucket, per provider and storage scheme.
_BUCKET_ACCESS = {("aws", "s3://"): "IamInstanceProfile", ("gcp", "gs://"): "serviceAccounts"}


def _bucket_access(raw: dict, types: dict[str, NodeType], storage: str | None) -> list[Problem]:
    provider = raw["provider"].get("type")
    needed = next((field for (prov, scheme), field in _BUCKET_ACCESS.items()
                   if prov == provider and storage and storage.startswith(scheme)), None)
    if needed is None:
        return []
    specs = raw.get("available_node_types") or {}
    return [Problem(ERROR, f"available_node_types.{t.name}.node_config.{needed}",
                    f"missing: worker nodes write trial results to {storage} and need {needed} with access to it")
            for t in types.values()
            if not t.is_head and t.max_workers > 0
            and needed not in ((specs.get(t.name) or {}).get("node_config") or {})]


def storage_value(raw: dict) -> str | None:
    """The SHAPCA_STORAGE value the head's commands export (the first one), or None."""
    for _, cmd in commands(raw, HEAD_LISTS):
        m = _STORAGE.search(cmd)
        if m:
            return home_relative(m.group(1))
    return None


def _absolute(path: str, cwd: str) -> str:
    """A path as the remote shell sees it; relative paths are relative to `cwd` (an SSH session starts in ~)."""
    path = home_relative(path)
    if path.startswith(("~", "/", "$")):
        return path
    return posixpath.normpath(posixpath.join(cwd, path)).rstrip("/") or "/"


def _clone_targets(cmd: str) -> set[str]:
    """Where `git clone URL [DIR]` commands put their copies."""
    targets, cwd = set(), "~"
    for segment in _SEGMENTS.split(cmd):
        words = segment.split()
        if words[:1] == ["cd"] and len(words) > 1:
            cwd = _absolute(words[1], cwd)
        if words[:2] == ["git", "clone"]:
            args, rest = [], iter(words[2:])
            for word in rest:
                if word in _CLONE_VALUE_OPTIONS:
                    next(rest, None)
                elif not word.startswith("-"):
                    args.append(word)
            if args:
                name = args[1] if len(args) > 1 else posixpath.basename(args[0].rstrip("/")).removesuffix(".git")
                targets.add(_absolute(name, cwd))
    return targets


def _editable_targets(cmd: str) -> list[tuple[str, str]]:
    """(as written, resolved) for every `pip install -e DIR`, following `cd` earlier in the same command."""
    found, cwd = [], "~"
    for segment in _SEGMENTS.split(cmd):
        words = segment.split()
        if words[:1] == ["cd"] and len(words) > 1:
            cwd = _absolute(words[1], cwd)
        found += [(m.group(1), _absolute(m.group(1), cwd)) for m in _EDITABLE.finditer(segment)]
    return found


def _install(raw: dict, role: str, lists: tuple[str, ...]) -> list[Problem]:
    cmds = commands(raw, lists)
    provided = {home_relative(str(remote)) for remote in (raw.get("file_mounts") or {})}
    provided |= {target for _, cmd in cmds for target in _clone_targets(cmd)}
    problems, installs = [], 0
    for key, cmd in cmds:
        if _GIT_INSTALL.search(cmd) or _PREBAKED.search(cmd):
            installs += 1
        for written, target in _editable_targets(cmd):
            installs += 1
            if not any(target == p or target.startswith(p + "/") for p in provided):
                problems.append(Problem(ERROR, key, f"installs {written} but no file_mounts entry or git clone "
                                                    f"puts the project there"))
    if not installs:
        problems.append(Problem(ERROR, "setup_commands",
                                f"no command installs the project on the {role} node(s): add `pip install -e DIR` "
                                f"of a file_mounts (or git clone) copy, or `pip install git+URL`"))
    return problems


def _services(raw: dict) -> list[Problem]:
    problems = []
    for key, cmd in commands(raw, HEAD_LISTS):
        for m in _MLFLOW.finditer(cmd):
            host = _HOST_FLAG.search(m.group(0))
            if host is None or host.group(1).strip("'\"") not in _LOOPBACK:
                problems.append(Problem(ERROR, key, "the MLflow server must bind 127.0.0.1 (--host 127.0.0.1) and "
                                                    "be reached through an SSH tunnel"))
        for m in _DASHBOARD_HOST.finditer(cmd):
            if m.group(1).strip("'\"") not in _LOOPBACK:
                problems.append(Problem(WARNING, key, f"the Ray dashboard binds {m.group(1)}: anyone who reaches that "
                                                      f"address can submit jobs; prefer 127.0.0.1 and `ray dashboard`"))
    return problems


def _token(raw: dict, multi_node: bool) -> list[Problem]:
    text = "\n".join(cmd for _, cmd in commands(raw, HEAD_LISTS + WORKER_LISTS))
    if not multi_node or "RAY_AUTH_MODE=disabled" in text or "RAY_AUTH_TOKEN" in text:
        return []
    if any(str(remote).rstrip("/").endswith(".ray/auth_token") for remote in (raw.get("file_mounts") or {})):
        return []
    return [Problem(ERROR, "file_mounts", "Ray's token authentication needs the same token on every node: mount "
                                          "~/.ray/auth_token (create it with `ray get-auth-token --generate`)")]


def head_mounts(raw: dict) -> set[str]:
    """Folders the head's commands mount or check with `mountpoint`: volumes that outlive the node's own disk."""
    return {home_relative(m.group(1)) for _, cmd in commands(raw, HEAD_LISTS) for rx in (_MOUNT, _MOUNTPOINT)
            for m in rx.finditer(cmd)}


def project_problems(raw: dict, prepared: dict) -> list[Problem]:
    """The project's checks; `prepared` is Ray's prepared form of `raw` (node types filled in)."""
    types = node_types(raw, prepared)
    multi_node = cluster_is_multi_node(raw, types)
    problems = _min_max(types) + _resources_declared(raw, types) + _gpu_node(raw, types)
    problems += _storage(raw, multi_node) + _bucket_access(raw, types, storage_value(raw))
    problems += _install(raw, "head", HEAD_LISTS)
    if multi_node:
        problems += _install(raw, "worker", WORKER_LISTS)
    problems += tracking_problems(raw, commands(raw, HEAD_LISTS), head_mounts(raw), types, multi_node)
    problems += _services(raw) + _token(raw, multi_node) + _placeholders(raw, "")
    return problems
