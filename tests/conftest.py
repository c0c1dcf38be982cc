"""Test-session settings: the data mirror beside the checkout, offline hubs, one shared local Ray instance."""
import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_mirror = ROOT.parent / "shared" / "data"
if _mirror.is_dir():
    os.environ.setdefault("SHAPCA_DATA_MIRROR", str(_mirror))
# Downloads, verification stamps and token caches of the tests stay out of the user's cache.
os.environ.setdefault("SHAPCA_CACHE", tempfile.mkdtemp(prefix="shapca-test-cache-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("RAY_prestart_worker_first_driver", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray for the whole session, with the dashboard on: Train inside Tune needs the State API."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=True, dashboard_host="127.0.0.1",
             logging_level="warning", log_to_driver=False)
    yield ray
    ray.shutdown()
