"""The trainer's per-step bar: live with rate and ETA on a terminal, silent in a log file and under CI."""
import io

import pytest

from shapca.progress import StepBar, interactive
from shapca.train import progress_bar


class FakeStream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def run_epoch(bar, clock, steps, dt=0.5):
    for step in range(1, steps + 1):
        clock.t += dt
        bar(step, 1.0 / step)


def test_terminal_shows_steps_rate_and_eta():
    out, clock = FakeStream(tty=True), Clock()
    bar = StepBar(0, 10, stream=out, environ={}, clock=clock)
    clock.t = 2.0
    bar(4, 0.25)  # 4 steps in 2 s: 2 it/s, 6 steps left: 3 s
    line = out.getvalue()
    assert line.startswith("\repoch 1 [############..................] 4/10 ")
    assert "loss 0.250" in line and "2.00 it/s" in line and "ETA 3s" in line
    assert not line.endswith("\n")


def test_terminal_line_ends_once_at_the_last_step():
    out, clock = FakeStream(tty=True), Clock()
    bar = StepBar(2, 5, stream=out, environ={}, clock=clock)
    run_epoch(bar, clock, 5)
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert "epoch 3 [" in text and "5/5" in text and "ETA 0s" in text
    bar.close()
    assert out.getvalue() == text  # nothing left open


def test_redraws_are_throttled_but_the_last_step_always_draws():
    out, clock = FakeStream(tty=True), Clock()
    bar = StepBar(0, 1000, stream=out, environ={}, clock=clock, every_s=0.1)
    run_epoch(bar, clock, 1000, dt=0.001)  # 1 s in all: about 10 redraws, not 1000
    assert out.getvalue().count("\r") <= 12
    assert "1000/1000" in out.getvalue()


def test_an_epoch_stopped_short_ends_its_line_on_close():
    out, clock = FakeStream(tty=True), Clock()
    bar = StepBar(0, 10, stream=out, environ={}, clock=clock)
    run_epoch(bar, clock, 3)
    bar.close()
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1


@pytest.mark.parametrize("tty, environ", [(False, {}), (True, {"CI": "true"}), (True, {"CI": "1"}),
                                          (False, {"CI": "true"})])
def test_silent_in_logs_and_ci(tty, environ):
    out, clock = FakeStream(tty=tty), Clock()
    bar = progress_bar(0, 10, stream=out, environ=environ)
    bar.clock = clock
    run_epoch(bar, clock, 10)
    bar.close()
    assert out.getvalue() == ""


@pytest.mark.parametrize("environ, expected", [({}, True), ({"CI": ""}, True), ({"CI": "false"}, True),
                                               ({"CI": "0"}, True), ({"CI": "true"}, False),
                                               ({"CI": "True"}, False)])
def test_ci_flag(environ, expected):
    assert interactive(FakeStream(tty=True), environ) is expected


def test_a_stream_without_isatty_is_not_a_terminal():
    assert interactive(object(), {}) is False
