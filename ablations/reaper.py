"""Ray's agents of a study's own local Ray node, ended when the study's driver dies without ending them.

A driver killed outright (SIGKILL, the OOM killer) takes its local Ray node with it: the raylet and the GCS die by
the kernel's parent-death signal. Ray's DashboardAgent and RuntimeEnvAgent outlived it by about a minute: they see
the raylet die, take its SIGKILL for an unexpected death and report it to the GCS, which died too, in a call with a
fixed 60 s timeout (`publish_error_to_driver` in ray/_private/utils.py); a SIGTERM waits behind that call. So the
driver starts this watcher beside it, in a session of its own, on a pipe only the driver holds. When the pipe closes
(the driver has ended, however), the agents get GRACE_S to end by themselves (they do at once when Ray was shut
down, the driver's every other way out); the ones still there are killed. Only those processes, by pid, checked
against their start time: nothing the watcher did not see the driver start. Linux (/proc); elsewhere it starts not.

    python ablations/reaper.py PID:START ...   (stdin: the driver's pipe)
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

GRACE_S = 3.0
AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")
_PIPES: list[int] = []  # the driver's end of each watcher's pipe: open until the driver ends


def process_start(pid: int) -> str:
    """When the process started, in clock ticks since boot (Linux); "zombie" for one that has ended but not been
    waited for; "" where unknown (no such process, or no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return ""
    return "zombie" if fields[0] == "Z" else fields[19]


def watch(pids: list[int]) -> None:
    """In the driver: watch these processes (its Ray node's agents) for as long as this process lives."""
    marked = [f"{pid}:{start}" for pid in pids if (start := process_start(pid)) not in ("", "zombie")]
    if not marked:
        return
    read, write = os.pipe()  # not inherited by anything the driver starts later (PEP 446)
    subprocess.Popen([sys.executable, __file__, *marked], stdin=read, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)  # a killed process group spares it
    os.close(read)
    _PIPES.append(write)


def watch_agents() -> None:
    """In the driver, once it has started its local Ray node: watch that node's agents."""
    import psutil  # Ray's own copy, on the path once ray is imported

    watch([p.pid for p in psutil.Process().children(recursive=True) if p.name().startswith(AGENTS)])


def _left(marked: list[tuple[int, str]]) -> list[int]:
    return [pid for pid, start in marked if process_start(pid) == start]


def main(args: list[str]) -> None:
    marked = [(int(pid), start) for pid, start in (a.split(":") for a in args)]
    sys.stdin.buffer.read()  # returns when the driver has ended
    deadline = time.time() + GRACE_S
    while _left(marked) and time.time() < deadline:
        time.sleep(0.2)
    for pid in _left(marked):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:  # ended meanwhile
            pass


if __name__ == "__main__":
    main(sys.argv[1:])
