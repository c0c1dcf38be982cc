"""Ctrl-C and SIGTERM while a study runs: the first stops it, the ones after never leave it half-ended.

Inside a Tuner run Tune takes the first SIGINT (it stops the trials and snapshots its own state), then puts back the
handler it found: this one. A second Ctrl-C there raises KeyboardInterrupt once, which skips Tune's last snapshot
(the study never reads it back: trials resume from their own checkpoints); outside Tune the first one does. From
then on the study is ending: its runs are ended in MLflow, its summary and resume command printed. A Ctrl-C now is
answered with a line and makes the ending wait no longer for a tracking store that is away (the writes are kept for
the next run), but never breaks into a write: a traceback there would leave the study's run RUNNING.
SIGTERM (a batch scheduler, `kill`) means the same as Ctrl-C.
"""
from __future__ import annotations

import signal
import sys


class Interrupts:
    def __init__(self):
        self.count = 0  # the signals this handler got (Tune's first one not counted)
        self.ending = False
        self.previous = None  # the handlers found, for `restore`

    def install(self) -> Interrupts:
        handlers = signal.signal(signal.SIGINT, self._on_signal), signal.signal(signal.SIGTERM, self._on_term)
        self.previous = self.previous or handlers
        return self

    def restore(self) -> None:
        """The handlers found before (a caller in the same process, e.g. a test, gets its own back)."""
        if self.previous:
            signal.signal(signal.SIGINT, self.previous[0])
            signal.signal(signal.SIGTERM, self.previous[1])

    @staticmethod
    def _on_term(signum, frame) -> None:
        signal.raise_signal(signal.SIGINT)  # to whichever SIGINT handler is in place: Tune's inside a Tuner run

    @property
    def hurry(self) -> bool:
        """The user asked more than once: the ending does not wait for the tracking store."""
        return self.count > 0

    def _on_signal(self, signum, frame) -> None:
        self.count += 1
        if not self.ending:
            self.ending = True
            raise KeyboardInterrupt
        print("stopping already: ending the study's runs in MLflow, a moment (writes the tracking store cannot take "
              "now are kept for the next run)", file=sys.stderr, flush=True)
