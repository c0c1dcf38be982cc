"""Studies that add seeds until they answer: which rows get more seeds after a look, and at which level to read them.

Error control across looks (docs/statistics.md): the seed counts at which a comparison may be read are declared
before the study, from the planned count and the cap MAX alone: the planned count, then doubling, ending at MAX
(3, 6, 10 for 3 planned seeds and MAX 10). Every look at every row reads its verdict at alpha / K, K the number of
declared counts (Bonferroni over looks). A row may skip counts (it jumps to the count its spread asks for), and may
stop early, but it is only ever read at declared counts, so the chance of any false "higher" or "lower" over all its
looks is at most K * alpha / K = alpha, however the looks were chosen. Equivalence is read at the same level.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reports.intervals import Comparison
from reports.records import StudyInfo
from reports.verdicts import ALPHA, UNDETERMINED, Verdict, judge, resolvable

Key = tuple[str, str]  # (variant, dataset)


def schedule(planned: int, cap: int) -> tuple[int, ...]:
    """The declared seed counts of the looks: planned, doubling, ending at the cap."""
    if planned < 1 or cap < planned:
        raise ValueError(f"need 1 <= planned seeds <= cap, got {planned} and {cap}")
    counts = [planned]
    while counts[-1] < cap:
        counts.append(min(cap, 2 * counts[-1]))
    return tuple(counts)


def look_alpha(planned: int, cap: int | None, alpha: float = ALPHA) -> float:
    """The level of every look: alpha over the declared looks (alpha itself for a study with fixed seeds)."""
    return alpha if cap is None else alpha / len(schedule(planned, max(cap, planned)))


def study_alpha(info: StudyInfo, alpha: float = ALPHA) -> float:
    """The level a study's tables read its verdicts at: its runner's, when it added seeds until resolved."""
    return look_alpha(len(info.seeds), info.until_resolved, alpha)


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
    alpha: float  # the level of every look
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


def _request(key: Key, comparison: Comparison | None, note: str, margin: float, alpha: float,
             looks: tuple[int, ...]) -> Request:
    if comparison is None:
        return Request(*key, None, 0, note)
    verdict, n, cap = judge(comparison, margin, alpha), comparison.n, looks[-1]
    if verdict.kind != UNDETERMINED:
        return Request(*key, verdict, n, f"resolved: {verdict.reason}")
    if n >= cap:
        return Request(*key, verdict, n, f"at the cap of {cap} shared seeds: {verdict.reason}")
    later = [count for count in looks if count > n]
    if verdict.comparison.seed_var is None:
        return Request(*key, verdict, later[0], verdict.reason)
    if not resolvable(comparison.mean, comparison.test_var, margin, alpha):
        return Request(*key, verdict, n, verdict.reason)
    needed = verdict.seeds_needed
    if needed is None or needed > cap:
        about = "more than 10,000" if needed is None else f"about {needed}"
        return Request(*key, verdict, n, f"{about} shared seeds would resolve it, more than the cap of {cap}")
    target = next(count for count in later if count >= needed)
    return Request(*key, verdict, target, f"{verdict.reason}: next declared look at {target}")


def plan_round(comparisons: Mapping[Key, tuple[Comparison | None, str]], have: Mapping[Key, set[int]],
               reference: str, margins: Mapping[str, float], planned: Sequence[int], cap: int,
               alpha: float = ALPHA) -> Round:
    """After a look: each compared row's verdict at alpha / K and the seeds to train next.

    comparisons: (variant, dataset) -> (its comparison with the reference, or None and the note why not);
    have: (variant, dataset) -> the seeds that row (and the reference) has finished; margins: dataset -> F1 points;
    planned: the study's planned seeds; cap: MAX, the most shared seeds a row may reach.
    A row and its reference get the first `target` seeds of seed_sequence(planned, cap) that they lack."""
    looks = schedule(len(planned), max(cap, len(planned)))
    level = alpha / len(looks)
    requests = tuple(_request(key, c, note, margins[key[1]], level, looks) for key, (c, note) in comparisons.items())
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
    return Round(level, looks, requests, runs)
