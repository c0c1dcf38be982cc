"""The study's live progress: one line per trial event with the trials done, the best score so far, an estimate of
what remains, and what happened (an epoch's dev F1, a trial done, stopped early by the scheduler, failed)."""
from __future__ import annotations

import time
from pathlib import Path

from ray.tune import Callback

from reports.failure import error_summary
from trainables.epoch_report import SET_ASIDE_KEY
from trainables.payload import trial_of

CAUSE_CHARS = 300  # the first line of a failure's cause, as the progress line, the summary and the error tag show it


def error_text(trial) -> str:
    """What Tune kept of a failed trial's error (its error file: one traceback per attempt)."""
    path = getattr(trial, "error_file", None) or ""
    try:
        text = Path(path).read_text(errors="replace") if path else ""
    except OSError:
        text = ""
    return text.strip() or f"the trial failed; Tune could not keep its error{f' in {path}' if path else ''}"


def metric_name(metric: str) -> str:
    """The study's metric as a reader says it: `best_dev_f1` (each epoch's running best) -> "dev F1"."""
    name = metric.removeprefix("best_").replace("_", " ")
    return name[:-3] + " F1" if name.endswith(" f1") else name


def _label(trial) -> str:
    return trial_of(trial.config).label


class Progress(Callback):
    """One readable line per event. The estimate counts trial-epochs, so it exists from the first epoch on (not only
    once a whole trial has finished), and a trial stopped early takes its unrun epochs off what remains."""

    def __init__(self, total: int, metric: str, epochs: int, scheduler=None):
        self.total, self.metric, self.name = total, metric, metric_name(metric)
        self.epochs_left = epochs  # the planned trial-epochs not yet run or given up
        self.epochs_run = 0
        self.scheduler = scheduler  # a RecordingASHA (ablations/early_stop.py) says why it stopped a trial
        self.t0 = time.time()  # no stream kept: Tune pickles callbacks
        self.done = self.failed = self.stopped = 0
        self.reached: dict[str, int] = {}  # Tune trial id -> epochs it has reported
        self.best: tuple[float, str] | None = None

    def _line(self, msg: str) -> None:
        elapsed = time.time() - self.t0
        eta = f"{elapsed / self.epochs_run * self.epochs_left / 60:.1f} min" if self.epochs_run else "?"
        best = f"best {self.name} {100 * self.best[0]:.2f} ({self.best[1]})" if self.best else "best -"
        stopped = f" ({self.stopped} stopped early)" if self.stopped else ""
        print(f"[{elapsed / 60:5.1f} min] {self.done + self.failed}/{self.total} done{stopped}, {self.failed} failed | "
              f"{best} | eta {eta} | {msg}", flush=True)

    def on_trial_start(self, iteration, trials, trial, **info):
        self._line(f"start  {_label(trial)} ({trial.trial_id})")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        value = result.get(self.metric)
        if value is not None and (self.best is None or value > self.best[0]):
            self.best = (value, _label(trial))
        if result.get(SET_ASIDE_KEY):
            self._line(f"{_label(trial)}: its checkpoint could not be read; set aside as {result[SET_ASIDE_KEY]}, "
                       "the trial started again from scratch")
        if "epoch" in result:
            epoch = int(result["epoch"])
            new = max(0, epoch - self.reached.get(trial.trial_id, 0))  # a resumed trial repeats no epoch
            self.reached[trial.trial_id] = max(epoch, self.reached.get(trial.trial_id, 0))
            self.epochs_run += new
            self.epochs_left = max(0, self.epochs_left - new)
            self._line(f"epoch {epoch} {_label(trial)}: {self.name} {100 * result.get('dev_f1', 0):.2f}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done += 1
        stop = getattr(self.scheduler, "stops", {}).get(trial.trial_id)
        self._give_up(trial)
        if stop is None:
            return self._line(f"done   {_label(trial)}")
        self.stopped += 1
        self._line(f"done   {_label(trial)}: {stop.text(self.name)}")

    def on_trial_error(self, iteration, trials, trial, **info):
        self.failed += 1
        self._give_up(trial)
        self._line(f"FAILED {_label(trial)}: {error_summary(error_text(trial), CAUSE_CHARS)}")

    def _give_up(self, trial) -> None:
        """A trial that ends before its last epoch leaves its unrun epochs out of what remains."""
        planned = trial_of(trial.config).config.train.epochs
        self.epochs_left = max(0, self.epochs_left - max(0, planned - self.reached.get(trial.trial_id, 0)))
