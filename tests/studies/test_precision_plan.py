"""A planned trial names the precision it trains in: `train.amp=auto` is resolved when the study is planned."""
import dataclasses

import pytest

from ablations import study as study_module
from ablations.plan import plan
from ablations.study import load_study


@pytest.mark.parametrize("amp", ["bf16", "none"])
def test_auto_is_resolved_to_what_the_training_machine_computes(amp):
    study = dataclasses.replace(load_study("temperature"), amp_auto=amp)
    specs = plan(study, "smoke")
    assert specs and {s.config.train.amp for s in specs} == {amp}
    assert len({s.trial_hash for s in specs}) == len(specs)


def test_without_a_decision_the_planning_machine_decides_for_the_trials_device(monkeypatch):
    asked = []
    monkeypatch.setattr(study_module, "local_amp", lambda study: asked.append(study.resources) or "bf16")
    assert {s.config.train.amp for s in plan(load_study("temperature"), "smoke")} == {"bf16"}
    assert asked and asked[0]["gpus_per_worker"] == 0


def test_an_explicit_precision_is_kept():
    study = dataclasses.replace(load_study("temperature"), amp_auto="bf16", base={"train.amp": "none"})
    assert {s.config.train.amp for s in plan(study, "smoke")} == {"none"}


def test_the_machine_that_trains_decides(monkeypatch):
    from ablations import precision

    monkeypatch.setattr(precision, "_probe", lambda device: f"probed {device}")
    assert precision.training_amp(None, {"gpus_per_worker": 0})[0] == "probed cpu"
    assert precision.training_amp(None, {"gpus_per_worker": 0.25})[0] == "probed cuda"


def test_a_cluster_is_asked_with_a_trials_resources(ray_local, monkeypatch):
    from ablations import precision
    from shapca.precision import resolve_amp

    amp, where = precision.training_amp("local", {"cpus_per_worker": 1, "gpus_per_worker": 0})
    assert amp == resolve_amp("auto", "cpu") and "probe" in where
    # a GPU that no node has (an autoscaling cluster still starting): GPUs are assumed to compute bf16
    monkeypatch.setattr(precision, "PROBE_WAIT_S", 1.0)
    amp, where = precision.training_amp("local", {"cpus_per_worker": 1, "gpus_per_worker": 1})
    assert amp == "bf16" and "no cluster node took a probe" in where
