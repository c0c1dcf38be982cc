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


def test_an_intermediate_value_is_at_its_epoch_also_for_a_trial_continued_from_a_checkpoint(tmp_path):
    from ray import tune

    from ablations.search import make_optuna

    search = make_optuna({"seed": 0}, "best_dev_f1", "max", str(tmp_path / "s.journal"), "s")
    search.set_search_properties("best_dev_f1", "max", {"align.tau": tune.uniform(0.05, 0.5)})
    search.suggest("fresh")
    search.suggest("continued")
    search.on_trial_result("fresh", {"dev_f1": 0.5, "best_dev_f1": 0.5, "epoch": 1, "training_iteration": 1})
    # resumed from its epoch-1 checkpoint: Tune counts its first result as iteration 1, the trial trains epoch 2
    search.on_trial_result("continued", {"dev_f1": 0.6, "best_dev_f1": 0.6, "epoch": 2, "training_iteration": 1})
    trials = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(str(tmp_path / "s.journal"))))
    assert [t.intermediate_values for t in trials.trials] == [{1: 50.0}, {2: 60.0}]  # MLflow's epoch_dev_f1 steps
