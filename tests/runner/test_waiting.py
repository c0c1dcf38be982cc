"""A study whose trials wait for resources says so: how many, how long, what each needs, what the cluster has."""
from types import SimpleNamespace

import ray

from ablations.callbacks import Waiting


def _trial(i, status, need):
    return SimpleNamespace(trial_id=f"t{i}", status=status,
                           placement_group_factory=SimpleNamespace(required_resources=need))


def test_waiting_trials_are_reported_after_the_bound_and_then_now_and_then(monkeypatch, capsys):
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0, "memory": 1e9})
    monkeypatch.setattr(ray, "available_resources", lambda: {"CPU": 0.0})
    clock = [1000.0]
    monkeypatch.setattr("ablations.callbacks.time.time", lambda: clock[0])
    cb = Waiting(after_s=30, every_s=60)
    trials = [_trial(0, "RUNNING", {"CPU": 1.0}), _trial(1, "PENDING", {"CPU": 1.0, "GPU": 0.25})]
    cb.on_step_end(0, trials)
    clock[0] += 20
    cb.on_step_end(1, trials)
    assert capsys.readouterr().out == ""  # not yet: waiting 20 s is normal start-up
    clock[0] += 15
    cb.on_step_end(2, trials)
    line = capsys.readouterr().out
    assert "1 trial(s) pending (starting, or waiting for resources), the longest for 0.6 min" in line
    assert "{CPU 1, GPU 0.25}" in line and "CPU 0 free of 2" in line
    clock[0] += 30
    cb.on_step_end(3, trials)
    assert capsys.readouterr().out == ""  # said once a minute, not every step
    trials[1].status = "RUNNING"
    clock[0] += 60
    cb.on_step_end(4, trials)
    assert capsys.readouterr().out == ""  # nothing waits any more
