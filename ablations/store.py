"""The tracking store a study writes to: its URI, whether it answers, and its one-time set-up.

docs/tracking.md lists the URIs. A store is checked before any trial starts, and a database store is created (or
migrated) under a lock before anything in this process opens it; ablations/tracking.py then writes the study's runs.
"""
from __future__ import annotations

import fcntl
import os
import socket
from contextlib import contextmanager
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit


class TrackingError(RuntimeError):
    pass


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


@contextmanager
def store_errors(uri: str):
    """What opening a study's runs can meet in the store, said in one line with the store and the cause, never as
    a traceback: an SQLite file another process holds locked, a folder that cannot be written, MLflow's refusals."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except TrackingError:
        raise
    except Exception as e:  # noqa: BLE001 - SQLAlchemy, MLflow and the OS each report these in their own types
        text = str(e)
        if "database is locked" in text:
            raise TrackingError(f"MLflow store {_redacted(uri)} is locked by another process (it holds a write on "
                                "the SQLite file: an open sqlite3 shell, a process stopped mid-write); end it and "
                                "run the same command again") from None
        if isinstance(e, OSError):
            raise TrackingError(f"MLflow store {_redacted(uri)}: {e.filename or ''}: {e.strerror}") from None
        if isinstance(e, MlflowException) or type(e).__module__.startswith("sqlalchemy"):
            raise TrackingError(f"MLflow store {_redacted(uri)}: {text.strip().splitlines()[0][:300]}") from None
        raise


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


def untouched(uri: str) -> bool:
    """A sqlite store whose file does not exist yet: a dry run or a status reads nothing from it and creates it not."""
    return uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).exists()
