"""A trial's identity (Config.hash) survives upgrades that keep behaviour, and changes with what changes training."""
import pytest

from shapca import config as config_module
from shapca.config import Config

# Hashes of known configs. A new config key that is not registered in config.ADDED_SINCE changes them: register
# it with the value that keeps the old behaviour (or, if the change is meant to alter training, update these).
# The defaults' hashes changed on purpose when length bucketing came (it changes the batches); with the pool at 0,
# the hashes from before it still hold.
MNRE = {"data.dataset": "mnre", "data.context": "llava_next", "shapley.estimator": "permutation"}
KNOWN = [({"train.length_bucket_pool": 0}, "d9df91ef2c72"),
         ({**MNRE, "train.length_bucket_pool": 0}, "452d3f605133"),
         ({}, "66f0b379cb0f"),
         (MNRE, "f3d23fb5efef")]


@pytest.mark.parametrize("overrides,expected", KNOWN)
def test_known_configs_keep_their_hash(overrides, expected):
    assert Config().update(overrides).hash() == expected


def _with_new_key(monkeypatch, value, registered_default):
    """Config as if a release had added `train.new_switch` (default `value`)."""
    flat = Config.flat
    monkeypatch.setattr(Config, "flat", lambda self: {**flat(self), "train.new_switch": value})
    monkeypatch.setitem(config_module.ADDED_SINCE, "train.new_switch", registered_default)


def test_a_new_key_at_its_old_behaviour_leaves_every_hash_unchanged(monkeypatch):
    before = [Config().update(o).hash() for o, _ in KNOWN]
    _with_new_key(monkeypatch, False, registered_default=False)
    assert [Config().update(o).hash() for o, _ in KNOWN] == before


def test_a_new_key_set_to_new_behaviour_changes_the_hash(monkeypatch):
    before = Config().hash()
    _with_new_key(monkeypatch, True, registered_default=False)
    assert Config().hash() != before


@pytest.mark.parametrize("key,value", [("train.lr", 1e-4), ("shapley.estimator", "permutation"),
                                       ("align.tau", 0.2), ("data.limit_train", 100)])
def test_what_changes_training_changes_the_hash(key, value):
    assert Config().update({key: value}).hash() != Config().hash()


@pytest.mark.parametrize("key,value", [("data.mirror", "/elsewhere"), ("train.num_threads", 2),
                                       ("train.device", "cpu")])
def test_where_and_how_a_trial_runs_is_not_its_identity(key, value):
    assert Config().update({key: value}).hash() == Config().hash()
