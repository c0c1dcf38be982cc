"""A trial's run is tagged from what the plan gave its payload: its identity, its row and its own data.image (no
Ray, no MLflow: the callback writes into a recording outbox)."""
from types import SimpleNamespace

import yaml

from ablations.callbacks import MLflowTrials
from ablations.options import Options
from ablations.plan import make_plan
from ablations.study_file import load_study
from reports.contract import CONFIG_ARTIFACT, CONFIG_HASH_TAG, DATASET_TAG, IMAGES_TAG, SEED_TAG, VARIANT_TAG

STUDY = {
    "name": "images", "datasets": ["mnre"], "seeds": [1, 2],
    "base": {"data.context": "llava_next", "data.image": "features:mnre_vit.npz"},
    "variants": [{"name": "with images", "overrides": {}},
                 {"name": "without images", "overrides": {"data.image": "none"}}],
    "search": {"algorithm": "grid"}, "report": {"kind": "main"},
}


class RecordingOutbox:
    def __init__(self):
        self.children, self.texts, self.run_ids = {}, {}, {}

    def child(self, trial_hash, tags, params):
        self.children[trial_hash] = tags

    def text(self, trial_hash, text, path):
        self.texts[trial_hash, path] = text

    def flush(self):
        return True


def test_each_trial_is_tagged_with_its_planned_identity_and_its_own_data_image(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the study's relative features file is
    (tmp_path / "mnre_vit.npz").write_bytes(b"features")  # only its content's hash is read when planned
    path = tmp_path / "images.yaml"
    path.write_text(yaml.safe_dump(STUDY, sort_keys=False))
    options = Options(study=str(path), preset="smoke")
    plan = make_plan(load_study(path), options)
    outbox = RecordingOutbox()
    callback = MLflowTrials(outbox)
    trials = plan.units[0].trials
    for i, trial in enumerate(trials):
        callback.on_trial_start(0, [], SimpleNamespace(trial_id=str(i), config=plan.payload(trial, options).to_tune()))
    assert list(outbox.children) == [t.trial_hash for t in trials]  # each run is found again by its planned hash
    for trial in trials:
        tags = outbox.children[trial.trial_hash]
        assert (tags[VARIANT_TAG], tags[DATASET_TAG], tags[SEED_TAG]) == (trial.label, "mnre", "1")
        assert tags[CONFIG_HASH_TAG] == trial.config_hash
        images = {"with images": f"features:{tmp_path / 'mnre_vit.npz'}", "without images": "none"}
        assert tags[IMAGES_TAG] == images[trial.label]  # the file the trial reads, made absolute when planned
        assert "data:\n" in outbox.texts[trial.trial_hash, CONFIG_ARTIFACT]
