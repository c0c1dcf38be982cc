"""The heap of a study's trial processes (trainables/heap.py): glibc is told to keep freed memory from the process's
start, and after a trial what is beyond KEEP_FREED_HEAP goes back to the system, so a reused process does not keep
every trial's high-water mark."""
import subprocess
import sys

import pytest

from ablations import machine
from trainables.heap import TRIAL_PROCESS_ENV, trial_process_env

# Blocks below glibc's mmap threshold, each followed by a small block that stays alive: freeing the large ones
# leaves holes inside the heap that free() alone never returns, as a finished trial's tensors and buffers do.
SCRIPT = """
import gc, os, sys
from trainables.heap import release_freed_memory

def resident_mb():
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

freed, kept = [], []
for _ in range(8000):
    freed.append(b"\\x01" * 32768)
    kept.append(b"\\x02" * 1000)
del freed
gc.collect()
before = resident_mb()
released = release_freed_memory(keep=int(sys.argv[1]))
print(f"RESIDENT {before:.1f} {resident_mb():.1f} {len(kept)} {released}")
"""


def run_script(keep: int) -> tuple[float, float, str]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(keep)], capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESIDENT ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    before, after, kept, released = lines[-1].split()[1:]
    assert int(kept) == 8000
    return float(before), float(after), released


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's; elsewhere it does nothing")
def test_freed_heap_beyond_what_is_kept_goes_back_to_the_system():
    before, after, released = run_script(keep=64 << 20)
    # 8000 x 32 KB = 262 MB sat in the holes; with 64 MB to keep, most of it must leave the process
    assert released == "True"
    assert before - after > 150, (before, after)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's; elsewhere it does nothing")
def test_freed_heap_within_what_is_kept_stays_for_the_next_trial():
    before, after, released = run_script(keep=1 << 30)
    # 262 MB free is under the 1 GiB kept: nothing is handed back, so the next trial reuses it without page faults
    assert released == "False"
    assert abs(before - after) < 20, (before, after)


def test_a_study_starts_its_ray_job_with_the_heap_settings_unless_the_user_set_them(monkeypatch):
    import ray

    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(kwargs))
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")  # the user's own choice stays theirs
    machine.connect_ray(None)
    machine.connect_ray("ray://head:10001")
    expected = {k: v for k, v in TRIAL_PROCESS_ENV.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    assert [c["runtime_env"]["env_vars"] for c in calls] == [expected, expected]
    assert trial_process_env() == expected and "MALLOC_TOP_PAD_" in expected
