"""An `mlflow server` on 127.0.0.1 for the duration of a block: for the tests and benchmarks/tracking_scale.py.

The head node starts its server with clusters/head_services.sh instead; both use the same flags.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from clusters.pg_server import free_port


def server_command(backend: str, artifacts: str, port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
            "--artifacts-destination", artifacts, "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]


@contextmanager
def serve(backend: str, artifacts: str, log: Path, workers: int = 2, timeout: float = 120, port: int | None = None):
    """Yields the server's http URI (on `port`, else a free one); the server is stopped (and waited for) on the way
    out."""
    port = port or free_port()
    # Job execution off: otherwise the server starts job consumers worth ~2 GB of memory. The connection pool as
    # head_services.sh sizes it: more concurrent requests than SQLAlchemy's default 5 + 10 per worker.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": "20",
           "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": "20"}
    with open(log, "a") as out:
        proc = subprocess.Popen(server_command(backend, artifacts, port, workers), stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"mlflow server on {uri} did not come up; end of {log}:\n{tail}") from None
                time.sleep(0.5)
        yield uri
    finally:
        proc.terminate()  # the server takes its worker processes down with it
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
