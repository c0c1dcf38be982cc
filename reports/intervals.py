"""The interval of one comparison: a row's test F1 against the reference row's, paired over the seeds both ran.

Model (docs/statistics.md): the paired difference of seed s on test set T is D_s = d + e_s + g_T + h_sT, with e_s
the seed's own effect (data order, initialisation), g_T the test set's effect shared by every seed (the test set is
drawn once), and h_sT the seed-by-example interaction. Over seeds on the fixed test set, the sample variance s_D^2
estimates var(e) + var(h); the part more seeds never remove, var(g), is C (reports/bootstrap.py). So
    SE^2(n) = s_D^2 / n + C.
Degrees of freedom: Welch-Satterthwaite with C's taken as infinite, but with s_D^2 at its upper 75% confidence
bound; plain Welch-Satterthwaite under-covers with 2 or 3 seeds (a spread small by chance inflates the df).
The bound of the interval on the side where C grows (its slope along the difference) uses C at that bound, never
less than C: a row better on more examples is noisier, and a symmetric interval would miss on that side.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from reports.bootstrap import ROUNDS, SEED, micro_f1, sampling_terms


@dataclass(frozen=True)
class Comparison:
    """One row against the reference on one dataset, in F1 points (x100)."""

    seeds: tuple[int, ...]  # the shared seeds, in the order of `differences`
    differences: tuple[float, ...]  # D_s = F1(row) - F1(reference) per shared seed
    test_var: float  # C: the test set's variance of the mean difference that more seeds do not remove
    test_var_one: float = 0.0  # the test set's variance of one seed's difference (C plus the interaction)
    test_slope: float = 0.0  # how C changes along the difference (reports/bootstrap.py)

    @property
    def n(self) -> int:
        return len(self.differences)

    @functools.cached_property
    def mean(self) -> float:
        return math.fsum(self.differences) / self.n

    @functools.cached_property
    def seed_var(self) -> float | None:
        """s_D^2 (ddof 1); None with one seed: the spread over seeds is unknown."""
        if self.n < 2:
            return None
        return math.fsum((d - self.mean) ** 2 for d in self.differences) / (self.n - 1)

    def variance_at(self, value: float) -> float:
        """SE^2 with C taken where the mean difference would be `value` (never below C)."""
        return self.seed_var / self.n + self.test_var + max(0.0, self.test_slope * (value - self.mean))


def standard_error(seed_var: float, test_var: float, n: int | np.ndarray) -> float | np.ndarray:
    return np.sqrt(seed_var / n + test_var)


def degrees_of_freedom(seed_var: float, test_var: float, n: int | np.ndarray) -> float | np.ndarray:
    """Welch-Satterthwaite, (a + C)^2 / (a^2 / (n - 1)), with a = s_D^2 / n at its upper 75% confidence bound;
    infinite when the seeds add nothing. n may be an array (planning over seed counts)."""
    if isinstance(n, int):  # the common case, without numpy's overhead on scalars
        a = seed_var / n * (n - 1) / float(special.chdtri(max(n - 1, 1), 0.75))
        return math.inf if a <= 0 else (n - 1) * ((a + test_var) / a) ** 2
    n = np.asarray(n, dtype=np.float64)
    a = np.asarray(seed_var / n * (n - 1) / special.chdtri(np.maximum(n - 1, 1), 0.75))
    safe = np.where(a > 0, a, 1.0)
    df = np.where(a > 0, (n - 1) * ((a + test_var) / safe) ** 2, np.inf)
    return float(df) if df.ndim == 0 else df


# scipy.special's distribution functions, not scipy.stats': the same values, a hundred times faster per scalar call
# (a study's verdicts and the simulations call them by the thousand)
def t_quantile(q: float | np.ndarray, df: float | np.ndarray) -> float | np.ndarray:
    return special.stdtrit(df, q)


def t_cdf(x: float, df: float) -> float:
    return float(special.stdtr(df, x))


def normal_quantile(q: float) -> float:
    return float(special.ndtri(q))


def _reach(t: float, base: float, slope: float) -> float:
    """x > 0 with x = t sqrt(base + slope x), slope >= 0: how far a bound lies from the mean."""
    return (t * t * slope + math.sqrt(t ** 4 * slope ** 2 + 4 * t * t * base)) / 2


def interval(comparison: Comparison, alpha: float) -> tuple[float, float] | None:
    """The two-sided 1 - alpha interval of the mean difference; None with fewer than two shared seeds."""
    c = comparison
    if c.seed_var is None:
        return None
    t = float(t_quantile(1 - alpha / 2, degrees_of_freedom(c.seed_var, c.test_var, c.n)))
    base = c.seed_var / c.n + c.test_var
    return c.mean - _reach(t, base, max(0.0, -c.test_slope)), c.mean + _reach(t, base, max(0.0, c.test_slope))


def compare(variant: list[np.ndarray], reference: list[np.ndarray], seeds: tuple[int, ...], rounds: int = ROUNDS,
            seed: int = SEED) -> Comparison:
    """The comparison of a row with the reference over shared seeds (per-example counts aligned per seed)."""
    if len(seeds) != len(variant):
        raise ValueError(f"{len(seeds)} seeds for {len(variant)} count arrays")
    observed = [100 * (micro_f1(a.sum(axis=0)) - micro_f1(b.sum(axis=0))) for a, b in zip(variant, reference)]
    terms = sampling_terms(variant, reference, rounds, seed)
    return Comparison(tuple(seeds), tuple(float(d) for d in observed), terms.covariance, terms.one_seed,
                      terms.slope)
