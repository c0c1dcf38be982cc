"""A driver that dies without shutting its Ray node down (SIGKILL) has that node's agents killed a few seconds later
by its watcher (ablations/reaper.py), not after Ray's minute; nothing else is touched, not even a process that
reuses a watched pid."""
import os
import subprocess
import sys
import time

import pytest

from ablations import reaper

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="the watcher reads /proc (Linux)")


def test_the_watched_processes_are_killed_soon_after_the_driver_ends_and_no_other(monkeypatch):
    agents = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]) for _ in range(2)]
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        real = reaper.process_start
        marks = {bystander.pid: "1"}  # as if its pid had been a watched agent's, reused since
        monkeypatch.setattr(reaper, "process_start", lambda pid: marks.get(pid) or real(pid))
        reaper.watch([a.pid for a in agents] + [bystander.pid])
        time.sleep(1.0)  # the driver lives on: nothing happens
        assert all(a.poll() is None for a in agents)
        t0 = time.time()
        os.close(reaper._PIPES.pop())  # the driver ends
        while any(a.poll() is None for a in agents) and time.time() - t0 < reaper.GRACE_S + 10:
            time.sleep(0.1)
        assert [a.returncode for a in agents] == [-9, -9]
        assert reaper.GRACE_S <= time.time() - t0 < reaper.GRACE_S + 10
        assert bystander.poll() is None
    finally:
        for p in agents + [bystander]:
            if p.poll() is None:
                p.kill()
            p.wait()
