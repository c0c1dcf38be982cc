"""A real PostgreSQL server for the tracking tests: a throwaway one on 127.0.0.1 (clusters/pg_server.py), no mock."""
import pytest

from clusters.pg_server import throwaway


@pytest.fixture
def pg():
    """A fresh server and database per test: each test sees a store nobody has opened yet."""
    with throwaway() as uri:
        yield uri
