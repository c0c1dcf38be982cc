"""One progress line for long loops over images: done/total, rate, time left.

Shared by the feature precomputation (shapca.data.images) and the context generation job (shapca.captioning).
"""
from __future__ import annotations

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
