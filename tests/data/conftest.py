"""Fixtures of the data-layer tests: the read-only data mirror and a private cache folder.

The lead's tests/conftest.py sets SHAPCA_DATA_MIRROR to <repo>/../shared/data; the same default is applied here
so these tests also run alone. Every test here gets its own cache via SHAPCA_CACHE (never ~/.cache).
"""
from __future__ import annotations

import os
import threading
import urllib.parse
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shapca.data import manifest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def mirror() -> Path:
    path = Path(os.environ.get("SHAPCA_DATA_MIRROR") or REPO.parent / "shared" / "data")
    assert (path / "MANIFEST.tsv").is_file(), f"data mirror not found at {path} (set SHAPCA_DATA_MIRROR)"
    return path


@pytest.fixture(scope="session", autouse=True)
def data_env(mirror, tmp_path_factory):
    """Point the data layer at the mirror and at a session cache (zip extraction, verification stamps)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SHAPCA_DATA_MIRROR", str(mirror))
        mp.setenv("SHAPCA_CACHE", str(tmp_path_factory.mktemp("shapca_cache")))
        yield


@pytest.fixture
def write(tmp_path):
    """write(name, text) -> path of a new UTF-8 file in the test's temporary folder."""
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return _write


# A GitHub-raw look-alike on 127.0.0.1 serving the data mirror, for the download tests (no internet).
def _make_handler(root: Path, mode: str, hits: list):
    commits = {e.repo: e.commit for e in manifest.entries()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def do_GET(self):
            # /<owner>/<name>/<commit>/<path>: the commit must be the pinned one.
            parts = urllib.parse.unquote(self.path).lstrip("/").split("/", 3)
            hits.append(self.path)
            if len(parts) < 4 or commits.get(f"{parts[0]}/{parts[1]}") != parts[2]:
                self.send_error(404)
                return
            file = root / parts[0] / parts[1] / parts[3]
            if not file.is_file():
                self.send_error(404)
                return
            data = file.read_bytes()
            if mode == "corrupt":  # same length, one byte changed
                data = data[:-1] + bytes([data[-1] ^ 1])
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if mode == "truncate":  # announce everything, send half, hang up
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data)

    return Handler


@contextmanager
def _serve(root: Path, mode: str = "ok"):
    """Yields (base_url, hits): the server's URL and the list of request paths it received."""
    hits: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(Path(root), mode, hits))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def serve():
    """serve(root, mode="ok"|"corrupt"|"truncate") -> context manager yielding (base_url, request paths)."""
    return _serve
