"""An Optuna journal torn by an interrupted write: the torn last record is set aside beside the journal and the
search goes on; any other unreadable line is refused, naming the file and the line, and nothing is appended."""
from __future__ import annotations

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from ablations.search import JournalError, check_journal, make_optuna, requeue_interrupted

NAME = "optuna-twitter2017-seed1"
LR = {"train.lr": optuna.distributions.FloatDistribution(1e-5, 1e-4, log=True)}


def interrupted_search(path) -> None:
    """Two trials finished and a third left RUNNING, as a Ctrl-C leaves a search."""
    study = optuna.create_study(study_name=NAME, storage=JournalStorage(JournalFileBackend(str(path))),
                                direction="maximize")
    for i in range(3):
        trial = study.ask(LR)
        trial.report(0.5, 1)
        if i < 2:
            study.tell(trial, 0.5 + i / 10)


def trials(path):
    study = optuna.load_study(study_name=NAME, storage=JournalStorage(JournalFileBackend(str(path))))
    return [(t.state.name, t.user_attrs) for t in study.trials]


@pytest.fixture(autouse=True)
def quiet_optuna():
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    yield
    optuna.logging.set_verbosity(level)


def test_a_torn_last_record_is_set_aside_and_the_resumed_search_goes_on(tmp_path, capsys):
    journal = tmp_path / f"{NAME}.journal"
    interrupted_search(journal)
    whole = journal.read_bytes()
    journal.write_bytes(whole[:-40])  # the cut: Optuna's replay failed, then appended onto the torn line
    assert requeue_interrupted(str(journal), NAME) == 1
    (aside,) = tmp_path.glob(f"{NAME}.journal.torn-*")
    start = whole[:-40].rfind(b"\n") + 1
    assert aside.read_bytes() == whole[start:-40]  # the torn tail, moved and kept
    assert f"set aside in {aside}" in capsys.readouterr().out
    make_optuna({"sampler": "tpe", "seed": 0}, "best_dev_f1", "max", str(journal), NAME)
    states = trials(journal)
    assert [s for s, _ in states] == ["COMPLETE", "COMPLETE", "PRUNED", "WAITING"]
    assert states[3][1] == {"continues_trial": 2}
    assert journal.read_bytes().endswith(b"\n") and check_journal(str(journal)) is None  # whole again


def test_an_unreadable_line_inside_the_journal_is_refused_and_left_as_it_is(tmp_path):
    journal = tmp_path / f"{NAME}.journal"
    interrupted_search(journal)
    lines = journal.read_bytes().splitlines(keepends=True)
    broken = b"".join(lines[:2] + [lines[2][:30] + lines[3]] + lines[4:])  # what appending onto a torn line made
    journal.write_bytes(broken)
    with pytest.raises(JournalError, match=f"{journal}:3: not an Optuna journal record"):
        requeue_interrupted(str(journal), NAME)
    with pytest.raises(JournalError, match=f"{journal}:3: "):
        make_optuna({"sampler": "tpe", "seed": 0}, "best_dev_f1", "max", str(journal), NAME)
    assert journal.read_bytes() == broken and not list(tmp_path.glob("*.torn-*"))
