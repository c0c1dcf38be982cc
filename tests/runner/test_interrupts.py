"""Ctrl-C while a study runs (ablations/interrupts.py): the first stops it, later ones never break into its ending,
and SIGTERM means the same (signals raised in this process, as a terminal or a scheduler would send them)."""
import signal

import pytest

from ablations.interrupts import Interrupts


@pytest.fixture
def interrupts():
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield Interrupts().install()
    signal.signal(signal.SIGINT, saved[0])
    signal.signal(signal.SIGTERM, saved[1])


def test_the_first_ctrl_c_stops_the_study_and_the_next_ones_only_say_so(interrupts, capsys):
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert interrupts.ending and interrupts.hurry
    signal.raise_signal(signal.SIGINT)  # while the runs are being ended: no KeyboardInterrupt
    signal.raise_signal(signal.SIGINT)
    assert interrupts.count == 3
    assert capsys.readouterr().err.count("stopping already: ending the study's runs in MLflow") == 2


def test_sigterm_is_a_ctrl_c(interrupts):
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)
    assert interrupts.ending


def test_a_study_that_ends_by_itself_is_not_hurried(interrupts):
    interrupts.ending = True  # the runner, once the launch returned
    assert not interrupts.hurry
    signal.raise_signal(signal.SIGINT)
    assert interrupts.hurry  # the tracking store is not waited for any more
