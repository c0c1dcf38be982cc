"""Early stops that say why: ASHA, remembering for each trial it stopped the epoch, the trial's score and the cutoff
of the rung it fell below, so that the progress line, the trial's MLflow run and the study's summary can say so.

Tune ends a trial the scheduler stopped as TERMINATED, like one that ran all its epochs, and Ray's ASHA keeps no
record of its decisions: without this, an early stop shows only as a run with fewer epochs.
"""
from __future__ import annotations

from dataclasses import dataclass

from ray.tune.schedulers import ASHAScheduler


@dataclass(frozen=True)
class Stop:
    epoch: int  # the last epoch the trial trained
    epochs: int  # the epochs it was planned to train (ASHA's max_t)
    score: float  # its value of the study's metric there (best dev F1 so far, 0-1)
    cutoff: float  # the rung's cutoff it fell below: the score that the best 1/reduction_factor reached

    def text(self, metric: str = "dev F1") -> str:
        """One clause, scores x100 as everywhere a person reads them."""
        return (f"stopped by ASHA after epoch {self.epoch}/{self.epochs}: {metric} {100 * self.score:.2f} below the "
                f"rung's cutoff {100 * self.cutoff:.2f}")


class RecordingASHA(ASHAScheduler):
    """ASHAScheduler that keeps a Stop for every trial it stops before its last epoch (`stops`, by Tune trial id)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stops: dict[str, Stop] = {}

    def on_trial_result(self, tune_controller, trial, result):
        cutoff = self._cutoff(trial.trial_id, result)  # read before the rung records this trial's own score
        action = super().on_trial_result(tune_controller, trial, result)
        epoch = result.get(self._time_attr)
        if action == self.STOP and cutoff is not None and epoch is not None and epoch < self._max_t:
            self.stops[trial.trial_id] = Stop(int(epoch), int(self._max_t), float(result[self._metric]), cutoff)
        return action

    def _cutoff(self, trial_id: str, result: dict) -> float | None:
        """The cutoff of the rung this result reaches (Ray's _Bracket.on_result walks the rungs the same way)."""
        bracket, t = self._trial_info.get(trial_id), result.get(self._time_attr)
        if bracket is None or t is None or self._metric not in result:
            return None
        for milestone, recorded in bracket._rungs:
            if t < milestone or trial_id in recorded:
                continue
            cutoff = bracket.cutoff(recorded)
            return None if cutoff is None else self._metric_op * float(cutoff)
        return None
