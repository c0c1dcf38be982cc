"""Studies that add seeds until they answer: which rows get more seeds after a look, and at which level to read them.

Error control across looks (docs/statistics.md): the seed counts at which a comparison may be read are declared
before the study, from the planned count and the cap MAX alone: the planned count, then doubling, ending at MAX
(3, 6, 12 for 3 planned seeds and MAX 12). alpha is spent over these K looks in proportion to their seed counts
(0.05 x 3/21, 6/21, 12/21): little at the first looks, where the spread itself is barely known. A row may skip
counts (it goes to the first count its spread says would resolve it) and may stop early, but it is only ever read at
declared counts, each at its own level, so by the union bound the chance of any false "higher" or "lower" over all
its looks is at most the sum of the levels, alpha, however the looks were chosen. Equivalence is read likewise.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reports.intervals import Comparison
from reports.records import StudyInfo
from reports.verdicts import ALPHA, UNDETERMINED, Verdict, floor, judge, level_text, resolvable, resolves_at

Key = tuple[str, str]  # (variant, dataset)
# A row goes on to the first declared look at which its observed difference, with its observed spread, would be
# resolved as it stands (power 0.5), and stops when not even the cap would: a stricter planning power stops rows
# early that more seeds would still resolve (the simulation of docs/statistics.md shows it).
CONTINUE_POWER = 0.5


def schedule(planned: int, cap: int) -> tuple[int, ...]:
    """The declared seed counts of the looks: planned, doubling, ending at the cap."""
    if planned < 1 or cap < planned:
        raise ValueError(f"need 1 <= planned seeds <= cap, got {planned} and {cap}")
    counts = [planned]
    while counts[-1] < cap:
        counts.append(min(cap, 2 * counts[-1]))
    return tuple(counts)


def look_levels(planned: int, cap: int | None, alpha: float = ALPHA) -> tuple[float, ...]:
    """The level of each declared look: alpha in proportion to the looks' seed counts (alpha itself when the study
    adds no seeds)."""
    if cap is None:
        return (alpha,)
    counts = schedule(planned, max(cap, planned))
    return tuple(alpha * count / sum(counts) for count in counts)


def level_at(n: int, planned: int, cap: int | None, alpha: float = ALPHA) -> float:
    """The level a comparison over n shared seeds is read at: that of the last declared look it has reached (the
    first look's below it, as when a planned trial failed)."""
    if cap is None:
        return alpha
    return look_levels(planned, cap, alpha)[_reached(schedule(planned, max(cap, planned)), n)]


def _reached(counts: tuple[int, ...], n: int) -> int:
    """The index of the last declared count n has reached (0 below the first)."""
    return max((k for k, count in enumerate(counts) if count <= n), default=0)


def study_level(info: StudyInfo, n: int, alpha: float = ALPHA) -> float:
    """The level a study's tables read a comparison over n shared seeds at: its runner's, when it added seeds."""
    return level_at(n, len(info.seeds), info.until_resolved, alpha)


def seed_sequence(planned: Sequence[int], cap: int) -> tuple[int, ...]:
    """The seeds in the order rows get them: the planned ones, then the next integers after the largest."""
    seeds = list(dict.fromkeys(planned))[:cap]
    following = max(seeds, default=0) + 1
    while len(seeds) < cap:
        seeds.append(following)
        following += 1
    return tuple(seeds)


@dataclass(frozen=True)
class Request:
    """One compared row on one dataset after a look: its verdict, the shared seeds it should reach, and why."""

    variant: str
    dataset: str
    verdict: Verdict | None  # None: no comparison (no shared seed, no predictions)
    target: int  # shared seeds wanted after the next round (the current count when none are added)
    reason: str


@dataclass(frozen=True)
class Round:
    levels: tuple[float, ...]  # the level of each declared look
    looks: tuple[int, ...]  # the declared seed counts
    requests: tuple[Request, ...]  # one per compared row and dataset, in the order given
    runs: dict[Key, tuple[int, ...]]  # (variant, dataset) -> the seeds to train next, rows and their reference

    @property
    def done(self) -> bool:
        return not self.runs

    def lines(self) -> list[str]:
        """What the runner prints after a look: each row's verdict and what it adds, and why."""
        out = []
        for r in self.requests:
            kind = r.verdict.kind if r.verdict else "no verdict"
            added = self.runs.get((r.variant, r.dataset), ())
            what = f"adds seeds {', '.join(map(str, added))}" if added else "adds nothing"
            out.append(f"{r.variant} / {r.dataset}: {kind}; {what}: {r.reason}")
        return out


def _request(key: Key, comparison: Comparison | None, note: str, margin: float, looks: tuple[int, ...],
             levels: tuple[float, ...]) -> Request:
    if comparison is None:
        return Request(*key, None, 0, note)
    n, cap = comparison.n, looks[-1]
    verdict = judge(comparison, margin, levels[_reached(looks, n)])
    if verdict.kind != UNDETERMINED:
        return Request(*key, verdict, n, f"resolved: {verdict.reason}")
    later = [(count, level) for count, level in zip(looks, levels) if count > n]
    if verdict.interval is None:  # one shared seed
        return Request(*key, verdict, later[0][0] if later else n, verdict.reason)
    low, high = verdict.interval
    where = f"{level_text(verdict.alpha)} interval [{low:+.2f}, {high:+.2f}] over {n} shared seeds"
    if not later:
        return Request(*key, verdict, n, f"{where}, the cap of {cap}")
    final = later[-1][1]
    if not resolvable(comparison.mean, comparison.test_var, margin, final, CONTINUE_POWER):
        return Request(*key, verdict, n, f"{where}; not resolvable by more seeds: the test set's own noise is "
                                         f"±{floor(comparison.test_var, final):.2f}")
    target = next((count for count, level in later if resolves_at(comparison.mean, comparison.seed_var,
                                                                  comparison.test_var, margin, count, level,
                                                                  CONTINUE_POWER)), None)
    if target is None:
        return Request(*key, verdict, n, f"{where}; as it stands, not even the cap of {cap} shared seeds would "
                                         "resolve it")
    return Request(*key, verdict, target, f"{where}; as it stands, {target} shared seeds would resolve it at that "
                                          "look's level")


def plan_round(comparisons: Mapping[Key, tuple[Comparison | None, str]], have: Mapping[Key, set[int]],
               reference: str, margins: Mapping[str, float], planned: Sequence[int], cap: int,
               alpha: float = ALPHA) -> Round:
    """After a look: each compared row's verdict at its look's level and the seeds to train next.

    comparisons: (variant, dataset) -> (its comparison with the reference, or None and the note why not);
    have: (variant, dataset) -> the seeds that row (and the reference) has finished; margins: dataset -> F1 points;
    planned: the study's planned seeds; cap: MAX, the most shared seeds a row may reach.
    A row and its reference get the first `target` seeds of seed_sequence(planned, cap) that they lack."""
    looks, levels = schedule(len(planned), max(cap, len(planned))), look_levels(len(planned), cap, alpha)
    requests = tuple(_request(key, c, note, margins[key[1]], looks, levels) for key, (c, note) in comparisons.items())
    sequence = seed_sequence(planned, looks[-1])
    wanted: dict[Key, int] = {}
    for r in requests:
        if r.verdict is not None and r.target > r.verdict.comparison.n:
            for key in ((r.variant, r.dataset), (reference, r.dataset)):
                wanted[key] = max(wanted.get(key, 0), r.target)
    runs = {}
    for key, target in wanted.items():
        missing = tuple(s for s in sequence[:target] if s not in have.get(key, set()))
        if missing:
            runs[key] = missing
    return Round(levels, looks, requests, runs)
