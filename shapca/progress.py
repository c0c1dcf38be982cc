"""Progress for long loops: one line per interval for jobs over images (done/total, rate, time left), and a live
per-step bar for training epochs on a terminal.

Progress is shared by the feature precomputation (shapca.data.images) and the context generation job
(shapca.captioning); StepBar by the core trainer (python -m shapca.train).
"""
from __future__ import annotations

import os
import sys
import time


def format_seconds(s: float) -> str:
    if s != s or s == float("inf"):  # NaN or no rate yet
        return "?"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


class Progress:
    """Counts images as they finish; the rate counts only this run's work, so a resumed job shows a true ETA."""

    def __init__(self, total: int, label: str = "images", already_done: int = 0, every_s: float = 5.0,
                 stream=None, clock=time.monotonic):
        self.total, self.label, self.every_s = total, label, every_s
        self.done, self.failed, self.new = already_done, 0, 0
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.start = self.last_print = clock()

    def update(self, done: int = 0, failed: int = 0, force: bool = False) -> None:
        self.done += done + failed
        self.failed += failed
        self.new += done + failed
        now = self.clock()
        if force or now - self.last_print >= self.every_s or self.done >= self.total:
            self.last_print = now
            print(self.line(), file=self.stream, flush=True)

    @property
    def rate(self) -> float:
        elapsed = self.clock() - self.start
        return self.new / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        rate = self.rate
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"{self.label}: {self.done}/{self.total} ({pct:.1f}%), {rate:.2f} img/s, "
                f"ETA {format_seconds(eta) if self.done < self.total else '0s'}{failed}")


def interactive(stream, environ=None) -> bool:
    """Whether live progress belongs on this stream: a terminal, and not a CI job (CI=true, as CI services set)."""
    environ = os.environ if environ is None else environ
    if environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class StepBar:
    """Per-step progress of one training epoch, redrawn in place on a terminal: bar, steps, loss, rate, ETA.

    Silent when the stream is not a terminal or under CI: there the trainer's one line per epoch is the log."""

    def __init__(self, epoch: int, total: int, stream=None, environ=None, clock=time.monotonic,
                 every_s: float = 0.1, width: int = 30):
        self.epoch, self.total, self.width, self.every_s = epoch, max(1, total), width, every_s
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = interactive(self.stream, environ)
        self.clock = clock
        self.start = clock()
        self.last_draw = None
        self.open = False  # a line is drawn and not yet ended

    def __call__(self, step: int, loss) -> None:
        """`loss`: a float or a 0-d tensor, read only when the line is drawn (reading waits for the device)."""
        if not self.enabled:
            return
        now = self.clock()
        final = step >= self.total
        if not final and self.last_draw is not None and now - self.last_draw < self.every_s:
            return
        self.last_draw = now
        self.stream.write("\r" + self.line(step, float(loss), now) + ("\n" if final else ""))
        self.stream.flush()
        self.open = not final

    def line(self, step: int, loss: float, now: float | None = None) -> str:
        elapsed = (self.clock() if now is None else now) - self.start
        rate = step / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else float("inf")
        filled = min(self.width, self.width * step // self.total)
        return (f"epoch {self.epoch + 1} [{'#' * filled}{'.' * (self.width - filled)}] {step}/{self.total} "
                f"loss {loss:.3f} | {rate:.2f} it/s | ETA {format_seconds(eta) if step < self.total else '0s'} \x1b[K")

    def close(self) -> None:
        """End a line left open (an epoch that stopped short of its planned steps)."""
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False
