"""Every shipped study loads, validates and plans under every preset; plan sizes, labels and hashes are as designed."""
from __future__ import annotations

import re

import pytest

from ablations.describe import describe
from ablations.options import Options
from ablations.plan import GridUnit, make_plan
from ablations.presets import PRESETS
from ablations.schema import STUDY_DIR, StudyError
from ablations.study_file import available_studies, load_study

SHIPPED = ("shapley_samples", "temperature", "fusion_gating", "context_generator", "ablation", "factorial", "hpo",
           "main")
# trials per preset (smoke, cpu, compare, full); for hpo: samples per (dataset, seed) x datasets x seeds; ablation
# without its context-image row, which cannot differ from the full model without images (tests/studies/test_redundant)
EXPECTED_TRIALS = {
    "shapley_samples": (4, 18, 18, 54), "temperature": (2, 14, 12, 42), "fusion_gating": (3, 10, 15, 30),
    "context_generator": (2, 6, 9, 60), "ablation": (2, 10, 15, 60), "factorial": (2, 16, 24, 48),
    "hpo": (3, 12, 12, 40), "main": (2, 4, 6, 24), "align_weight": (5, 18, 27, 54),
    "hpo_confirm": (2, 4, 6, 6),  # written by ablations/confirm.py from the hpo search at compare
}


def plan(name, preset, **selection):
    return make_plan(load_study(name), Options(study=name, preset=preset, **selection))


def trials(name, preset, **selection):
    (grid,) = plan(name, preset, **selection).units
    return grid.trials


def test_every_required_study_is_shipped():
    assert set(SHIPPED) <= set(available_studies())
    assert set(available_studies()) <= set(EXPECTED_TRIALS), "a new study needs its expected sizes here"


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("preset", list(PRESETS))
def test_shipped_study_plans_under_every_preset(name, preset):
    made = plan(name, preset)
    text = describe(made)
    expected = EXPECTED_TRIALS[name][list(PRESETS).index(preset)]
    assert f"preset     {preset}:" in text and made.size == expected
    if isinstance(made.units[0], GridUnit):
        specs = made.units[0].trials
        assert len({s.trial_hash for s in specs}) == len(specs)
        assert text.count(" run\n") + text.endswith(" run") == expected  # one table line per trial
        for s in specs:
            assert s.config.flat()["data.dataset"] == s.dataset and s.config.train.seed == s.seed
            assert s.trial_hash == s.config.hash() and s.config_hash == s.config.hash(exclude=("train.seed",))
    else:
        cut = made.study
        assert cut.search["num_samples"] * len(cut.datasets) * len(cut.seeds) == expected
        assert len(made.units) == len(cut.datasets) * len(cut.seeds)
        assert f"{expected} trials" in text and "space" in text and "scheduler  asha" in text


def test_study_found_by_path_as_well_as_name():
    assert load_study(STUDY_DIR / "temperature.yaml").name == "temperature"


def test_presets_change_every_hash_and_are_recorded():
    smoke, full = trials("temperature", "smoke"), trials("temperature", "full")
    assert not {s.trial_hash for s in smoke} & {s.trial_hash for s in full}
    assert all(s.config.data.limit_train == 96 and s.config.train.epochs == 2 for s in smoke)
    assert all(s.config.data.limit_train == 0 for s in full)


def test_hashes_are_stable_and_split_rows_from_seeds():
    first, again = trials("ablation", "full"), trials("ablation", "full")
    assert [s.trial_hash for s in first] == [s.trial_hash for s in again]
    by_cell = {}
    for s in first:
        by_cell.setdefault(s.cell, set()).add(s.config_hash)
    assert all(len(h) == 1 for h in by_cell.values())  # seeds share a cell
    cells = [next(iter(h)) for h in by_cell.values()]
    assert len(set(cells)) == len(cells)  # variants and datasets do not


def test_done_hashes_are_marked_skip():
    made = plan("shapley_samples", "smoke")
    specs = made.units[0].trials
    text = describe(made, {specs[0].trial_hash, specs[2].trial_hash})
    skipped = [line for line in text.splitlines() if line.endswith("skip (done)")]
    assert len(skipped) == 2 and specs[0].trial_hash in skipped[0] and specs[2].trial_hash in skipped[1]
    assert "2 to run, 2 done (skip)" in text


def test_shapley_samples_rows():
    specs = trials("shapley_samples", "full")
    tw = [s for s in specs if s.dataset == "twitter2017" and s.seed == 1]
    assert [s.label for s in tw] == [f"shapley.samples={m}" for m in (1, 2, 4, 8, 16, 32, 64)] + [
        "exact (batch 8)", "closed form"]
    exact = tw[-2].config
    assert exact.shapley.estimator == "exact" and exact.train.batch_size == 8
    assert tw[-1].config.shapley.estimator == "closed_form" and tw[-1].config.train.batch_size == 16
    assert tw[3].row.swept == {"shapley.samples": 8} and tw[3].config.shapley.samples == 8 and tw[-1].row.swept == {}
    assert {s.config.data.context for s in specs if s.dataset == "mnre"} == {"llava_next"}


def test_smoke_keeps_the_extremes():
    specs = trials("shapley_samples", "smoke")
    assert [s.label for s in specs] == ["shapley.samples=1", "shapley.samples=64", "exact (batch 8)",
                                          "closed form"]


def test_context_generator_runs_each_generator_on_its_datasets_only():
    specs = trials("context_generator", "full")
    for dataset, names in {"twitter2017": {"none", "blip2", "chatgpt"}, "twitter2015": {"none", "blip2", "chatgpt"},
                           "mnre": {"none", "llava_next", "cogvlm", "minicpm_v", "qwen_vl", "instructblip", "blip"},
                           "jmere": {"none", "llava_next", "cogvlm", "minicpm_v", "qwen_vl", "instructblip",
                                     "blip"}}.items():
        rows = {s.label: s.config.data.context for s in specs if s.dataset == dataset}
        assert set(rows) == names and all(rows[n] == n for n in names)
    assert all(s.config.data.context_fallback == "empty" for s in specs if s.label == "chatgpt")


def test_ablation_and_factorial_components():
    ablation = trials("ablation", "full", run_redundant=True)  # with the context-image row (test_redundant.py)
    full = [s for s in ablation if s.label == "full" and s.dataset == "mnre"][0]
    assert full.row.components == {"context": 1, "shapley": 1, "context_text": 1, "context_image": 1, "fusion": 1}
    assert full.config.data.context == "llava_next"
    wo = {s.label: s for s in ablation if s.dataset == "mnre" and s.seed == 1}
    assert wo["w/o context"].config.data.context == "none" and wo["w/o context"].row.components["context"] == 0
    assert wo["w/o Shapley"].config.align.alignment == "infonce"
    assert wo["w/o context-text alignment"].config.align.context_text == 0
    assert wo["w/o context-image alignment"].config.align.context_image == 0
    assert wo["w/o adaptive fusion"].config.model.fusion is False
    combos = {tuple(sorted(s.row.components.items())) for s in trials("factorial", "full")}
    assert len(combos) == 8


def test_hpo_plans_one_search_per_dataset_and_seed_over_its_base():
    (unit,) = plan("hpo", "full").units
    assert (unit.base.dataset, unit.base.seed, unit.budget) == ("twitter2017", 1, 40)
    assert unit.base.label == "base" and unit.base.row.components is None
    assert unit.base.config.train.epochs == 6 and unit.base.config.data.context == "blip2"
    assert list(unit.space) == ["train.lr", "align.tau", "shapley.samples", "model.fusion_gate"]
    (cpu,) = plan("hpo", "cpu").units
    assert cpu.base.config.train.epochs == 2 and cpu.budget == 12


def test_selection_keeps_the_chosen_rows_and_their_identity():
    specs = trials("context_generator", "compare", datasets=("mnre",), variants=("none", "blip"), seeds=(2,))
    assert {(s.dataset, s.label, s.seed) for s in specs} == {("mnre", "none", 2), ("mnre", "blip", 2)}
    whole = {s.trial_hash for s in trials("context_generator", "compare", datasets=("mnre",))}
    assert {s.trial_hash for s in specs} <= whole  # a chosen trial is the whole study's trial
    chosen = plan("context_generator", "compare", datasets=("mnre",), variants=("none", "blip"), seeds=(2,))
    assert "variants 9 -> 2 (none, blip) chosen" in describe(chosen)


@pytest.mark.parametrize("choice, message", [
    ({"datasets": ["conll"]}, "--datasets conll: study 'context_generator' runs on twitter2017"),
    ({"variants": ["gpt4"]}, "--variants 'gpt4': study 'context_generator' has 'none', 'blip2'"),
    ({"datasets": ["mnre"], "variants": ["blip2"]}, "--variants 'blip2': not run on mnre"),
    ({"seeds": [1, 1]}, "--seeds 1 1: give distinct seeds"),
])
def test_selection_refuses_what_the_study_lacks(choice, message):
    with pytest.raises(StudyError, match=re.escape(message)):
        plan("context_generator", "full", **{k: tuple(v) for k, v in choice.items()})


def test_extra_seeds_add_ordinary_trials_to_the_rows_given_only():
    """The hook for adding seeds to undetermined rows: the plan carries a per-row seed set."""
    study, options = load_study("shapley_samples"), Options(study="shapley_samples", preset="compare")
    base = make_plan(study, options).units[0].trials
    more = make_plan(study, options, extra_seeds={("closed form", "twitter2017"): [4, 5]}).units[0].trials
    added = [t for t in more if t not in base]
    assert [(t.label, t.dataset, t.seed) for t in added] == [("closed form", "twitter2017", 4),
                                                             ("closed form", "twitter2017", 5)]
    assert [t for t in more if t not in added] == list(base)  # every planned trial stays as it was
    assert {t.config_hash for t in added} == {t.config_hash for t in base if t.label == "closed form"}
    assert len({t.trial_hash for t in more}) == len(more)
    with pytest.raises(StudyError, match=r"cells the plan does not have: \[\('closed form', 'mnre'\)\]"):
        make_plan(study, options, extra_seeds={("closed form", "mnre"): [4]})  # compare keeps twitter2017 only
    with pytest.raises(StudyError, match=r"extra seeds \[3\] of row 'closed form' on twitter2017 repeat"):
        make_plan(study, options, extra_seeds={("closed form", "twitter2017"): [3]})
    with pytest.raises(StudyError, match="extra seeds are for the rows of a grid"):
        make_plan(load_study("hpo"), Options(study="hpo"), extra_seeds={("base", "twitter2017"): [2]})
