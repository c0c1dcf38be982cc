"""Where a cluster file keeps MLflow's tracking store and artifacts, and whether they outlive `ray down`.

The head's MLflow server (clusters/head_services.sh) reads these settings, exported by the file's commands:
  SHAPCA_MLFLOW_STORE      backend store URI, e.g. postgresql://shapca@db-host:5432/mlflow (an external database)
  SHAPCA_PGDATA            or: PostgreSQL on the head, its data in this folder (clusters/pg_server.py)
  SHAPCA_MLFLOW_ARTIFACTS  artifacts destination: s3://..., gs://..., or a folder (on-premises)
  SHAPCA_STATE             the default of both: sqlite and artifacts in this folder on the head (~/shapca-state)
A file may instead run `mlflow server --backend-store-uri ... --artifacts-destination ...` itself, or point
MLFLOW_TRACKING_URI at a database. On a cloud provider `ray down` deletes the head's disk: a store or artifacts
there, on a cluster with worker nodes, are refused (the key that puts them there is named). clusters/down.py reads
the same locations before it takes a cluster down.
"""
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from clusters.problems import ERROR, WARNING, Problem

SHARED_SCHEMES = ("s3://", "gs://", "gcs://", "abfs://", "abfss://", "az://", "hdfs://")
DB_SCHEMES = ("postgresql", "mysql", "mssql")
DEFAULT_STATE = "~/shapca-state"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "")
_SERVICES = re.compile(r"head_services\.sh\s+start\b")
_MLFLOW_SERVER = re.compile(r"\bmlflow server\b[^;&|]*")
_FLAG = {flag: re.compile(rf"{flag}[ =]+(\S+)") for flag in
         ("--backend-store-uri", "--artifacts-destination", "--default-artifact-root")}


def _value(name: str):
    return re.compile(rf"\b{name}=(\"[^\"]*\"|'[^']*'|[^\s;'\"&|]+)")


_VARS = {name: _value(name) for name in
         ("SHAPCA_MLFLOW_STORE", "SHAPCA_PGDATA", "SHAPCA_MLFLOW_ARTIFACTS", "SHAPCA_STATE", "MLFLOW_TRACKING_URI")}


@dataclass(frozen=True)
class Location:
    what: str  # "tracking store" or "artifacts"
    value: str  # as written (a URI or a folder)
    key: str  # the command that sets it (or starts the server that uses the default)
    folder: str | None  # the folder on the head that holds it; None when it lives off the node (a bucket, a database)


def home_relative(path: str) -> str:
    """A head-node path as the cluster files write it: unquoted, no trailing slash, $HOME spelt ~."""
    path = path.strip("'\"").rstrip("/")
    for home in ("$HOME", "${HOME}"):
        if path.startswith(home):
            path = "~" + path[len(home):]
    return path


def _exports(cmds: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """NAME -> (key, value) of the first command that sets each setting."""
    found = {}
    for key, cmd in cmds:
        for name, rx in _VARS.items():
            m = rx.search(cmd)
            if m and name not in found:
                found[name] = (key, home_relative(m.group(1)))
    return found


def _store_folder(uri: str) -> str | None:
    """The head folder holding a store, or None when it is a database elsewhere."""
    if uri.startswith("sqlite:///"):
        return home_relative(posixpath.dirname(uri[len("sqlite:///"):])) or "."
    scheme = uri.split("://", 1)[0].split("+", 1)[0]
    if scheme in DB_SCHEMES:
        host = urlsplit(uri).hostname or ""
        return "a database server" if host in _LOOPBACK else None  # on the head itself: its data is on the head
    if "://" in uri and not uri.startswith("file://"):
        return None  # http(s): a tracking server elsewhere holds it
    return home_relative(uri[len("file://"):] if uri.startswith("file://") else uri)


def _artifact_folder(value: str) -> str | None:
    if value.startswith(SHARED_SCHEMES):
        return None
    return home_relative(value[len("file://"):] if value.startswith("file://") else value)


def tracking_locations(head_cmds: list[tuple[str, str]]) -> list[Location]:
    """The store and artifacts of the head's MLflow server (or of a database the clients write to directly)."""
    env, found = _exports(head_cmds), []
    state = env.get("SHAPCA_STATE", ("", DEFAULT_STATE))[1]
    for key, cmd in head_cmds:
        if _SERVICES.search(cmd):
            if "SHAPCA_MLFLOW_STORE" in env:
                skey, store = env["SHAPCA_MLFLOW_STORE"]
                found.append(Location("tracking store", store, skey, _store_folder(store)))
            elif "SHAPCA_PGDATA" in env:
                skey, data = env["SHAPCA_PGDATA"]
                found.append(Location("tracking store", f"PostgreSQL on the head, data in {data}", skey, data))
            else:
                found.append(Location("tracking store", f"sqlite:///{state}/mlflow.db", key, state))
            akey, artifacts = env.get("SHAPCA_MLFLOW_ARTIFACTS", (key, f"{state}/mlartifacts"))
            found.append(Location("artifacts", artifacts, akey, _artifact_folder(artifacts)))
        for m in _MLFLOW_SERVER.finditer(cmd):
            flags = {f: rx.search(m.group(0)) for f, rx in _FLAG.items()}
            store = flags["--backend-store-uri"].group(1) if flags["--backend-store-uri"] else "sqlite:///mlflow.db"
            art = flags["--artifacts-destination"] or flags["--default-artifact-root"]
            artifacts = art.group(1) if art else "mlartifacts"  # both defaults: the server's working folder
            found += [Location("tracking store", store, key, _store_folder(store.strip("'\""))),
                      Location("artifacts", artifacts, key, _artifact_folder(artifacts))]
    if "MLFLOW_TRACKING_URI" in env:
        key, uri = env["MLFLOW_TRACKING_URI"]
        if not uri.startswith(("http://", "https://")):  # clients write to the store itself, not through a server
            found.append(Location("tracking store", uri, key, _store_folder(uri)))
    return found


def under_mount(folder: str, mounts: set[str]) -> bool:
    return any(folder == m or folder.startswith(m + "/") for m in mounts)


# Trials at once each kind of store served in benchmarks/tracking_scale.py (its table is in docs/cluster.md): the
# largest writer count of 8, 32, 128 with no error, no lost or duplicated run and p99 latency <= 10 s. sqlite: 32,
# directly and behind `mlflow server` (at 128, "database is locked" retries and p99 15-21 s); PostgreSQL behind
# `mlflow server`: 128, the most measured. Measured on 2 shared cores; a head node does better, not worse.
SERVES = {"sqlite": 32, "postgresql": 128}


def _kind(loc: Location) -> str:
    return "sqlite" if loc.value.startswith("sqlite:") else "postgresql" if "postgres" in loc.value.lower() else ""


def max_trials(types: dict) -> int | None:
    """One-GPU trials the cluster can run at once (GPUs of all worker nodes); None when not known offline."""
    workers = [t for t in types.values() if not t.is_head]
    if any(t.gpus is None for t in workers):
        return None
    return sum(int(t.gpus) * t.max_workers for t in workers)


def tracking_problems(raw: dict, head_cmds: list[tuple[str, str]], mounts: set[str], types: dict,
                      multi_node: bool) -> list[Problem]:
    """Refuse a store or artifacts on the head's own disk where `ray down` deletes it; warn when the cluster can
    run more trials at once than its store served in the benchmark."""
    if not multi_node:
        return []  # one node: a laptop's sqlite is right
    problems, trials = [], max_trials(types)
    for loc in tracking_locations(head_cmds):
        limit = SERVES.get(_kind(loc)) if loc.what == "tracking store" else None
        if limit is not None and trials is not None and trials > limit:
            problems.append(Problem(WARNING, loc.key, f"the cluster runs up to {trials} one-GPU trials at once; a "
                                                      f"{_kind(loc)} store served {limit} in the tracking benchmark "
                                                      f"(benchmarks/tracking_scale.py, docs/cluster.md): expect slow "
                                                      f"or failed logging"))
        if raw["provider"].get("type") == "local" or loc.folder is None or under_mount(loc.folder, mounts):
            continue  # on-premises: `ray down` leaves the machines' disks
        where = {".": "the server's working folder on the head"}.get(loc.folder, f"{loc.folder} on the head")
        fix = ("SHAPCA_MLFLOW_STORE=postgresql://user@db-host:5432/mlflow (an external database), or SHAPCA_PGDATA "
               "under a persistent volume that setup_commands check with `mountpoint`" if loc.what == "tracking store"
               else "SHAPCA_MLFLOW_ARTIFACTS=s3://bucket/... (or gs://...), or a folder under a mounted volume")
        problems.append(Problem(ERROR, loc.key, f"the MLflow {loc.what} ({loc.value}) would be kept in {where}, "
                                                f"whose disk `ray down` deletes with the node: set {fix}"))
    return problems
