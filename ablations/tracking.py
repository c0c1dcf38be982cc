"""MLflow for a study: one parent run per (study, preset), one child run per trial, written as docs/tracking.md says.

Child runs are found again by their trial hash, so a resumed or rerun study continues a trial's run instead of
making a second one, and a finished trial is never run twice.
"""
from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from reports.contract import COMMIT_TAG

EXPERIMENT = os.environ.get("SHAPCA_EXPERIMENT", "shapca")


class TrackingError(RuntimeError):
    pass


DATASET_ABBREV = {"twitter2015": "t15", "twitter2017": "t17", "mnre": "mnre", "jmere": "jmere"}
KEY_ALIAS = {"shapley.samples": "M", "align.tau": "tau", "model.fusion_gate": "gate"}
_SWEPT_KEY = re.compile(r"(^|, )([A-Za-z_]\w*(?:\.\w+)+)=")


def short_label(label: str) -> str:
    """A variant label for a table column: each swept `section.key=` shortened to an alias or its last part
    ("shapley.samples=16" -> "M=16"), unless two keys of the label would then read the same."""
    keys = [k for _, k in _SWEPT_KEY.findall(label)]
    short = {k: KEY_ALIAS.get(k, k.rsplit(".", 1)[-1]) for k in keys}
    if len(set(short.values())) < len(set(keys)):
        short = {k: KEY_ALIAS.get(k, k) for k in keys}
    return _SWEPT_KEY.sub(lambda m: f"{' ' if m.group(1) else ''}{short[m.group(2)]}=", label)


def run_name(tags: dict) -> str:
    """A child run's name, short enough for MLflow's runs table: "M=16 · t17 · s1". The full label stays in the
    `variant` tag."""
    dataset = tags.get("dataset", "")
    return f"{short_label(tags.get('variant', ''))} · {DATASET_ABBREV.get(dataset, dataset)} · s{tags.get('seed', '')}"


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


DATABASE_SCHEMES = ("postgresql://", "postgresql+psycopg://")


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail before any trial starts when the tracking server or database cannot be reached."""
    if uri.startswith(("http://", "https://")):
        url = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                if r.status != 200:
                    raise TrackingError(f"MLflow tracking server {uri} answered {r.status} on /health")
        except (urllib.error.URLError, OSError) as e:
            raise TrackingError(f"MLflow tracking server {uri} is unreachable: {e}") from None
    elif uri.startswith("sqlite:///"):
        folder = Path(uri[len("sqlite:///"):]).parent
        if not folder.is_dir():
            raise TrackingError(f"MLflow store {uri}: folder {folder} does not exist")
    elif uri.startswith(DATABASE_SCHEMES):
        _check_postgres(uri, timeout)
    elif uri.startswith("file:") or "://" not in uri:
        raise TrackingError(f"MLflow tracking URI {uri!r}: MLflow 3 refuses plain file stores; use "
                            "sqlite:///<abs path>.db, postgresql://user@host:port/db or an http(s) server")


def _check_postgres(uri: str, timeout: float) -> None:
    try:
        import psycopg  # noqa: F401 - SQLAlchemy 2.1 loads it for postgresql:// later; fail here, clearly
    except ImportError:
        raise TrackingError(f"MLflow store {_redacted(uri)} needs the PostgreSQL driver: "
                            "pip install -e '.[postgres]'") from None
    parts = urlsplit(uri)
    if not parts.hostname or not parts.path.strip("/"):
        raise TrackingError(f"MLflow store {_redacted(uri)}: expected "
                            "postgresql://user[:password]@host[:port]/database")
    try:
        socket.create_connection((parts.hostname, parts.port or 5432), timeout=timeout).close()
    except OSError as e:
        raise TrackingError(f"MLflow store {_redacted(uri)}: database server unreachable: {e}") from None


def _redacted(uri: str) -> str:
    """The URI without its password, for messages."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return uri.replace(f":{parts.password}@", ":***@", 1)


_READY: set[str] = set()  # stores this process has created or migrated already


def init_store(uri: str) -> None:
    """Create (or migrate) a database store once, under a lock, before anything in this process opens it.

    Two processes opening a fresh store at once both run MLflow's schema migration and one dies in alembic
    ("Online migration expected to match one row"). With the lock, the first creates the schema and the others
    find it complete. SQLite: an flock on `<db>.lock` beside the file. PostgreSQL: an advisory lock of the database.
    A tracking server (http) creates its own store; nothing to do.
    """
    if uri in _READY:
        return
    from mlflow.tracking._tracking_service.utils import _get_store  # what MlflowClient builds its store with

    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        if not db.parent.is_dir():
            raise TrackingError(f"MLflow store {uri}: folder {db.parent} does not exist")
        with open(db.with_name(db.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
            _get_store(uri)
    elif uri.startswith(DATABASE_SCHEMES):
        import sqlalchemy

        engine = sqlalchemy.create_engine(uri, poolclass=sqlalchemy.pool.NullPool)
        key = 0x5A4CA  # any fixed number: every process of the project takes the same lock
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f"SELECT pg_advisory_lock({key})"))
            try:
                _get_store(uri)
            finally:
                conn.execute(sqlalchemy.text(f"SELECT pg_advisory_unlock({key})"))
        engine.dispose()
    _READY.add(uri)


def code_version() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    versions = {}
    for pkg in ("torch", "ray", "transformers", "optuna", "mlflow"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return {COMMIT_TAG: commit or "unknown", "versions": json.dumps(versions, sort_keys=True)}


def machine_text(resources: dict) -> str:
    """Where a study ran, for the results page: what Ray had for it, and the driver's CPU model and memory."""
    model = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    gpus = int(resources.get("GPU", 0))
    return (f"{int(resources.get('CPU', 0))} CPUs, {gpus or 'no'} GPU{'s' * (gpus != 1)} for the trials; driver: "
            f"{platform.system()} {platform.machine()}, {model}, {memory:.0f} GiB")


class StudyRuns:
    """The study's parent run and its children in one MLflow experiment."""

    def __init__(self, uri: str, study: str, preset: str):
        from mlflow.tracking import MlflowClient

        init_store(uri)
        self.client, self.study, self.preset = MlflowClient(tracking_uri=uri), study, preset
        self.experiment_id = self._experiment_id()
        self._parent: str | None = None

    def _experiment_id(self) -> str:
        exp = self.client.get_experiment_by_name(EXPERIMENT)
        if exp:
            return exp.experiment_id
        from mlflow.exceptions import MlflowException

        try:
            return self.client.create_experiment(EXPERIMENT)
        except MlflowException:  # another study created it since we looked: use that one
            exp = self.client.get_experiment_by_name(EXPERIMENT)
            if exp is None:
                raise
            return exp.experiment_id

    def _search(self, where: str, max_results: int = 5000):
        base = f"tags.study = '{self.study}' and tags.preset = '{self.preset}'"
        return self.client.search_runs([self.experiment_id], f"{base} and {where}", max_results=max_results)

    def parent(self, tags: dict, study_file: Path | None = None) -> str:
        if self._parent:
            return self._parent
        found = self._search("tags.`shapca.role` = 'study'")
        if found:
            self._parent = found[0].info.run_id
            self.client.update_run(self._parent, status="RUNNING")
            for k, v in tags.items():
                self.client.set_tag(self._parent, k, v)
        else:
            run = self.client.create_run(self.experiment_id, run_name=f"{self.study} ({self.preset})",
                                         tags={"shapca.role": "study", "study": self.study, "preset": self.preset,
                                               **tags})
            self._parent = run.info.run_id
        if study_file is not None:
            self.client.log_artifact(self._parent, str(study_file))
        return self._parent

    def close_parent(self) -> None:
        """The study's run is FINISHED once its trials have run; a rerun opens it again."""
        if self._parent:
            self.client.set_terminated(self._parent, status="FINISHED")

    def done_hashes(self) -> set[str]:
        runs = self._search("tags.`shapca.role` = 'trial' and attributes.status = 'FINISHED'")
        return {r.data.tags["trial_hash"] for r in runs if "trial_hash" in r.data.tags}

    def finished_count(self, dataset: str, seed: int) -> int:
        runs = self._search(f"tags.`shapca.role` = 'trial' and attributes.status = 'FINISHED' and "
                            f"tags.dataset = '{dataset}' and tags.seed = '{seed}'")
        return len(runs)

    def find_child(self, trial_hash: str) -> str:
        """The run id of the trial's run (which exists: it was created by an earlier `child`)."""
        found = self._search(f"tags.`shapca.role` = 'trial' and tags.trial_hash = '{trial_hash}'")
        if not found:
            raise TrackingError(f"no MLflow run of trial {trial_hash} in study {self.study} ({self.preset})")
        return found[0].info.run_id

    def child(self, trial_hash: str, tags: dict, params: dict) -> tuple[str, set[int]]:
        """The trial's run (reused if this trial ran before) and the epochs it has already logged."""
        found = self._search(f"tags.`shapca.role` = 'trial' and tags.trial_hash = '{trial_hash}'")
        if found:
            run_id = found[0].info.run_id
            self.client.update_run(run_id, status="RUNNING")
            if "error" in found[0].data.tags:
                self.client.delete_tag(run_id, "error")
            logged = {m.step for m in self.client.get_metric_history(run_id, "epoch_dev_f1")}
            return run_id, logged
        run = self.client.create_run(self.experiment_id, run_name=run_name(tags),
                                     tags={"mlflow.parentRunId": self._parent, "shapca.role": "trial",
                                           "study": self.study, "preset": self.preset, "trial_hash": trial_hash,
                                           **tags})
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
        for i in range(0, len(items), 100):
            self.client.log_batch(run.info.run_id, params=items[i: i + 100])
        return run.info.run_id, set()

    def log_metrics(self, run_id: str, values: dict, step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step or 0) for k, v in values.items() if isinstance(v, (int, float))]
        if batch:
            self.client.log_batch(run_id, metrics=batch)

    def finish(self, run_id: str, ok: bool, error: str = "") -> None:
        if not ok:
            self.client.set_tag(run_id, "error", error[:4000] or "unknown error")
        self.client.set_terminated(run_id, status="FINISHED" if ok else "FAILED")
