"""Search algorithms and schedulers of a study, built from its file; the Optuna journal each search lives in."""
from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

from ray.tune.search.optuna import OptunaSearch

from ablations.early_stop import RecordingASHA


class PrunedAwareOptunaSearch(OptunaSearch):
    """Tells Optuna that a trial ASHA stopped early was PRUNED, not COMPLETE.

    Ray's OptunaSearch reports an early-stopped trial as complete with its partial score, so TPE would take a
    one-epoch score as the final value of that configuration. Marked pruned (its per-epoch values are already
    reported as intermediates), TPE ranks it below every completed trial, which is what an early stop means.
    """

    def _setup_study(self, space):
        super()._setup_study(space)
        # the journal names its objective as a reader knows it (`best_dev_f1` is its per-epoch running best)
        self._ot_study.set_metric_names([self._metric.removeprefix("best_")])

    def link_run(self, trial_id: str, run_id: str) -> int | None:
        """Records the trial's MLflow run on its Optuna trial (optuna-dashboard shows user attributes); returns the
        Optuna trial's number, for its run (reports.contract.OPTUNA_TRIAL_TAG)."""
        if trial_id not in self._ot_trials:
            return None
        self._ot_trials[trial_id].set_user_attr("mlflow_run_id", run_id)
        return self._ot_trials[trial_id].number

    def _epoch_value(self, trial_id: str, result: dict) -> None:
        """The epoch's own score as the Optuna trial's intermediate value at that epoch (Tune's metric is the
        running best, which ASHA compares): what MLflow's epoch_<metric> holds, x100 like every score shown, at the
        same step, the epoch. A trial that continues an interrupted one from its checkpoint starts Tune's
        training_iteration at 1 again, but goes on at the checkpoint's next epoch."""
        epoch_metric = self.metric.removeprefix("best_")
        step = result.get("epoch", result.get("training_iteration"))
        if (epoch_metric in result and step is not None and trial_id in self._ot_trials
                and trial_id not in self._completed_trials):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a step reported already is ignored by Optuna, with a warning
                self._ot_trials[trial_id].report(100 * result[epoch_metric], int(step))

    def on_trial_result(self, trial_id, result):
        self._epoch_value(trial_id, result)

    def on_trial_complete(self, trial_id, result=None, error=False):
        # Tune hands a trial's last result to on_trial_complete only, never to on_trial_result: report it here, so
        # every epoch, the last included, is an intermediate value of the Optuna trial
        if not error and result:
            self._epoch_value(trial_id, result)
        stopped_early = (not error and result and trial_id in self._ot_trials
                         and trial_id not in self._completed_trials
                         and 0 < result.get("epoch", 0) < result.get("epochs_planned", 0))
        if not stopped_early:  # its value: the best epoch's score (the objective), x100
            scaled = {**result, self.metric: 100 * result[self.metric]} if result and self.metric in result else result
            return super().on_trial_complete(trial_id, scaled, error)
        import optuna

        self._ot_study.tell(self._ot_trials[trial_id], state=optuna.trial.TrialState.PRUNED)
        self._completed_trials.add(trial_id)


def make_scheduler(spec: dict | None, max_epochs: int):
    if not spec:
        return None
    kind = spec.get("type", "asha")
    if kind != "asha":
        raise ValueError(f"scheduler.type: unknown scheduler {kind!r} (known: asha)")
    return RecordingASHA(time_attr="training_iteration", max_t=max_epochs,
                         grace_period=int(spec.get("grace_period", 1)),
                         reduction_factor=float(spec.get("reduction_factor", 2)))  # says why it stopped a trial


class JournalError(RuntimeError):
    """An Optuna journal that cannot be read back; the message names the file and the line."""


def check_journal(journal_path: str) -> str | None:
    """Makes the journal safe to open and append to; returns what was repaired, in words (None: nothing).

    Optuna appends whole records, each ending in a newline, but a write cut short (a killed driver, a full disk)
    leaves a torn last record. Optuna then skips it when reading and appends the next record onto it, which
    makes a line that no later read gets past. A torn last record is set aside in a file beside the journal (moved,
    not deleted), and the journal goes on from the record before. Any other line that is not a record is refused,
    naming it, and nothing is changed."""
    path = Path(journal_path)
    if not path.exists():
        return None
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1  # after the last whole record
    for number, line in enumerate(data[:end].splitlines(), 1):
        try:
            if not isinstance(json.loads(line), dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            raise JournalError(f"{path}:{number}: not an Optuna journal record ({e}); the search cannot go on from "
                               f"this journal: move it away to start the search afresh (finished trials in MLflow "
                               f"still count)") from None
    torn = data[end:]
    if not torn:
        return None
    aside = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    with open(aside, "xb") as f:  # the tail is kept before the journal is cut
        f.write(torn)
        f.flush()
        os.fsync(f.fileno())
    with open(path, "r+b") as f:
        f.truncate(end)
        os.fsync(f.fileno())
    return (f"{path}: its last record was torn (an interrupted write: {len(torn)} bytes without an end); set aside "
            f"in {aside}, the search goes on from the record before")


def make_optuna(search: dict, metric: str, mode: str, journal_path: str, study_name: str):
    """Optuna TPE whose study lives in a journal file, so `optuna-dashboard <file>` opens it and resume keeps it."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    _repair(journal_path)
    sampler_name = search.get("sampler", "tpe")
    if sampler_name != "tpe":
        raise ValueError(f"search.sampler: unknown sampler {sampler_name!r} (known: tpe)")
    storage = JournalStorage(JournalFileBackend(journal_path))
    # A resumed search must not replay the proposals it already made: its sampler's seed moves on by the number of
    # trials the journal holds (deterministic for a given history).
    try:
        done = len(optuna.load_study(study_name=study_name, storage=storage).trials)
    except KeyError:
        done = 0
    seed = search.get("seed", 0) + done
    return PrunedAwareOptunaSearch(metric=metric, mode=mode, study_name=study_name,
                                   sampler=optuna.samplers.TPESampler(seed=seed),
                                   storage=storage)


def journal_study(journal_path: str, name: str, legacy: str) -> str:
    """The Optuna study of the journal to go on with: `name`, unless the journal holds only the study a version
    before the names `<study>-<preset>-<dataset>-seed<k>` made (`legacy`), which a --resume must still find."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if not os.path.exists(journal_path):
        return name
    names = optuna.get_all_study_names(JournalStorage(JournalFileBackend(journal_path)))
    return legacy if legacy in names and name not in names else name


def requeue_interrupted(journal_path: str, study_name: str) -> int:
    """Trials left RUNNING by an interrupted or dead driver: queued again with the same parameters, so the resumed
    search reruns exactly them (same config hash: same MLflow run, same checkpoint), and closed as PRUNED (stopped
    before the end, which is what happened to them; FAIL would read as an error in optuna-dashboard), marked
    `interrupted`; the queued copy records `continues_trial`."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if not os.path.exists(journal_path):
        return 0
    _repair(journal_path)
    storage = JournalStorage(JournalFileBackend(journal_path))
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return 0
    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in stale:
        study.enqueue_trial(t.params, user_attrs={"continues_trial": t.number}, skip_if_exists=False)
        optuna.trial.Trial(study, t._trial_id).set_user_attr("interrupted", True)
        study.tell(t.number, state=optuna.trial.TrialState.PRUNED)
    return len(stale)


def _repair(journal_path: str) -> None:
    note = check_journal(journal_path)
    if note:
        print(note, flush=True)
