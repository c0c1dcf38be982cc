"""Optuna and the report agree on names: the Optuna study is `<study>-<preset>-<dataset>-seed<k>`, a journal begun
under the name of earlier versions is still found by --resume, and the report's #k is Optuna's trial number."""
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from ablations.search import journal_study
from reports.hpo import trial_numbers
from reports.records import StudyData, StudyInfo, Trial

NEW, OLD = "hpo-smoke-twitter2017-seed1", "optuna-twitter2017-seed1"


def _journal(path, *names):
    storage = JournalStorage(JournalFileBackend(str(path)))
    for name in names:
        optuna.create_study(study_name=name, storage=storage)


def test_a_new_search_takes_the_new_name(tmp_path):
    assert journal_study(str(tmp_path / "none.journal"), NEW, OLD) == NEW
    _journal(tmp_path / "new.journal", NEW)
    assert journal_study(str(tmp_path / "new.journal"), NEW, OLD) == NEW


def test_a_journal_begun_under_the_old_name_goes_on_under_it(tmp_path):
    _journal(tmp_path / "old.journal", OLD)
    assert journal_study(str(tmp_path / "old.journal"), NEW, OLD) == OLD  # --resume finds its trials
    _journal(tmp_path / "both.journal", OLD, NEW)
    assert journal_study(str(tmp_path / "both.journal"), NEW, OLD) == NEW


def _trial(run_id, start, number=None, seed=1):
    return Trial(run_id=run_id, status="FINISHED", start_time=start, variant=run_id, dataset="twitter2017",
                 seed=seed, preset="smoke", config_hash=run_id, trial_hash=run_id, optuna_trial=number)


def test_trials_are_numbered_as_optuna_numbers_them():
    info = StudyInfo(name="hpo", preset="smoke", parent_run_id="p", kind="sweep", params=(), seeds=(1, 2),
                     datasets=("twitter2017",), search="optuna")
    tagged = [_trial("a", 10, 1), _trial("b", 20, 0)]  # the tag wins over start order (a requeued trial)
    untagged = [_trial("c", 5, seed=2), _trial("d", 7, seed=2)]  # logged before the tag: start order, from 0
    numbers = trial_numbers(StudyData(info=info, trials=tagged + untagged, failed=[], notes=[]))
    assert numbers == {"a": 1, "b": 0, "c": 0, "d": 1}
