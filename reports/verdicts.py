"""Four verdicts on a comparison (reports/intervals.py), and the seeds its observed spread says would resolve it.

At level a (0.05, or 0.05 / K for a study that adds seeds over K declared looks, reports/looks.py):
- equivalent: the 1 - 2a interval lies inside (-margin, +margin): two one-sided tests at a (Schuirmann 1987);
- higher / lower: the 1 - a interval lies above / below 0;
- undetermined: neither, or fewer than two shared seeds.
Equivalence comes first: a difference that is real but smaller than the margin is "equivalent", and its reading
says that it is nonetheless nonzero (docs/statistics.md says why).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from reports.intervals import (Comparison, degrees_of_freedom, interval, normal_quantile, standard_error, t_cdf,
                              t_quantile)

ALPHA = 0.05
POWER = 0.8  # planning: seeds that resolve the observed difference 4 times in 5, not merely half the time
MOST_SEEDS = 10_000  # planning searches no further
HIGHER, LOWER, EQUIVALENT, UNDETERMINED = "higher", "lower", "equivalent", "undetermined"
MARKS = {HIGHER: "↑", LOWER: "↓", EQUIVALENT: "≈", UNDETERMINED: "?"}


@dataclass(frozen=True)
class Verdict:
    kind: str  # HIGHER, LOWER, EQUIVALENT or UNDETERMINED
    comparison: Comparison
    margin: float  # F1 points
    alpha: float  # the level it was read at
    interval: tuple[float, float] | None  # 1 - alpha, for higher / lower
    equivalence_interval: tuple[float, float] | None  # 1 - 2 alpha, for equivalence
    p_value: float | None  # two-sided, difference = 0
    p_equivalence: float | None  # the larger of the two one-sided p-values against -margin and +margin
    seeds_needed: int | None  # undetermined: the shared seeds that would resolve it (None: none would, or unknown)
    reason: str  # one clause: what settled it, or what keeps it open

    @property
    def mark(self) -> str:
        return MARKS[self.kind]


def _p_values(c: Comparison, df: float, margin: float) -> tuple[float, float]:
    """(two-sided p of a zero difference, the larger one-sided p of -margin and of +margin), each with the variance
    at the value tested (Comparison.variance_at), so that they agree with the intervals."""
    def above(value: float) -> float:  # p of "the difference is at most `value`", from the observed mean
        variance = c.variance_at(value)
        if variance == 0:  # identical predictions on every example, or no spread at all: the mean is exact
            return 0.0 if c.mean > value else 1.0
        return t_cdf(-(c.mean - value) / math.sqrt(variance), df)

    def below(value: float) -> float:
        variance = c.variance_at(value)
        if variance == 0:
            return 0.0 if c.mean < value else 1.0
        return t_cdf((c.mean - value) / math.sqrt(variance), df)

    return min(1.0, 2 * min(above(0.0), below(0.0))), max(above(-margin), below(margin))


def floor(test_var: float, alpha: float) -> float:
    """The half-width of the 1 - alpha interval from the test set alone: no number of seeds goes below it."""
    return normal_quantile(1 - alpha / 2) * math.sqrt(test_var)


def resolves_at(mean: float, seed_var: float, test_var: float, margin: float, n: int, alpha: float = ALPHA,
                power: float = POWER) -> bool:
    """Whether n shared seeds resolve a true difference equal to `mean`, with this spread, with the given power:
    as higher/lower (|mean| >= (t + z) SE) or as equivalent (|mean| + (t + z) SE <= margin)."""
    se, df, z = float(standard_error(seed_var, test_var, n)), degrees_of_freedom(seed_var, test_var, n), \
        normal_quantile(power)
    return bool(abs(mean) >= (t_quantile(1 - alpha / 2, df) + z) * se
                or abs(mean) + (t_quantile(1 - alpha, df) + z) * se <= margin)


def seeds_to_resolve(mean: float, seed_var: float, test_var: float, margin: float, alpha: float = ALPHA,
                     power: float = POWER) -> int | None:
    """The fewest shared seeds (>= 2) that resolve it (resolves_at); None when no count up to MOST_SEEDS does: the
    test set's own noise, or a spread too wide. More seeds only make it easier (SE and t fall): a bisection."""
    def resolved(n: int) -> bool:
        return resolves_at(mean, seed_var, test_var, margin, n, alpha, power)

    low, high = 2, MOST_SEEDS
    if not resolved(high):
        return None
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if resolved(middle) else (middle + 1, high)
    return low


def resolvable(mean: float, test_var: float, margin: float, alpha: float = ALPHA, power: float = POWER) -> bool:
    """Whether infinitely many seeds could resolve it: the seed term gone, only the test set's remains."""
    se, z = math.sqrt(test_var), normal_quantile(power)
    return (abs(mean) >= (normal_quantile(1 - alpha / 2) + z) * se
            or abs(mean) + (normal_quantile(1 - alpha) + z) * se <= margin)


def judge(comparison: Comparison, margin: float, alpha: float = ALPHA) -> Verdict:
    """The verdict of one comparison at level alpha against a margin in F1 points."""
    if margin <= 0:
        raise ValueError(f"the margin must be positive, got {margin}")
    mean, seed_var = comparison.mean, comparison.seed_var
    if seed_var is None:
        reason = (f"{comparison.n} shared seed: the seed-to-seed spread is unknown, so no interval; a second shared "
                  "seed measures it")
        return Verdict(UNDETERMINED, comparison, margin, alpha, None, None, None, None, None, reason)
    n, test_var = comparison.n, comparison.test_var
    p, p_equivalence = _p_values(comparison, degrees_of_freedom(seed_var, test_var, n), margin)
    wide, narrow = interval(comparison, alpha), interval(comparison, 2 * alpha)
    needed = None
    if p_equivalence < alpha:
        kind = EQUIVALENT
        reason = f"the {level_text(2 * alpha)} interval lies inside ±{margin:g}"
        if p < alpha:
            reason += f", though the {level_text(alpha)} interval excludes 0: a real difference smaller than the margin"
    elif p < alpha:
        kind = HIGHER if mean > 0 else LOWER
        reason = f"the {level_text(alpha)} interval lies {'above' if mean > 0 else 'below'} 0"
    else:
        kind = UNDETERMINED
        needed = seeds_to_resolve(mean, seed_var, test_var, margin, alpha)
        if not resolvable(mean, test_var, margin, alpha):
            reason = (f"not resolvable by more seeds: the test set's own noise is ±{floor(test_var, alpha):.2f}"
                      f" (the {level_text(alpha)} interval from the test set alone)")
        elif needed is None:
            reason = f"more than {MOST_SEEDS:,} shared seeds would be needed at this spread"
        else:
            reason = f"about {needed} shared seeds would resolve it at this spread"
    return Verdict(kind, comparison, margin, alpha, wide, narrow, p, p_equivalence, needed, reason)


def level_text(alpha: float) -> str:
    """'95%' for 0.05; '98.3%' for 0.05 / 3."""
    return f"{100 * (1 - alpha):.3g}%"


def csv_fields(verdict: Verdict | None) -> dict[str, float | str | None]:
    """What a table's CSV carries of a verdict, by column name (empty values for a row without one)."""
    names = ("verdict", "paired ΔF1", "low", "high", "equivalence low", "equivalence high", "p", "p equivalence",
             "margin", "level", "seeds", "seeds needed")
    if verdict is None:
        return dict.fromkeys(names)
    wide = verdict.interval or (None, None)
    narrow = verdict.equivalence_interval or (None, None)
    c = verdict.comparison
    values = (verdict.kind, c.mean, *wide, *narrow, verdict.p_value, verdict.p_equivalence, verdict.margin,
              verdict.alpha, " ".join(map(str, c.seeds)),
              None if verdict.seeds_needed is None else str(verdict.seeds_needed))
    return dict(zip(names, values))
