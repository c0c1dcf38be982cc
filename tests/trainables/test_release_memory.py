"""A reused trial process hands the heap that a finished trial freed back to the system
(trainables.in_process.release_freed_memory), so it does not keep every trial's high-water mark."""
import subprocess
import sys

import pytest

# Blocks below glibc's mmap threshold, each followed by a small block that stays alive: freeing the large ones
# leaves holes inside the heap that free() alone never returns, as a finished trial's tensors and buffers do.
SCRIPT = """
import gc, os
from trainables.in_process import release_freed_memory

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
release_freed_memory()
print(f"RESIDENT {before:.1f} {resident_mb():.1f} {len(kept)}")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's; elsewhere it does nothing")
def test_freed_heap_goes_back_to_the_system():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESIDENT ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    before, after, kept = lines[-1].split()[1:]
    assert int(kept) == 8000
    # 8000 x 32 KB = 262 MB sat in the holes; most of it must leave the process.
    assert float(before) - float(after) > 150, (before, after)
