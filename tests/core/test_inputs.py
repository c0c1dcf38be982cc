"""The user's own files a config names (a `file:` context, a `features:` image file) are pinned: made absolute,
checked to exist and known by their content. The content, not the machine's path, is the run's identity."""
import pytest

from shapca.config import Config, ConfigError
from shapca.inputs import pin, verify

CONTEXTS = '{"img_id": "1.jpg", "text": "a dog on a beach"}\n'


def context_file(folder, text=CONTEXTS, name="mine.jsonl"):
    path = folder / "contexts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def planned(context: str, base=None, **over) -> Config:
    return pin(Config().update({"train.amp": "none", "data.context": context, **over}), base=base)


def test_a_relative_path_is_made_absolute_against_the_folder_the_command_runs_in(tmp_path, monkeypatch):
    path = context_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    cfg = planned("file:contexts/mine.jsonl")
    assert cfg.data.context == f"file:{path}" and len(cfg.data.context_sha256) == 64


def test_a_missing_file_is_refused_naming_the_key_and_the_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"data.context=file:contexts/none.jsonl: no such file "
                                          f"{tmp_path}/contexts/none.jsonl \\(a relative path is read from"):
        planned("file:contexts/none.jsonl")
    with pytest.raises(ConfigError, match="data.image=features:/no/such.safetensors: no such file"):
        planned("none", **{"data.image": "features:/no/such.safetensors"})


def test_the_same_content_under_another_machines_path_is_the_same_trial(tmp_path):
    here, there = context_file(tmp_path / "a"), context_file(tmp_path / "b" / "elsewhere")
    a, b = planned(f"file:{here}"), planned(f"file:{there}")
    assert a.data.context != b.data.context and a.hash() == b.hash()


def test_an_edited_file_is_new_work(tmp_path):
    path = context_file(tmp_path)
    before = planned(f"file:{path}").hash()
    path.write_text(CONTEXTS.replace("dog", "cat"))
    assert planned(f"file:{path}").hash() != before


def test_a_features_file_is_pinned_like_a_context_file(tmp_path):
    features = tmp_path / "f.safetensors"
    features.write_bytes(b"one")
    first = planned("none", base=tmp_path, **{"data.image": "features:f.safetensors"})
    assert first.data.image == f"features:{features}"
    features.write_bytes(b"two")
    assert planned("none", **{"data.image": f"features:{features}"}).hash() != first.hash()


def test_a_named_generator_keeps_its_hash_and_has_no_content_hash():
    cfg = Config().update({"train.amp": "none", "data.dataset": "mnre", "data.context": "llava_next",
                           "shapley.estimator": "permutation"})
    assert pin(cfg).hash() == "f3d23fb5efef" and cfg.data.context_sha256 == ""  # tests/core/test_identity.py


def test_a_run_refuses_a_file_that_changed_after_it_was_planned(tmp_path):
    path = context_file(tmp_path)
    cfg = planned(f"file:{path}")
    verify(cfg)  # unchanged: nothing to say
    path.write_text(CONTEXTS.replace("dog", "cat"))
    with pytest.raises(ConfigError, match="changed since its run was planned"):
        verify(Config.from_dict(cfg.to_dict()))  # as a trial gets it: its payload's config


def test_a_content_hash_belongs_to_its_path(tmp_path):
    cfg = planned(f"file:{context_file(tmp_path)}")
    cfg.update({"data.context": f"file:{context_file(tmp_path, name='other.jsonl', text='{}')}"})
    assert cfg.data.context_sha256 == ""  # another path is pinned anew, never with the old file's hash
    with pytest.raises(ConfigError, match="data.context_sha256 is the content hash of a data.context=file:<path>"):
        Config().update({"data.context": "blip2", "data.context_sha256": "ab" * 32})
