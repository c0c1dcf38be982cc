"""One start of a study at a time: a lease on the study's parent run, in the tracking store itself.

Two starts of the same study and preset on one store would train every trial twice, log its epochs twice, and the
one stopped first would end the other's runs. So a start takes the study's lease before it writes anything; a
second start refuses at once, naming the first (host, pid, since when) and how to follow it (`--status`). It does
not wait: a second start is almost always a mistake (a second terminal, a batch job sent again), and one that waits
would sit silent for hours while the first does its work. Dry runs and `--status` only read, and take no lease.

The lease lives in the tracking store because that is what every start of the study shares, on one machine or on
a cluster: a local lock file would not be seen from another node.
- Taking it: the parameter `shapca.lease.<n>` on the parent run, n one more than the last. MLflow writes a
  parameter once and refuses a second value (a database key, also behind a tracking server), so of two starts
  claiming the same n, exactly one gets it. Its value says who: host, boot, pid, process start time, when.
- Holding it: the tag `shapca.lease` on the parent run, {"gen": n, "beat": time}, renewed every TTL/6 seconds by a
  thread; {"released": true} when the start ends.
- Taking it over: a holder on this host (same boot) is gone when its process is (pid and process start time: a
  reused pid is not mistaken for it); on another host, when it has not renewed the lease for TTL seconds
  (`SHAPCA_LEASE_TTL_S`, 120 s). A holder that finds a later claim when it renews has lost the lease (it was
  stopped for longer than TTL): it stops its study at once (SIGINT) and ends no run that the new holder reopened.
"""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ablations.reaper import process_start

LEASE_PARAM, BEAT_TAG = "shapca.lease", "shapca.lease"  # a parameter per claim (.<n>), one tag for the beat
TTL_ENV = "SHAPCA_LEASE_TTL_S"
HOST = socket.gethostname()


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


BOOT = _read("/proc/sys/kernel/random/boot_id")  # a reboot frees every lease its processes held


def ttl_s() -> float:
    return float(os.environ.get(TTL_ENV, "120"))


def process_alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        pass
    return not start or process_start(pid) in ("", start)


class StudyBusy(RuntimeError):
    """Another start of the study holds its lease; the message names it and how to follow it."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a study's lease, as read from its parent run."""
    run_id: str
    gen: int
    host: str
    boot: str
    pid: int
    start: str
    since: float
    token: str
    beat: float
    released: bool

    def stale(self, now: float | None = None) -> str | None:
        """Why the lease may be taken over; None while its holder runs."""
        now = time.time() if now is None else now
        if self.released:
            return "it ended"
        if self.host == HOST and self.boot == BOOT:  # this machine: its process says it all
            return None if process_alive(self.pid, self.start) else f"its process {self.pid} is gone"
        silent = now - max(self.beat, self.since)
        return f"not heard from for {silent:.0f} s" if silent > ttl_s() else None

    def describe(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        where = "this host" if self.host == HOST else f"host {self.host}"
        return (f"{where}, pid {self.pid}, since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(self.since))} "
                f"({(now - self.since) / 60:.1f} min ago), last heard {now - max(self.beat, self.since):.0f} s ago")


def holder_of(client, run_id: str) -> Holder | None:
    """The last claim of the parent run's lease, with its beat; None where no start has claimed it."""
    data = client.get_run(run_id).data
    claims = {int(k.rsplit(".", 1)[1]): v for k, v in data.params.items()
              if k.startswith(LEASE_PARAM + ".") and k.rsplit(".", 1)[1].isdigit()}
    if not claims:
        return None
    gen = max(claims)
    me, beat = json.loads(claims[gen]), json.loads(data.tags.get(BEAT_TAG) or "{}")
    ours = beat.get("gen") == gen  # a beat of an earlier claim says nothing of this one
    return Holder(run_id, gen, me["host"], me.get("boot", ""), int(me["pid"]), me.get("start", ""),
                  float(me["since"]), me["token"], float(beat.get("beat", 0)) if ours else 0.0,
                  bool(beat.get("released")) if ours else False)


class StudyLease:
    """The lease of one start; `take` returns the study's parent run id (created where the study has none)."""

    def __init__(self, runs, tries: int = 5):
        self.runs, self.client, self.tries = runs, runs.client, tries
        self.token = runs.token
        self.parent_id: str | None = None
        self.gen = 0
        self.lost: str | None = None  # set when a later start took the lease over
        self._stop = threading.Event()

    def _me(self) -> str:
        return json.dumps({"host": HOST, "boot": BOOT, "pid": os.getpid(), "start": process_start(os.getpid()),
                           "since": time.time(), "token": self.token})

    def take(self) -> str:
        from mlflow.exceptions import MlflowException

        created = None
        try:
            for _ in range(self.tries):
                parents = self.runs.parents()
                if not parents:
                    created = self.runs.create_parent()
                    continue  # looked up again: another start may have created one at the same moment
                self._refuse_if_held([p.info.run_id for p in parents])
                parent = parents[0].info.run_id  # the newest, as the reports read it
                last = holder_of(self.client, parent)
                # a start may have claimed it since the look above: the claim goes on top of the one just read,
                # and only if that one is gone (a claim of the same number since fails: MLflow writes it once)
                self._refuse_if_held_by(last)
                gen = (last.gen if last else 0) + 1
                try:
                    self.client.log_param(parent, f"{LEASE_PARAM}.{gen}", self._me())
                except MlflowException:  # another start claimed this one first: look again
                    time.sleep(random.uniform(0.1, 0.5))
                    continue
                self.parent_id, self.gen = parent, gen
                self._beat()
                # two starts of a new study may each have created a parent and claimed it: both step back and
                # try again, after a random pause, on the newest parent
                if any(h for p in self.runs.parents() if p.info.run_id != parent
                       for h in [holder_of(self.client, p.info.run_id)] if h and not h.stale()):
                    self.release()
                    self.parent_id, self.gen = None, 0
                    time.sleep(random.uniform(0.5, 2.0))
                    continue
                threading.Thread(target=self._renew, daemon=True, name="study-lease").start()
                return parent
            raise StudyBusy(f"study {self.runs.study} ({self.runs.preset}): another start took its lease at the "
                            f"same moment {self.tries} times; see --status")
        finally:
            if created and created != self.parent_id:
                held = holder_of(self.client, created)
                if held is None or held.stale():
                    self.client.delete_run(created)  # an empty parent this start made and nobody holds

    def _refuse_if_held(self, parent_ids: list[str]) -> None:
        for run_id in parent_ids:
            self._refuse_if_held_by(holder_of(self.client, run_id))

    def _refuse_if_held_by(self, held: Holder | None) -> None:
        if held and held.token != self.token and not held.stale():
            raise StudyBusy(f"study {self.runs.study} ({self.runs.preset}) is already running on this tracking "
                            f"store: {held.describe()}")

    def _beat(self, released: bool = False) -> None:
        self.client.set_tag(self.parent_id, BEAT_TAG,
                            json.dumps({"gen": self.gen, "beat": time.time(), "released": released}))

    def _renew(self) -> None:
        while not self._stop.wait(ttl_s() / 6):
            try:
                held = holder_of(self.client, self.parent_id)
                if held and held.gen != self.gen:
                    self.lost = (f"another start took the study over ({held.describe()}) while this one was not "
                                 f"heard from for over {ttl_s():.0f} s")
                    os.kill(os.getpid(), signal.SIGINT)  # the study stops; runs the other start reopened are left
                    return
                self._beat()
            except Exception:  # noqa: BLE001 - a store away for a while: try again at the next beat
                continue

    def release(self) -> None:
        """The start ends: its lease is free at once (not after TTL). Never raises: it runs on every way out."""
        self._stop.set()
        if self.parent_id and not self.lost:
            try:
                self._beat(released=True)
            except Exception:  # noqa: BLE001 - the store is away: the lease frees itself after TTL
                pass
