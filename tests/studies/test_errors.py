"""Every bad study file, name or preset is refused with a message that names the file and the key (and the line):
the file's own rules when it is read, the rules over whole configs when it is planned."""
from __future__ import annotations

import copy
import re

import pytest
import yaml

from ablations.options import Options
from ablations.plan import make_plan
from ablations.schema import StudyError
from ablations.study_file import load_study

GRID = {
    "name": "s", "description": "a test study", "datasets": ["twitter2017", "mnre"], "seeds": [1, 2],
    "base": {"align.alignment": "shapley"},
    "dataset_overrides": {"twitter2017": {"data.context": "blip2"}, "mnre": {"data.context": "llava_next"}},
    "sweep": {"align.tau": {"grid": [0.05, 0.1]}},
    "variants": [{"name": "no fusion", "overrides": {"model.fusion": False}}],
    "search": {"algorithm": "grid"}, "metric": "dev_f1", "mode": "max",
    "resources": {"workers": 1, "cpus_per_worker": 1, "gpus_per_worker": 0},
    "report": {"kind": "sweep", "params": ["align.tau"]},
}
OPTUNA = {
    "name": "s", "datasets": ["twitter2017"], "seeds": [1],
    "sweep": {"train.lr": {"loguniform": [1.0e-5, 1.0e-4]}, "shapley.samples": {"int": [1, 8]},
              "model.fusion_gate": {"choice": ["none", "token"]}},
    "search": {"algorithm": "optuna", "num_samples": 4}, "scheduler": {"type": "asha", "grace_period": 2},
    "base": {"train.epochs": 3}, "report": {"kind": "sweep", "params": ["train.lr"]},
}
ABLATION = {
    "name": "s", "datasets": ["mnre"], "seeds": [1], "search": {"algorithm": "grid"}, "report": {"kind": "ablation"},
    "dataset_overrides": {"mnre": {"data.context": "llava_next"}},
    "variants": [{"name": "full", "overrides": {}, "components": {"a": 1, "b": 1}},
                 {"name": "w/o a", "overrides": {"data.context": "none"}, "components": {"a": 0, "b": 1}}],
}


def write(tmp_path, data, name="s"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False) if isinstance(data, dict) else data)
    return path


def edit(study, **changes):
    """A deep copy of a study with top-level keys replaced (None removes the key)."""
    d = copy.deepcopy(study)
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def planned(path, preset="full"):
    return make_plan(load_study(str(path)), Options(study=str(path), preset=preset))


def refused(tmp_path, data, *fragments, name="s"):
    path = write(tmp_path, data, name)
    with pytest.raises(StudyError) as e:
        planned(path)
    msg = str(e.value)
    assert str(path) in msg, msg
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    return msg


def test_valid_examples_load_and_plan(tmp_path):
    for data in (GRID, OPTUNA, ABLATION):
        assert planned(write(tmp_path, data)).study.name == "s"


@pytest.mark.parametrize("data, fragments", [
    (edit(GRID, sweeps={}), ["sweeps", "unknown key", "did you mean 'sweep'"]),
    (edit(GRID, base={"train.lrr": 1e-5}), ["base.train.lrr", "unknown config parameter", "train.lr"]),
    (edit(GRID, base={"train.lr": "fast"}), ["base.train.lr", "train.lr: expected float"]),
    (edit(GRID, base={"data.dataset": "mnre"}), ["base.data.dataset", "datasets"]),
    (edit(GRID, base={"train.seed": 3}), ["base.train.seed", "seeds"]),
    (edit(GRID, base={"model.fusion_gate": "bogus"}), ["model.fusion_gate must be one of"]),
    (edit(GRID, dataset_overrides={"twitter2017": {"data.contxt": "blip2"}}),
     ["dataset_overrides.twitter2017.data.contxt", "unknown config parameter"]),
    (edit(GRID, dataset_overrides={"jmere": {"data.context": "blip"}}), ["dataset_overrides.jmere", "not one of"]),
    (edit(GRID, dataset_overrides={"mnre": {"data.context": "blip2"}}), ["data.context 'blip2'", "mnre"]),
    (edit(GRID, variants=[{"name": "x", "overrides": {"model.fusio": False}}]),
     ["variants[0].overrides.model.fusio", "unknown config parameter"]),
    (edit(GRID, variants=[{"name": "x", "overides": {}}]), ["variants[0].overides", "unknown key"]),
    (edit(GRID, variants=[{"overrides": {}}]), ["variants", "missing required key 'name'"]),
    (edit(GRID, variants=[{"name": "a=1", "overrides": {}}]), ["variants[0].name", "without '='"]),
    (edit(GRID, variants=[{"name": "x", "overrides": {"model.fusion": False}}, {"name": "x", "overrides": {}}]),
     ["variants[1].name", "defined twice"]),
    (edit(GRID, variants=[{"name": "x", "overrides": {}, "datasets": ["jmere"]}]), ["variants[0].datasets", "jmere"]),
    (edit(GRID, variants=[{"name": "x", "overrides": {}, "components": {"a": 2}}]), ["variants[0].components"]),
    (edit(GRID, variants=[{"name": "x", "overrides": {"align.tau": 0.1}}]),
     ["'align.tau=0.1' and 'x' resolve to the same config"]),
    (edit(GRID, sweep={"align.tauu": {"grid": [0.1]}}), ["sweep.align.tauu", "unknown config parameter"]),
    (edit(GRID, sweep={"align.tau": {"grid": []}}), ["sweep.align.tau", "non-empty list"]),
    (edit(GRID, sweep={"align.tau": {"grid": [0.1, 0.1]}}), ["sweep.align.tau", "twice"]),
    (edit(GRID, sweep={"align.tau": {"grid": [0.1, "x"]}}), ["sweep.align.tau", "expected float"]),
    (edit(GRID, sweep={"align.tau": {"grid": [0.1, -1.0]}}), ["align.tau must be positive"]),
    (edit(GRID, sweep={"align.tau": {"normal": [0, 1]}}), ["sweep.align.tau", "unknown distribution 'normal'"]),
    (edit(GRID, sweep={"align.tau": {"loguniform": [0.01, 1.0]}}), ["sweep.align.tau", "grid values only"]),
    (edit(GRID, sweep={"align.tau": [0.1, 0.2]}), ["sweep.align.tau", "one mapping"]),
    (edit(GRID, search={"algorithm": "random"}), ["search.algorithm", "unknown search algorithm 'random'"]),
    (edit(GRID, search={"algorithm": "grid", "num_samples": 3}), ["search.num_samples", "optuna"]),
    (edit(GRID, scheduler={"type": "asha"}), ["scheduler", "optuna searches only"]),
    (edit(GRID, report={"kind": "table"}), ["report.kind", "unknown report kind 'table'"]),
    (edit(GRID, report={"kind": "sweep", "params": ["train.lr"]}), ["report.params", "'train.lr' is not swept"]),
    (edit(GRID, report={"kind": "sweep"}), ["report.kind", "needs params"]),
    (edit(GRID, report={"kind": "sweep", "params": ["align.tau"], "reference": "exact"}),
     ["report.reference", "must name one of the variants", "or a point of the sweep grid", "'align.tau=0.05'",
      "got 'exact'"]),
    (edit(GRID, report={"kind": "sweep", "params": ["align.tau"], "reference": "align.tau=0.3"}),  # not on the grid
     ["report.reference", "got 'align.tau=0.3'"]),
    (edit(GRID, report=None), ["missing required key 'report'"]),
    (edit(GRID, datasets=["twitter2016"]), ["datasets", "unknown dataset 'twitter2016'"]),
    (edit(GRID, datasets=["mnre", "mnre"]), ["datasets", "twice"]),
    (edit(GRID, datasets=[]), ["datasets", "non-empty"]),
    (edit(GRID, seeds=[1, -2]), ["seeds", "integers 0 .. 4294967295"]),
    (edit(GRID, seeds=[2 ** 32]), ["seeds", "integers 0 .. 4294967295"]),
    (edit(GRID, seeds=[1, 1]), ["seeds", "twice"]),
    (edit(GRID, metric="test_f1"), ["metric", "unknown metric 'test_f1'"]),
    (edit(GRID, mode="min"), ["mode", "must be 'max'"]),
    (edit(GRID, resources={"workers": 0}), ["resources.workers", ">= 1"]),
    (edit(GRID, resources={"gpus": 1}), ["resources.gpus", "unknown key"]),
    (edit(GRID, resources={"cpus_per_worker": 0}), ["resources.cpus_per_worker", "positive"]),
    (edit(GRID, name="other"), ["name", "'other' must equal the file name 's'"]),
    (edit(GRID, base={"shapley.estimator": "exact", "train.batch_size": 32}), ["shapley.estimator=exact",
                                                                                "train.batch_size 32 exceeds 16"]),
    (edit(GRID, base={"shapley.estimator": "closed_form", "shapley.value": "logsumexp"}), ["closed_form"]),
    (edit(GRID, base={"train.lr": "1e999"}), ["base.train.lr", "expected a finite float, got '1e999'"]),
    (edit(GRID, base={"align.context_text": float("nan")}), ["base.align.context_text", "expected a finite float"]),
    (edit(GRID, variants=[{"name": "mine", "overrides": {"data.context": "file:/no/such.jsonl"}}]),
     ["row 'mine'", "data.context=file:/no/such.jsonl: no such file /no/such.jsonl"]),
    (edit(GRID, base={"model.encoder": "/no/such/dir"}), ["model.encoder=/no/such/dir", "no model folder"]),
])
def test_bad_grid_study(tmp_path, data, fragments):
    refused(tmp_path, data, *fragments)


@pytest.mark.parametrize("sweep, fragments", [
    ({"train.lr": {"loguniform": [0, 1.0e-4]}}, ["sweep.train.lr", "lo > 0"]),
    ({"train.lr": {"loguniform": [-1.0e-5, 1.0e-4]}}, ["sweep.train.lr", "lo > 0"]),
    ({"train.lr": {"loguniform": [1.0e-4, 1.0e-5]}}, ["sweep.train.lr", "lo < hi"]),
    ({"train.lr": {"uniform": [1.0e-4, 1.0e-4]}}, ["sweep.train.lr", "lo < hi"]),
    ({"train.lr": {"uniform": [1.0e-4]}}, ["sweep.train.lr", "[lo, hi]"]),
    ({"train.lr": {"uniform": ["low", 1.0]}}, ["sweep.train.lr", "numbers"]),
    ({"train.lr": {"uniform": [1.0e-5, float("inf")]}}, ["sweep.train.lr=inf", "expected a finite float"]),
    ({"shapley.samples": {"uniform": [1, 64]}}, ["sweep.shapley.samples", "shapley.samples is int"]),
    ({"align.tau": {"int": [1, 4]}}, ["sweep.align.tau", "integer parameter"]),
    ({"shapley.samples": {"logint": [0, 64]}}, ["sweep.shapley.samples", "lo > 0"]),
    ({"model.fusion_gate": {"choice": []}}, ["sweep.model.fusion_gate", "non-empty"]),
    ({"model.fusion_gate": {"choice": ["none", "wide"]}}, ["model.fusion_gate must be one of", "wide"]),
    ({"align.tau": {"grid": [0.1, 0.2]}}, ["sweep.align.tau", "use choice, not grid"]),
])
def test_bad_optuna_distribution(tmp_path, sweep, fragments):
    refused(tmp_path, edit(OPTUNA, sweep=sweep, report={"kind": "sweep", "params": [next(iter(sweep))]}), *fragments)


@pytest.mark.parametrize("data, fragments", [
    (edit(OPTUNA, search={"algorithm": "optuna"}), ["search", "needs num_samples"]),
    (edit(OPTUNA, search={"algorithm": "optuna", "num_samples": 0}), ["search.num_samples", ">= 1"]),
    (edit(OPTUNA, search={"algorithm": "optuna", "num_samples": 2, "sampler": "cmaes"}),
     ["search.sampler", "unknown sampler 'cmaes'"]),
    (edit(OPTUNA, scheduler={"type": "hyperband"}), ["scheduler.type", "unknown scheduler 'hyperband'"]),
    (edit(OPTUNA, scheduler={"type": "asha", "reduction_factor": 1}), ["scheduler.reduction_factor", "> 1"]),
    (edit(OPTUNA, scheduler={"type": "asha", "grace_period": 0}), ["scheduler.grace_period", ">= 1"]),
    (edit(OPTUNA, variants=[{"name": "x", "overrides": {}}]), ["variants", "optuna search has none"]),
    (edit(OPTUNA, sweep=None, report={"kind": "main"}), ["search", "needs a sweep"]),
    (edit(OPTUNA, sweep={"data.context": {"choice": ["blip2", "file:c.jsonl"]}},
          report={"kind": "sweep", "params": ["data.context"]}), ["sweep.data.context", "cannot sample file:"]),
])
def test_bad_optuna_study(tmp_path, data, fragments):
    refused(tmp_path, data, *fragments)


@pytest.mark.parametrize("variants, kind, fragments", [
    ([{"name": "full", "overrides": {}}], "ablation", ["needs components"]),
    ([{"name": "a", "overrides": {}, "components": {"a": 0}}, {"name": "b", "overrides": {"data.context": "none"},
                                                               "components": {"a": 0}}], "ablation",
     ["exactly one variant with every component on"]),
    ([{"name": "full", "overrides": {}, "components": {"a": 1}},
      {"name": "b", "overrides": {"data.context": "none"}, "components": {"b": 0}}], "ablation", ["variant 'b' has"]),
    ([{"name": "full", "overrides": {}, "components": {"a": 1, "b": 1}},
      {"name": "w/o a", "overrides": {"data.context": "none"}, "components": {"a": 0, "b": 1}}], "factorial",
     ["all 4 combinations", "missing"]),
    ([{"name": "full", "overrides": {}, "components": {"a": 1}},
      {"name": "w/o a", "overrides": {"data.context": "none"}, "components": {"a": 0}},
      {"name": "w/o a again", "overrides": {"model.fusion": False}, "components": {"a": 0}}], "factorial",
     ["'w/o a' and 'w/o a again' have the same components"]),
])
def test_bad_components(tmp_path, variants, kind, fragments):
    refused(tmp_path, edit(ABLATION, variants=variants, report={"kind": kind}), *fragments)


def test_ablation_rows_that_do_not_differ_are_refused(tmp_path):
    refused(tmp_path, edit(ABLATION, dataset_overrides=None), "rows 'full' and 'w/o a' resolve to the same config")


def test_ablation_with_a_sweep_is_refused(tmp_path):
    refused(tmp_path, edit(ABLATION, sweep={"align.tau": {"grid": [0.1, 0.2]}}), "sweeps nothing")


def test_errors_name_the_line(tmp_path):
    text = yaml.safe_dump(GRID, sort_keys=False).replace("align.alignment: shapley", "align.alignment: shapley\n"
                                                                                     "  train.lrr: 0.1")
    line = text.splitlines().index("  train.lrr: 0.1") + 1
    msg = refused(tmp_path, text, "base.train.lrr")
    assert re.search(rf"s\.yaml:{line}: base\.train\.lrr", msg), msg


def test_duplicate_yaml_key_is_refused(tmp_path):
    text = yaml.safe_dump(GRID, sort_keys=False) + "seeds: [3]\n"
    refused(tmp_path, text, "duplicate key 'seeds'")


def test_invalid_yaml_and_wrong_top_level(tmp_path):
    refused(tmp_path, "name: s\n  datasets: [", "not valid YAML")
    refused(tmp_path, "- a\n- b\n", "top level must be a mapping")


def test_unknown_study_name_lists_the_available_ones():
    with pytest.raises(StudyError, match=r"unknown study 'nope'; available: .*shapley_samples.*temperature"):
        load_study("nope")


def test_missing_study_file(tmp_path):
    with pytest.raises(StudyError, match="does not exist"):
        load_study(str(tmp_path / "absent.yaml"))


def test_unknown_preset(tmp_path):
    with pytest.raises(StudyError, match="unknown preset 'tiny'; available: smoke, cpu, compare, full"):
        planned(write(tmp_path, GRID), "tiny")


def test_whole_configs_are_checked_on_the_planned_trials_only(tmp_path):
    """The file is read without resolving a config; the planner checks the trials the selection and the preset
    keep (here the smoke preset keeps twitter2017, whose context generator is fine)."""
    bad_on_mnre = edit(GRID, dataset_overrides={"twitter2017": {"data.context": "blip2"},
                                                "mnre": {"data.context": "blip2"}})
    path = write(tmp_path, bad_on_mnre)
    assert load_study(str(path)).name == "s"
    assert planned(path, "smoke").study.datasets == ["twitter2017"]
    with pytest.raises(StudyError, match="data.context 'blip2' is not a context generator of mnre"):
        planned(path, "full")
