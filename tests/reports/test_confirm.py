"""A search's best trial, confirmed: the study file ablations/confirm.py writes from the search's runs."""
import dataclasses

import yaml
from mlflow.tracking import MlflowClient

from ablations import confirm
from ablations.study_file import load_study


def test_the_confirmation_sets_each_datasets_best_values_against_the_defaults(fixture_store, tmp_path, monkeypatch):
    # the fixture store's search is search_spaces/hpo.yaml run on two datasets under the name "search"
    searched = dataclasses.replace(load_study("hpo"), name="search", datasets=["twitter2017", "mnre"],
                                   dataset_overrides={"twitter2017": {"data.context": "blip2"},
                                                      "mnre": {"data.context": "llava_next"}})
    monkeypatch.setattr(confirm, "load_study", lambda name: searched if name == "search" else load_study(name))
    name, spec = confirm.confirmation("search", "cpu", [1, 2, 3], MlflowClient(fixture_store.uri))
    assert name == "search_confirm" and spec["seeds"] == [1, 2, 3] and spec["report"]["reference"] == "defaults"
    defaults, *best = spec["variants"]
    assert defaults == {"name": "defaults", "overrides": {}, "description": defaults["description"]}
    assert [b["datasets"] for b in best] == [["twitter2017"], ["mnre"]]
    # the best fixture trial on each dataset is the last one with the best gate (quality rises with both)
    assert {b["overrides"]["model.fusion_gate"] for b in best} == {"token"}
    assert all(isinstance(b["overrides"]["train.lr"], float) and isinstance(b["overrides"]["shapley.samples"], int)
               for b in best)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    study = load_study(path)  # a study the runner accepts
    assert [v.name for v in study.variants] == ["defaults", "best of search on twitter2017", "best of search on mnre"]
