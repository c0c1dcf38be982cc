"""Power before launch: what a row's planned seeds can resolve, from the spread of studies already finished.

A row that this study has already compared (two or more shared seeds: an earlier run of it, a part of its seeds) is
read from its own comparison: rows differ in how alike their predictions are (two alignments that change a few
percent of the update make nearly the same predictions, a row without contexts does not), so another row's noise
says little about it. Any other row gets the spread of its dataset at the preset, pooled over every comparison (row
against its reference, two or more shared seeds) of the finished studies of that dataset and preset: the seed
variance of a paired difference s_D^2 pooled by its degrees of freedom, and the test set's term C averaged. With
that spread, n seeds resolve (80% power, level alpha) a true difference of at least (t(1 - alpha/2, df) + z(0.8))
SE(n), and a true difference of 0 is shown equivalent within the margin once (t(1 - alpha, df) + z(0.8)) SE(n) <=
margin.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reports.comparisons import margin_for, study_comparisons
from reports.intervals import degrees_of_freedom, normal_quantile, standard_error, t_quantile
from reports.records import ReportError, StudyData
from reports.verdicts import ALPHA, POWER, floor, seeds_to_resolve


@dataclass(frozen=True)
class Spread:
    """The noise of a paired F1 difference (points^2) on one dataset at one preset, as finished studies measured it."""

    seed_var: float  # s_D^2, pooled
    test_var: float  # C, averaged
    comparisons: int  # how many comparisons it pools
    studies: tuple[str, ...]  # which studies they come from
    own_seeds: int = 0  # > 0: the row's own comparison in this study, over that many shared seeds

    def source(self) -> str:
        if self.own_seeds:
            return f"spread of this row's own finished comparison in {self.studies[0]}, {self.own_seeds} shared seeds"
        return f"spread of {self.comparisons} finished comparison(s) in {', '.join(self.studies)}"


def finished_comparisons(studies: Iterable[StudyData]) -> list[tuple[str, dict]]:
    """(study name, its comparisons with two or more shared seeds) of each study that has a reference row: computed
    once, then read by the pooled and the own spreads (each comparison bootstraps the test set)."""
    out = []
    for data in studies:
        try:
            comparisons = study_comparisons(data)
        except ReportError:  # a study without a reference row has nothing to compare
            continue
        out.append((data.info.name, {cell: c for cell, (c, _) in comparisons.items()
                                     if c is not None and c.seed_var is not None}))
    return out


def spread_of(finished: list[tuple[str, dict]], dataset: str) -> Spread | None:
    """The pooled spread of every finished comparison (finished_comparisons) on the dataset; None without any."""
    squares, freedom, tests, names = 0.0, 0, [], []
    for name, comparisons in finished:
        for (_, d), c in comparisons.items():
            if d == dataset:
                squares += (c.n - 1) * c.seed_var
                freedom += c.n - 1
                tests.append(c.test_var)
                names.append(name)
    if not tests:
        return None
    return Spread(squares / freedom, sum(tests) / len(tests), len(tests), tuple(sorted(set(names))))


def own_spreads(finished: list[tuple[str, dict]], study: str) -> dict[tuple[str, str], Spread]:
    """(row, dataset) -> the spread of that row's own comparison in the finished study named `study`."""
    return {cell: Spread(c.seed_var, c.test_var, 1, (study,), own_seeds=c.n)
            for name, comparisons in finished if name == study for cell, c in comparisons.items()}


def smallest_resolvable(seeds: int, spread: Spread, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true difference (F1 points) that `seeds` shared seeds resolve as higher or lower."""
    if seeds < 2:
        return math.inf  # one seed gives no interval
    se = float(standard_error(spread.seed_var, spread.test_var, seeds))
    df = degrees_of_freedom(spread.seed_var, spread.test_var, seeds)
    return float(t_quantile(1 - alpha / 2, df) + normal_quantile(power)) * se


def seeds_for_margin(margin: float, spread: Spread, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """The shared seeds that show a true difference of 0 equivalent within the margin; None when none would."""
    return seeds_to_resolve(0.0, spread.seed_var, spread.test_var, margin, alpha, power)


def power_line(variant: str, dataset: str, seeds: int, spread: Spread | None, margin: float,
               alpha: float = ALPHA) -> str:
    """The dry run's line for one compared row on one dataset."""
    head = f"{variant} / {dataset}"
    if spread is None:
        return f"{head}: no finished comparisons of {dataset} at this preset in the store yet: no power estimate"
    needed = seeds_for_margin(margin, spread, alpha)
    smallest = smallest_resolvable(seeds, spread, alpha)
    if needed is not None:
        equivalence = f"equivalence within ±{margin:g} needs about {needed} seeds"
    else:
        equivalence = (f"equivalence within ±{margin:g} is out of reach of any seed count (the test set's own noise "
                       f"is ±{floor(spread.test_var, alpha):.2f})")
    resolves = ("1 seed gives no interval" if seeds < 2 else
                f"{seeds} seeds resolve a difference of {smallest:.2f} F1 or more")
    noise = (f"seed SD of a paired difference {math.sqrt(spread.seed_var):.2f}, "
             f"test-set term ±{math.sqrt(spread.test_var):.2f}")
    return f"{head}: {resolves}, {equivalence} ({POWER:.0%} power, level {alpha:.3g}; {spread.source()}: {noise})"


def power_lines(compared: Sequence[tuple[str, str]], seeds: int, history: Sequence[StudyData],
                margin: float | None = None, alpha: float = ALPHA, study: str | None = None) -> list[str]:
    """The dry run's power lines: one per (variant, dataset) a study compares with its reference, for `seeds`
    planned seeds, from the finished studies of the same preset (reports.mlflow_source.finished_studies): the row's
    own comparison in `study` where it has one, else its dataset's pooled spread; margin: the study's report.margin
    (None: each dataset's default)."""
    finished = finished_comparisons(history)
    own = own_spreads(finished, study) if study else {}
    spreads = {d: spread_of(finished, d) for d in dict.fromkeys(d for _, d in compared)}
    return [power_line(v, d, seeds, own.get((v, d), spreads[d]), margin_for(d, margin), alpha) for v, d in compared]
