"""Presets cut studies as documented, before any config is resolved; the Optuna search space keeps the file's
inclusive bounds."""
from __future__ import annotations

import yaml

from ablations.launch import tune_space
from ablations.options import Options
from ablations.plan import make_plan
from ablations.presets import PRESETS, apply_preset, spaced
from ablations.study_file import load_study
from trainables.payload import trial_of

STUDY = {
    "name": "s", "datasets": ["twitter2017", "mnre"], "seeds": [4, 5, 6],
    "dataset_overrides": {"twitter2017": {"data.context": "blip2"}, "mnre": {"data.context": "llava_next"}},
    "sweep": {"align.tau": {"grid": [0.01, 0.02, 0.05, 0.1, 0.2]}, "train.epochs": {"grid": [3, 5]}},
    "variants": [{"name": "mnre only", "overrides": {"data.context": "cogvlm"}, "datasets": ["mnre"]},
                 {"name": "a", "overrides": {"model.fusion": False}},
                 {"name": "b", "overrides": {"align.alignment": "infonce"}},
                 {"name": "c", "overrides": {"data.context": "none"}}],
    "search": {"algorithm": "grid"}, "report": {"kind": "sweep", "params": ["align.tau"]},
}
OPTUNA = {
    "name": "o", "datasets": ["twitter2017"], "seeds": [1],
    "sweep": {"train.lr": {"loguniform": ["1e-5", "1e-4"]}, "align.tau": {"uniform": [0.05, 0.5]},
              "shapley.samples": {"int": [1, 8]}, "model.fusion_heads": {"logint": [1, 8]},
              "model.fusion_gate": {"choice": ["none", "token"]}},
    "search": {"algorithm": "optuna", "num_samples": 20, "seed": 3},
    "scheduler": {"type": "asha", "grace_period": 2}, "report": {"kind": "sweep", "params": ["train.lr"]},
}


def load(tmp_path, data):
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_study(str(path))


def plan(study, preset):
    return make_plan(study, Options(study=str(study.path), preset=preset))


def trials(study, preset):
    (grid,) = plan(study, preset).units
    return grid.trials


def test_spaced_keeps_first_and_last():
    assert spaced([1, 2, 3], None) == [1, 2, 3] and spaced([1, 2], 3) == [1, 2]
    assert spaced([1, 2, 4, 8, 16, 32, 64], 2) == [1, 64]
    assert spaced([1, 2, 4, 8, 16, 32, 64], 3) == [1, 8, 64]
    assert spaced(["a", "b"], 1) == ["a"]


def test_spaced_keeps_the_reference_in_place_of_the_item_nearest_it():
    taus = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    assert spaced(taus, 4) == [0.01, 0.05, 0.2, 1.0]
    assert spaced(taus, 4, 0.1) == [0.01, 0.1, 0.2, 1.0]  # 0.05 (nearest, inner) gave way; first and last stay
    assert spaced(taus, 4, 0.2) == spaced(taus, 4) and spaced(taus, 4, 9.9) == spaced(taus, 4)
    assert spaced(["a", "b", "c"], 1, "c") == ["c"]


def test_a_cut_grid_keeps_the_point_the_study_compares_with(tmp_path):
    data = {k: v for k, v in STUDY.items() if k != "variants"}
    study = load(tmp_path, {**data, "sweep": {"align.tau": STUDY["sweep"]["align.tau"]},
                            "report": {"kind": "sweep", "params": ["align.tau"], "reference": "align.tau=0.1"}})
    cut, _ = apply_preset(study, PRESETS["smoke"])
    assert cut.sweep["align.tau"].values == (0.01, 0.1) and cut.report["reference"] == "align.tau=0.1"


def test_cut_variants_keep_the_one_the_study_compares_with(tmp_path):
    study = load(tmp_path, {**STUDY, "report": {"kind": "sweep", "params": ["align.tau"], "reference": "b"}})
    cut, _ = apply_preset(study, PRESETS["smoke"])
    assert [v.name for v in cut.variants] == ["b", "c"]  # b in place of a, the first of a, b, c


def test_smoke_cuts(tmp_path):
    study = load(tmp_path, STUDY)
    smoke, cuts = apply_preset(study, PRESETS["smoke"])
    assert smoke.datasets == ["twitter2017"] and smoke.seeds == [4]
    assert smoke.sweep["align.tau"].values == (0.01, 0.2) and smoke.sweep["train.epochs"].values == (3, 5)
    # 'mnre only' is dropped with its dataset before the cap keeps the first and last of a, b, c
    assert [v.name for v in smoke.variants] == ["a", "c"]
    assert list(smoke.dataset_overrides) == ["twitter2017"]
    assert any(c.startswith("align.tau grid 5 -> 2") for c in cuts)
    assert len(study.variants) == 4  # the loaded study is not changed
    made = plan(study, "smoke")
    assert made.preset == PRESETS["smoke"] and made.cuts == tuple(cuts)


def test_preset_overrides_apply_last_but_never_to_swept_keys(tmp_path):
    specs = trials(load(tmp_path, STUDY), "cpu")
    assert len(specs) == (5 * 2 + 3) * 2  # first dataset: 10 grid points + 3 variants, 2 seeds
    grid = [s for s in specs if s.row.swept]
    assert {s.config.train.epochs for s in grid} == {3, 5}  # swept: the preset's 2 epochs do not apply
    assert all(s.config.data.limit_train == 400 and s.config.data.max_len == 64 for s in specs)
    # a swept key is the study's axis in every row: the named variants keep the default too
    assert {s.config.train.epochs for s in specs if not s.row.swept} == {3}
    assert [s.seed for s in specs[:2]] == [4, 5]


def test_full_changes_nothing(tmp_path):
    study = load(tmp_path, STUDY)
    full = plan(study, "full")
    assert full.cuts == () and full.preset.overrides == {}
    assert full.size == (10 + 3) * 3 + (10 + 4) * 3


def test_optuna_cuts_and_grace_period(tmp_path):
    study = load(tmp_path, OPTUNA)
    smoke = plan(study, "smoke")
    assert smoke.study.search["num_samples"] == 3 and smoke.study.scheduler["grace_period"] == 2  # = its 2 epochs
    assert [u.budget for u in smoke.units] == [3]
    assert plan(study, "cpu").study.search["num_samples"] == 12
    assert plan(study, "full").study.scheduler["grace_period"] == 2
    assert smoke.units[0].base.config.train.epochs == 2


def test_search_space_bounds_are_inclusive_in_optuna(tmp_path):
    from ray.tune.search.optuna import OptunaSearch

    space = tune_space(plan(load(tmp_path, OPTUNA), "full").units[0].space)
    assert list(space) == list(OPTUNA["sweep"])
    assert (space["shapley.samples"].lower, space["shapley.samples"].upper) == (1, 9)  # Tune: upper exclusive
    optuna = OptunaSearch.convert_search_space(space)
    assert (optuna["shapley.samples"].low, optuna["shapley.samples"].high) == (1, 8)
    assert optuna["model.fusion_heads"].log and optuna["model.fusion_heads"].high == 8
    assert optuna["train.lr"].log and (optuna["train.lr"].low, optuna["train.lr"].high) == (1e-5, 1e-4)
    assert not optuna["align.tau"].log and optuna["align.tau"].high == 0.5
    assert optuna["model.fusion_gate"].choices == ("none", "token")


def test_a_sampled_trial_is_its_base_with_the_sampled_values_and_has_their_identity(tmp_path):
    made = plan(load(tmp_path, OPTUNA), "cpu")
    (unit,) = made.units
    sampled = {"train.lr": 2e-5, "align.tau": 0.123456, "shapley.samples": 3, "model.fusion_heads": 2,
               "model.fusion_gate": "token"}
    trial = trial_of(made.payload(unit.base, Options(study="o")).to_tune(sampled))
    expected = unit.base.config.copy().update(sampled)
    assert trial.config == expected and trial.config.train.epochs == 2  # the preset's epochs are in the base
    assert (trial.trial_hash, trial.config_hash) == (expected.hash(), expected.hash(exclude=("train.seed",)))
    assert trial.trial_hash != unit.base.trial_hash
    assert trial.label.startswith("train.lr=2e-05, align.tau=0.1235, shapley.samples=3")
    unsampled = trial_of(made.payload(unit.base, Options(study="o")).to_tune())
    assert (unsampled.label, unsampled.trial_hash) == ("base", unit.base.trial_hash)
