"""Search algorithms and schedulers of a study, built from its file."""
from __future__ import annotations

import os

from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch


class PrunedAwareOptunaSearch(OptunaSearch):
    """Tells Optuna that a trial ASHA stopped early was PRUNED, not COMPLETE.

    Ray's OptunaSearch reports an early-stopped trial as complete with its partial score, so TPE would take a
    one-epoch score as the final value of that configuration. Marked pruned (its per-epoch values are already
    reported as intermediates), TPE ranks it below every completed trial, which is what an early stop means.
    """

    def on_trial_complete(self, trial_id, result=None, error=False):
        stopped_early = (not error and result and trial_id in self._ot_trials
                         and trial_id not in self._completed_trials
                         and 0 < result.get("epoch", 0) < result.get("epochs_planned", 0))
        if not stopped_early:
            return super().on_trial_complete(trial_id, result, error)
        import optuna

        self._ot_study.tell(self._ot_trials[trial_id], state=optuna.trial.TrialState.PRUNED)
        self._completed_trials.add(trial_id)


def make_scheduler(spec: dict | None, max_epochs: int):
    if not spec:
        return None
    kind = spec.get("type", "asha")
    if kind != "asha":
        raise ValueError(f"scheduler.type: unknown scheduler {kind!r} (known: asha)")
    return ASHAScheduler(time_attr="training_iteration", max_t=max_epochs,
                         grace_period=int(spec.get("grace_period", 1)),
                         reduction_factor=float(spec.get("reduction_factor", 2)))


def make_optuna(search: dict, metric: str, mode: str, journal_path: str, study_name: str):
    """Optuna TPE whose study lives in a journal file, so `optuna-dashboard <file>` opens it and resume keeps it."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

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


def requeue_interrupted(journal_path: str, study_name: str) -> int:
    """Trials left RUNNING by a driver that died: closed as FAIL and queued again with the same parameters, so the
    resumed search reruns exactly them (same config hash: same MLflow run, same Train checkpoint)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if not os.path.exists(journal_path):
        return 0
    storage = JournalStorage(JournalFileBackend(journal_path))
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return 0
    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in stale:
        study.enqueue_trial(t.params, skip_if_exists=False)
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    return len(stale)
