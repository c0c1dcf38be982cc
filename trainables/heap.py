"""The heap of a study's trial processes: kept between trials, handed back to the system beyond a bound.

A study's trial process trains trial after trial (trainables/in_process.py). What a trial frees, glibc by default
hands back to the system as it goes (blocks above a threshold that starts at 128 KiB are mapped and unmapped one by
one, the top of the heap is trimmed), and the next trial faults the same memory in again. Page faults are not cheap
everywhere: on this project's CPU machine (a virtual machine) the second trial of each study through the runner ran
its steps 1.6 to 2 times slower, half of its time in the kernel, and no trial did once the process kept its heap from
its start (`python benchmarks/trial_memory.py` shows resident size, step time and page faults of each way in one
process).
Kept without bound, though, the heap grows with every trial: in an MNRE study two trial processes reached 8 GB each.
So a study's Ray job starts its processes with glibc told to keep freed memory (TRIAL_PROCESS_ENV, set by
ablations/launch.py), and after each trial the process hands back what is beyond KEEP_FREED_HEAP.

glibc only: elsewhere (macOS, musl) the variables mean nothing, there is no malloc_trim, and nothing is done.
"""
from __future__ import annotations

import ctypes
import gc
import os

KEEP_FREED_HEAP = 1 << 30  # bytes of freed heap a trial process keeps for the next trial
# mallopt(3)'s variables, read when a process starts: blocks under 32 MiB (glibc's largest fixed threshold) come from
# the heap rather than a mapping of their own, the heap is trimmed only when asked (or past 2 GiB free at its top),
# and it grows by 256 MiB at a time
TRIAL_PROCESS_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(2 ** 31 - 1),
                     "MALLOC_TOP_PAD_": str(256 << 20)}


def trial_process_env() -> dict[str, str]:
    """TRIAL_PROCESS_ENV less what this process's environment sets already (the user's choice, or a submitted Ray
    job's own runtime environment, which Ray refuses to merge with a driver's value for the same variable)."""
    return {k: v for k, v in TRIAL_PROCESS_ENV.items() if k not in os.environ}


class _MallInfo2(ctypes.Structure):  # glibc's struct mallinfo2 (2.33+): the heap's counters, in bytes
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def release_freed_memory(keep: int = KEEP_FREED_HEAP) -> bool:
    """Gives the heap that a finished trial freed back to the system, beyond `keep` bytes. True if it did.

    Where glibc cannot say how much is free (before 2.33), all of it goes back.
    """
    gc.collect()
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    if hasattr(libc, "mallinfo2"):
        libc.mallinfo2.restype = _MallInfo2
        if libc.mallinfo2().fordblks <= keep:
            return False
    trim(0)
    return True
