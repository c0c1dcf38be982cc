"""Child run names fit MLflow's runs table: the swept key shortened, the dataset abbreviated, distinct per row."""
import pytest

from ablations.tracking import run_name, short_label
from shapca.config import format_assignments


def name(variant, dataset="twitter2017", seed=1):
    return run_name({"variant": variant, "dataset": dataset, "seed": str(seed)})


def test_grid_rows_read_their_value_first():
    assert name(format_assignments({"shapley.samples": 16})) == "M=16 · t17 · s1"
    assert name(format_assignments({"align.tau": 0.05}), "twitter2015", 3) == "tau=0.05 · t15 · s3"
    assert name(format_assignments({"model.fusion_gate": "token"}), "mnre") == "gate=token · mnre · s1"
    assert name(format_assignments({"train.lr": 3e-5}), "jmere") == "lr=3e-05 · jmere · s1"


def test_sweep_rows_are_distinct_within_the_first_characters():
    names = [name(format_assignments({"shapley.samples": m})) for m in (1, 2, 4, 8, 16, 32, 64)]
    assert len({n[:12] for n in names}) == len(names)
    assert all(len(n) <= 20 for n in names)


def test_sampled_trials_keep_every_value_in_order():
    label = format_assignments({"train.lr": 3.21e-5, "align.tau": 0.1234567, "shapley.samples": 8,
                                "model.fusion_gate": "vector"}, digits=4)  # as trainables.payload.trial_of labels
    assert short_label(label) == "lr=3.21e-05 tau=0.1235 M=8 gate=vector"


def test_named_variants_and_values_with_commas_are_kept():
    assert name("w/o Shapley, fusion") == "w/o Shapley, fusion · t17 · s1"
    assert name("exact (batch 8)", "twitter2015", 2) == "exact (batch 8) · t15 · s2"
    assert short_label("data.context=[a, b]") == "context=[a, b]"


def test_keys_whose_last_parts_collide_stay_whole():
    assert short_label("model.dropout=0.1, train.dropout=0.2") == "model.dropout=0.1 train.dropout=0.2"


@pytest.mark.parametrize("dataset", ["other_set", ""])
def test_unknown_dataset_is_named_as_is(dataset):
    assert name("full", dataset) == f"full · {dataset} · s1"
