"""An early stop says so where a trial's state shows while the study runs: ASHA records why it stopped a trial, the
progress line names the epoch and the rung's cutoff, the trial's run gets the stopped_early tag and a description,
and the study's summary counts it (no Ray cluster, no MLflow: the callbacks write into a recording outbox)."""
from types import SimpleNamespace

import yaml

from ablations.callbacks import MLflowTrials
from ablations.early_stop import RecordingASHA, Stop
from ablations.launch import Outcome
from ablations.options import Options
from ablations.plan import make_plan
from ablations.progress_line import Progress, metric_name
from ablations.study_file import load_study
from reports.contract import NOTE_TAG, STOPPED_EARLY_TAG

STUDY = {"name": "stops", "datasets": ["twitter2017"], "seeds": [1], "base": {"data.context": "blip2"},
         "variants": [{"name": "strong", "overrides": {"align.tau": 0.1}},
                      {"name": "weak", "overrides": {"align.tau": 0.5}}],
         "search": {"algorithm": "grid"}, "report": {"kind": "main"}}


class RecordingOutbox:
    def __init__(self):
        self.tags, self.ended, self.run_ids = {}, {}, {}
        self.runs = SimpleNamespace(study="stops", preset="smoke")

    def child(self, trial_hash, tags, params):
        pass

    def text(self, trial_hash, text, path):
        pass

    def metrics(self, trial_hash, values, step=None):
        pass

    def tag(self, trial_hash, key, value):
        self.tags[trial_hash, key] = value

    def end(self, trial_hash, status, error=""):
        self.ended[trial_hash] = status

    def flush(self):
        return True


def _trials(tmp_path):
    path = tmp_path / "stops.yaml"
    path.write_text(yaml.safe_dump(STUDY, sort_keys=False))
    options = Options(study=str(path), preset="smoke")  # 2 epochs
    plan = make_plan(load_study(path), options)
    return [(t, SimpleNamespace(trial_id=f"t{i}", config=plan.payload(t, options).to_tune()))
            for i, t in enumerate(plan.units[0].trials)]


def _result(epoch, best, dev=None):
    return {"training_iteration": epoch, "epoch": epoch, "epochs_planned": 2, "best_dev_f1": best,
            "dev_f1": best if dev is None else dev, "best_dev_precision": 0, "best_dev_recall": 0,
            "best_test_f1": best, "best_test_precision": 0, "best_test_recall": 0, "best_epoch": epoch}


def test_asha_records_the_epoch_score_and_cutoff_of_each_stop():
    asha = RecordingASHA(time_attr="training_iteration", metric="best_dev_f1", mode="max", max_t=2, grace_period=1,
                         reduction_factor=2)
    a, b = SimpleNamespace(trial_id="a"), SimpleNamespace(trial_id="b")
    for trial in (a, b):
        asha.on_trial_add(None, trial)
    assert asha.on_trial_result(None, a, {"training_iteration": 1, "best_dev_f1": 0.5}) == asha.CONTINUE
    assert asha.on_trial_result(None, b, {"training_iteration": 1, "best_dev_f1": 0.2}) == asha.STOP
    assert asha.stops == {"b": Stop(epoch=1, epochs=2, score=0.2, cutoff=0.5)}
    assert asha.stops["b"].text() == "stopped by ASHA after epoch 1/2: dev F1 20.00 below the rung's cutoff 50.00"


def test_the_progress_line_and_the_trial_run_say_which_trial_stopped_early_and_why(tmp_path, capsys):
    (strong, a), (weak, b) = _trials(tmp_path)
    scheduler = SimpleNamespace(stops={b.trial_id: Stop(1, 2, 0.2, 0.5)})
    progress = Progress(total=2, metric="best_dev_f1", epochs=4, scheduler=scheduler)
    outbox = RecordingOutbox()
    runs = MLflowTrials(outbox, scheduler=scheduler)
    for trial in (a, b):
        progress.on_trial_start(0, [], trial)
        runs.on_trial_start(0, [], trial)
    assert "| best - | eta ? |" in capsys.readouterr().out  # nothing has run yet: no estimate, not "nan"
    for trial, value in ((a, 0.5), (b, 0.2)):
        progress.on_trial_result(0, [], trial, _result(1, value))
        runs.on_trial_result(0, [], trial, _result(1, value))
    progress.on_trial_complete(0, [], b)
    runs.on_trial_complete(0, [], b)
    line = capsys.readouterr().out.splitlines()[-1]
    assert "1/2 done (1 stopped early), 0 failed | best dev F1 50.00 (strong) | eta " in line
    assert "done   weak: stopped by ASHA after epoch 1/2: dev F1 20.00 below the rung's cutoff 50.00" in line
    assert float(line.split("eta ")[1].split(" min")[0]) >= 0  # one epoch of a's is left
    assert outbox.tags[weak.trial_hash, STOPPED_EARLY_TAG] == "epoch 1/2"
    assert "stopped by ASHA after epoch 1/2" in outbox.tags[weak.trial_hash, NOTE_TAG]
    assert outbox.ended[weak.trial_hash] == "FINISHED" and runs.stopped == 1
    runs.on_trial_result(0, [], a, _result(2, 0.6))
    runs.on_trial_complete(0, [], a)
    assert (strong.trial_hash, STOPPED_EARLY_TAG) not in outbox.tags  # ran both its epochs
    outcome = Outcome()
    outcome.add(2, runs)
    assert outcome.summary().startswith("2 finished (1 stopped early by the scheduler), 0 failed")


def test_the_metric_reads_as_a_person_says_it():
    assert metric_name("best_dev_f1") == "dev F1" and metric_name("best_dev_recall") == "dev recall"
