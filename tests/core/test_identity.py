"""A trial's identity (Config.hash) survives upgrades that keep behaviour, and changes with what changes training."""
import pytest

from shapca import config as config_module
from shapca.config import Config, ConfigError

# Hashes of known configs. A new config key that is not registered in config.ADDED_SINCE changes them: register
# it with the value that keeps the old behaviour (or, if the change is meant to alter training, update these).
# The defaults' hashes changed on purpose when length bucketing came (it changes the batches); with the pool at 0,
# the hashes from before it still hold.
# Every trial before bf16 trained in float32 (train.amp=none, then the default): with `auto` resolved to float32
# they keep their hashes.
MNRE = {"data.dataset": "mnre", "data.context": "llava_next", "shapley.estimator": "permutation"}
FLOAT32 = {"train.amp": "none"}
KNOWN = [({**FLOAT32, "train.length_bucket_pool": 0}, "d9df91ef2c72"),
         ({**FLOAT32, **MNRE, "train.length_bucket_pool": 0}, "452d3f605133"),
         (FLOAT32, "66f0b379cb0f"),
         ({**FLOAT32, **MNRE}, "f3d23fb5efef")]


def resolved(overrides: dict | None = None) -> Config:
    """A config with its precision resolved, as every planned trial has it."""
    return Config().update({**FLOAT32, **(overrides or {})})


@pytest.mark.parametrize("overrides,expected", KNOWN)
def test_known_configs_keep_their_hash(overrides, expected):
    assert Config().update(overrides).hash() == expected


def test_the_precision_is_part_of_the_identity():
    assert resolved({"train.amp": "bf16"}).hash() != resolved().hash()
    with pytest.raises(ConfigError, match="train.amp=auto has no identity"):
        Config().hash()  # `auto` could train in either precision: it has no identity until resolved


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
    before = resolved().hash()
    _with_new_key(monkeypatch, True, registered_default=False)
    assert resolved().hash() != before


@pytest.mark.parametrize("key,value", [("train.lr", 1e-4), ("shapley.estimator", "permutation"),
                                       ("align.tau", 0.2), ("data.limit_train", 100)])
def test_what_changes_training_changes_the_hash(key, value):
    assert resolved({key: value}).hash() != resolved().hash()


@pytest.mark.parametrize("key,value", [("data.mirror", "/elsewhere"), ("train.num_threads", 2),
                                       ("train.device", "cpu")])
def test_where_and_how_a_trial_runs_is_not_its_identity(key, value):
    assert resolved({key: value}).hash() == resolved().hash()
