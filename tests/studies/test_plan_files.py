"""A study's `file:` contexts are planned as docs/contexts.md writes them (relative to the folder the command runs
in): each trial carries the absolute path and the content's hash, which is its identity, not the path."""
from __future__ import annotations

import yaml

from ablations.options import Options
from ablations.plan import make_plan
from ablations.study_file import load_study
from trainables.payload import trial_of

STUDY = {"name": "mine", "datasets": ["twitter2017"], "seeds": [1], "search": {"algorithm": "grid"},
         "report": {"kind": "main"},
         "variants": [{"name": "blip2", "overrides": {"data.context": "blip2"}},
                      {"name": "mine", "overrides": {"data.context": "file:contexts/mine.jsonl"}}]}


def plan_in(folder, monkeypatch):
    (folder / "contexts").mkdir(parents=True, exist_ok=True)
    path = folder / "mine.yaml"
    path.write_text(yaml.safe_dump(STUDY, sort_keys=False))
    monkeypatch.chdir(folder)
    plan = make_plan(load_study(str(path)), Options(study=str(path), preset="smoke"), amp=("none", "a test"))
    return {t.label: t for t in plan.units[0].trials}, plan


def test_a_relative_file_context_is_planned_absolute_and_known_by_its_content(tmp_path, monkeypatch):
    here, there = tmp_path / "here", tmp_path / "there"
    for folder in (here, there):
        (folder / "contexts").mkdir(parents=True)
        (folder / "contexts" / "mine.jsonl").write_text('{"img_id": "1.jpg", "text": "a dog"}\n')
    trials, plan = plan_in(here, monkeypatch)
    mine = trials["mine"]
    assert mine.config.data.context == f"file:{here / 'contexts' / 'mine.jsonl'}"
    # the payload a trial gets carries the pinned file; the trial's own identity is the planned one
    assert trial_of(plan.payload(mine, Options(study="mine")).to_tune()).trial_hash == mine.trial_hash
    # the same file on another machine's path: the same trial, so a finished one is skipped there too
    elsewhere, _ = plan_in(there, monkeypatch)
    assert elsewhere["mine"].trial_hash == mine.trial_hash and elsewhere["blip2"] == trials["blip2"]
    # edited: new work in a cell of its own; the generator's row is unchanged
    (there / "contexts" / "mine.jsonl").write_text('{"img_id": "1.jpg", "text": "a cat"}\n')
    edited, _ = plan_in(there, monkeypatch)
    assert edited["mine"].trial_hash != mine.trial_hash and edited["mine"].config_hash != mine.config_hash
    assert edited["blip2"].trial_hash == trials["blip2"].trial_hash
