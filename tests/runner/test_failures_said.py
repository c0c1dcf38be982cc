"""What went wrong is said where the user looks (no Ray: Tune's callbacks are called as Tune calls them): a failed
trial's first line in the progress line, the summary and its MLflow error tag; a checkpoint set aside; Tune failing
on its own records (a full disk) ends the study with the path and what is free, or only notes it when every trial
had ended."""
from types import SimpleNamespace

import yaml

from ablations import launch
from ablations.callbacks import MLflowTrials
from ablations.progress_line import Progress
from ablations.launch import Outcome
from ablations.options import Options
from ablations.plan import make_plan
from ablations.study_file import load_study
from reports.contract import CHECKPOINT_SET_ASIDE_TAG
from trainables.epoch_report import SET_ASIDE_KEY

STUDY = {"name": "said", "datasets": ["twitter2017"], "seeds": [1, 2], "base": {"data.context": "blip2"},
         "variants": [{"name": "full", "overrides": {}}], "search": {"algorithm": "grid"},
         "report": {"kind": "main"}}
CAUSE = "DataError: contexts/bad.jsonl:501: not valid JSON"
TUNE_ERROR = ("Failure # 1 (occurred at 2026-12-06_16-34-15)\nray::ImplicitFunc.train() (pid=1)\n"
              '  File "shapca/data/pyliteral.py", line 74, in numbered_records\n'
              '    raise DataError(path, lineno, f"not {what}: {e}") from None\n'
              f"shapca.data.errors.{CAUSE}\n")


class Recording:
    def __init__(self):
        self.writes, self.run_ids = [], {}

    def __getattr__(self, kind):
        return lambda *args, **kwargs: self.writes.append((kind, *args))

    def flush(self):
        return True


def _trials(tmp_path):
    path = tmp_path / "said.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    options = Options(study=str(path), preset="full")
    plan = make_plan(load_study(path), options)
    error = tmp_path / "error.txt"
    error.write_text(TUNE_ERROR)
    return [SimpleNamespace(trial_id=str(i), config=plan.payload(t, options).to_tune(), error_file=str(error))
            for i, t in enumerate(plan.units[0].trials)]


def test_a_failed_trial_shows_its_cause_in_the_progress_line_the_summary_and_its_error_tag(tmp_path, capsys):
    trials = _trials(tmp_path)
    outbox, progress = Recording(), Progress(2, "best_dev_f1", epochs=4)
    callback = MLflowTrials(outbox)
    for trial in trials:
        callback.on_trial_start(0, [], trial)
        callback.on_trial_error(0, [], trial)
        progress.on_trial_error(0, [], trial)
    assert capsys.readouterr().out.count(f"FAILED full: {CAUSE}") == 2
    ends = [w for w in outbox.writes if w[0] == "end"]
    assert [(status, tag.splitlines()[0]) for _, _, status, tag in ends] == [("FAILED", CAUSE)] * 2
    assert all("Failure # 1" in tag for *_, tag in ends)  # then what Tune kept: the traceback
    outcome = Outcome()
    outcome.add(2, callback)
    assert outcome.failure_lines() == [f"  2 failed (full · t17 · s1, full · t17 · s2): {CAUSE}"]
    assert not outcome.interrupted and outcome.ended


def test_a_checkpoint_set_aside_is_shown_and_tagged_on_the_trials_run(tmp_path, capsys):
    trial = _trials(tmp_path)[0]
    outbox, progress = Recording(), Progress(2, "best_dev_f1", epochs=4)
    callback = MLflowTrials(outbox)
    callback.on_trial_start(0, [], trial)
    result = {"epoch": 1, "dev_f1": 0.5, SET_ASIDE_KEY: "runs/trials/t/state.pt.unreadable-20261206-170000"}
    for cb in (callback, progress):
        cb.on_trial_result(0, [], trial, result)
    tags = [w for w in outbox.writes if w[0] == "tag"]
    assert tags == [("tag", trial_hash(callback), CHECKPOINT_SET_ASIDE_TAG, result[SET_ASIDE_KEY])]
    assert (f"full: its checkpoint could not be read; set aside as {result[SET_ASIDE_KEY]}, the trial started "
            "again from scratch") in capsys.readouterr().out


def trial_hash(callback) -> str:
    return next(iter(callback.open.values()))["hash"]


class FailingTuner:
    """Tune raising out of fit, after its callbacks saw `finish` trials end (e.g. ResultGrid on a full disk)."""

    def __init__(self, trainable, param_space, tune_config, run_config):
        self.callback, self.error = run_config.callbacks[0], FailingTuner.error

    def fit(self):
        for trial in FailingTuner.trials[:FailingTuner.finish]:
            self.callback.on_trial_start(0, [], trial)
            self.callback.on_trial_error(0, [], trial)
        raise self.error


def _tune_failing(tmp_path, monkeypatch, finish: int) -> Outcome:
    from ray import tune

    path = tmp_path / "said.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    options = Options(study=str(path), preset="full", storage=str(tmp_path / "runs"), max_concurrent=1)
    plan = make_plan(load_study(path), options)
    FailingTuner.trials, FailingTuner.finish = _trials(tmp_path), finish
    FailingTuner.error = OSError(28, "Error writing bytes to file. Detail: [errno 28] No space left on device")
    monkeypatch.setattr(tune, "Tuner", FailingTuner)
    (tmp_path / "runs" / "said-full").mkdir(parents=True)
    outcome = Outcome()
    unit = plan.units[0]
    searcher = launch._grid(plan, unit, unit.trials, options)
    launch._tune(plan, unit, unit.trials, options, Recording(), outcome, *searcher)
    return outcome


def test_tune_failing_mid_study_on_a_full_disk_stops_it_with_the_path_and_what_is_free(tmp_path, monkeypatch):
    outcome = _tune_failing(tmp_path, monkeypatch, finish=1)
    assert outcome.error.startswith("OSError: [Errno 28] Error writing bytes to file")
    assert f"({tmp_path / 'runs' / 'said-full'}: " in outcome.error and "MB free of" in outcome.error
    assert (outcome.failed, outcome.unfinished, outcome.interrupted, outcome.ended) == (1, 1, False, False)
    assert any("Tune's records of this run, written there in part, were removed" in n for n in outcome.notes)


def test_tune_failing_after_every_trial_ended_is_only_noted(tmp_path, monkeypatch):
    outcome = _tune_failing(tmp_path, monkeypatch, finish=2)
    assert outcome.error is None and outcome.ended and outcome.failed == 2
    assert any(n.startswith("Tune failed after the last trial ended (OSError") for n in outcome.notes)
