"""One start of a study at a time (ablations/lease.py), on a real SQLite store, without Ray: a second start is
refused and told who runs it; a holder gone (its process, or silent past the TTL on another host) is taken over; of
starts racing on a new store exactly one gets the study; a start that lost the lease stops; and no start ends a run
another start opened, or one that has ended."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ablations import lease as lease_module
from ablations.lease import BEAT_TAG, LEASE_PARAM, StudyBusy, StudyLease, holder_of
from ablations.tracking import ENDED_BY_TAG, StudyRuns

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One store for the module (a new SQLite store costs seconds); each test its own study."""
    return f"sqlite:///{tmp_path_factory.mktemp('lease') / 'mlflow.db'}"


@pytest.fixture
def study(request) -> str:
    return request.node.name[5:40]


def _runs(store: str, study: str) -> StudyRuns:
    return StudyRuns(store, study, "smoke")


def test_a_second_start_is_refused_naming_the_first_until_the_first_releases(store, study):
    first = StudyLease(_runs(store, study))
    parent = first.take()
    try:
        with pytest.raises(StudyBusy, match=rf"already running .*: this host, pid {os.getpid()}, since .*last heard"):
            StudyLease(_runs(store, study)).take()
    finally:
        first.release()
    again = StudyLease(_runs(store, study))
    assert again.take() == parent  # the same study run, a new claim
    again.release()
    params = again.client.get_run(parent).data.params
    assert sorted(k for k in params if k.startswith(LEASE_PARAM)) == [f"{LEASE_PARAM}.1", f"{LEASE_PARAM}.2"]
    assert json.loads(again.client.get_run(parent).data.tags[BEAT_TAG]) == {
        "gen": 2, "beat": pytest.approx(time.time(), abs=60), "released": True}


def _claim(runs: StudyRuns, parent: str, gen: int, **who) -> None:
    """A claim as another start would have written it."""
    me = {"host": lease_module.HOST, "boot": lease_module.BOOT, "pid": os.getpid(), "start": "",
          "since": time.time(), "token": "someone-else", **who}
    runs.client.log_param(parent, f"{LEASE_PARAM}.{gen}", json.dumps(me))


def test_a_holder_whose_process_is_gone_is_taken_over_at_once(store, study):
    runs = _runs(store, study)
    parent = runs.create_parent()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _claim(runs, parent, 1, pid=dead.pid)  # crashed without a word (SIGKILL, the OOM killer)
    taken = StudyLease(_runs(store, study))
    assert taken.take() == parent and taken.gen == 2
    taken.release()


def test_a_reused_pid_is_not_mistaken_for_the_holder(store, study):
    runs = _runs(store, study)
    parent = runs.create_parent()
    _claim(runs, parent, 1, start="1")  # this very pid, but a process that started at another time
    taken = StudyLease(_runs(store, study))
    assert taken.take() == parent
    taken.release()


def test_a_holder_on_another_host_is_waited_for_until_it_has_been_silent_for_the_ttl(store, study, monkeypatch):
    monkeypatch.setenv(lease_module.TTL_ENV, "60")
    runs = _runs(store, study)
    parent = runs.create_parent()
    _claim(runs, parent, 1, host="node-7", since=time.time() - 30)
    with pytest.raises(StudyBusy, match="host node-7, pid"):
        StudyLease(_runs(store, study)).take()
    monkeypatch.setenv(lease_module.TTL_ENV, "20")  # now it has been silent for longer than the TTL
    held = holder_of(runs.client, parent)
    assert held.stale() == "not heard from for 30 s"
    taken = StudyLease(_runs(store, study))
    assert taken.take() == parent
    taken.release()


def test_starts_racing_on_a_new_store_leave_one_study_run_and_one_holder(tmp_path):
    """Three first starts at the same moment: each may create a parent run; one takes the study, the others are
    refused, and no empty parent is left behind."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = ("import sys, time\nfrom pathlib import Path\nfrom ablations.lease import StudyBusy, StudyLease\n"
            "from ablations.tracking import StudyRuns\n"
            "lease, flags = StudyLease(StudyRuns(sys.argv[1], 'raced', 'smoke')), Path(sys.argv[2])\n"
            "(flags / f'ready-{sys.argv[3]}').touch()\n"
            "while not (flags / 'go').exists():\n    time.sleep(0.01)\n"
            "try:\n    lease.take()\nexcept StudyBusy:\n    sys.exit(75)\n"
            "while not (flags / 'end').exists():\n    time.sleep(0.05)\nlease.release()\n")
    _runs(uri, "raced")  # the store exists before the starts: what races here is the study's run and its lease
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    starts = [subprocess.Popen([sys.executable, "-c", code, uri, str(tmp_path), str(i)], env=env,
                               stderr=subprocess.PIPE) for i in range(3)]
    try:
        while len(list(tmp_path.glob("ready-*"))) < 3 and all(p.poll() is None for p in starts):
            time.sleep(0.05)
        (tmp_path / "go").touch()
        deadline = time.time() + 120
        while sum(p.poll() is not None for p in starts) < 2 and time.time() < deadline:
            time.sleep(0.1)
    finally:
        (tmp_path / "end").touch()
    codes = sorted(p.wait(timeout=60) for p in starts)
    assert codes == [0, 75, 75], [p.stderr.read().decode()[-2000:] for p in starts]
    assert len(_runs(uri, "raced").parents()) == 1


def test_a_start_that_lost_the_lease_stops_and_ends_no_run_the_new_holder_opened(store, study, monkeypatch):
    monkeypatch.setenv(lease_module.TTL_ENV, "0.6")  # renewed every 0.1 s
    signals = []
    monkeypatch.setattr(lease_module.os, "kill", lambda pid, sig: signals.append((pid, sig)))
    old_runs = _runs(store, study)
    old = StudyLease(old_runs)
    parent = old.take()
    old_runs.use_parent(parent)
    old_runs.parent({})
    run_id, _ = old_runs.child("h1", {"variant": "v"}, {})
    _claim(old_runs, parent, old.gen + 1, host="node-7")  # it was stopped (Ctrl-Z) for longer than the TTL
    new_runs = _runs(store, study)
    new_runs.child("h1", {"variant": "v"}, {})  # the new holder reopened the trial's run
    deadline = time.time() + 10
    while not old.lost and time.time() < deadline:
        time.sleep(0.05)
    assert old.lost and "another start took the study over (host node-7" in old.lost
    assert signals == [(os.getpid(), lease_module.signal.SIGINT)]
    old_runs.finish(run_id, "KILLED")  # what the old start's Ctrl-C path writes: nothing
    assert old_runs.client.get_run(run_id).info.status == "RUNNING"
    old.release()
    assert json.loads(old_runs.client.get_run(parent).data.tags[BEAT_TAG]).get("released") is not True


def test_a_stopped_start_never_marks_a_finished_run_killed(store, study):
    runs = _runs(store, study)
    runs.use_parent(runs.create_parent())
    runs.parent({})
    run_id, _ = runs.child("h1", {"variant": "v"}, {})
    runs.finish(run_id, "FINISHED")
    runs.finish(run_id, "KILLED")  # e.g. a close of unfinished trials that came late
    assert runs.client.get_run(run_id).info.status == "FINISHED"


def test_trial_runs_a_dead_start_left_running_are_ended_killed_by_the_next_holder(store, study):
    dead = _runs(store, study)
    parent = dead.create_parent()
    # the claim of a start killed outright (its process gone: no such pid), written as it would have; not a
    # StudyLease of this process, whose renewal thread would find itself taken over and interrupt the test run
    _claim(dead, parent, 1, pid=2 ** 22 + 17)
    dead.use_parent(parent)
    dead.parent({})
    orphan, _ = dead.child("h-orphan", {"variant": "w/o context", "seed": "5"}, {})
    finished, _ = dead.child("h-done", {"variant": "full", "seed": "1"}, {})
    dead.finish(finished, "FINISHED")
    later = _runs(store, study)
    held = StudyLease(later)
    later.use_parent(held.take())
    try:
        assert later.end_orphans() == 1
        run = later.client.get_run(orphan)
        assert run.info.status == "KILLED" and later.token in run.data.tags[ENDED_BY_TAG]
        assert later.client.get_run(finished).info.status == "FINISHED"  # an ended run is left as it is
        assert later.end_orphans() == 0
    finally:
        held.release()
