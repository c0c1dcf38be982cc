"""A planned trial names the precision it trains in: `train.amp=auto` is resolved when the study is planned."""
import dataclasses

import pytest

from ablations import machine as precision
from ablations.options import Options
from ablations.plan import make_plan
from ablations.study_file import load_study


def configs(study, amp=None):
    plan = make_plan(study, Options(study=study.name, preset="smoke"), amp=amp)
    return [t.config for t in plan.planned]


@pytest.mark.parametrize("amp", ["bf16", "none"])
def test_auto_is_resolved_to_what_the_training_machine_computes(amp):
    planned = configs(load_study("temperature"), (amp, "a test"))
    assert planned and {c.train.amp for c in planned} == {amp}


def test_without_a_decision_the_planning_machine_decides_for_the_trials_device(monkeypatch):
    asked = []
    monkeypatch.setattr(precision, "_probe", lambda device: asked.append(device) or "bf16")
    assert {c.train.amp for c in configs(load_study("temperature"))} == {"bf16"}
    assert asked == ["cpu"]  # the study's trials ask for no GPU


def test_an_explicit_precision_is_kept():
    study = dataclasses.replace(load_study("temperature"), base={"train.amp": "none"})
    assert {c.train.amp for c in configs(study, ("bf16", "a test"))} == {"none"}


def test_the_machine_that_trains_decides(monkeypatch):
    from ablations import machine as precision

    monkeypatch.setattr(precision, "_probe", lambda device: f"probed {device}")
    assert precision.training_amp(None, {"gpus_per_worker": 0})[0] == "probed cpu"
    assert precision.training_amp(None, {"gpus_per_worker": 0.25})[0] == "probed cuda"


def test_a_cluster_is_asked_with_a_trials_resources(ray_local, monkeypatch):
    from ablations import machine as precision
    from shapca.precision import resolve_amp

    amp, where = precision.training_amp("local", {"cpus_per_worker": 1, "gpus_per_worker": 0})
    assert amp == resolve_amp("auto", "cpu") and "probe" in where
    # a GPU that no node has (an autoscaling cluster still starting): GPUs are assumed to compute bf16
    monkeypatch.setattr(precision, "PROBE_WAIT_S", 1.0)
    amp, where = precision.training_amp("local", {"cpus_per_worker": 1, "gpus_per_worker": 1})
    assert amp == "bf16" and "no cluster node took a probe" in where
