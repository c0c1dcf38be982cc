"""The interval of one comparison: a row's test F1 against the reference row's, paired over the seeds both ran.

Model (docs/statistics.md): the paired difference of seed s on the test set T is D_s = d + e_s + g_T + h_sT, with
e_s the seed's own effect (data order, initialisation), g_T the test set's effect shared by every seed (one test set
is drawn once), and h_sT the seed-by-example interaction. Over seeds on the fixed test set, the sample variance
s_D^2 of the D_s estimates var(e) + var(h); the part that more seeds never remove, var(g), is the covariance between
two seeds' differences over resampled test sets: a paired bootstrap over test examples (one resample of the example
indices per round, applied to every seed of both rows), averaged over the pairs of distinct seeds. So
    SE^2(n) = s_D^2 / n + C,    df = Welch-Satterthwaite with C's degrees of freedom taken as infinite,
and the 1 - a interval is mean +- t(1 - a/2, df) SE. One shared seed leaves s_D undefined: no interval.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


ROUNDS = 2000  # bootstrap rounds: C's relative Monte Carlo error is about sqrt(2 / ROUNDS), 3%
SEED = 0  # every comparison resamples the same way: the tables are reproducible to the byte
_CHUNK = 250  # rounds per weight matrix: bounds memory at chunk x examples


def micro_f1(counts: np.ndarray) -> np.ndarray:
    """F1 = 2tp / (2tp + fp + fn) over the last axis (tp, fp, fn); 0 where there is nothing to score."""
    counts = np.asarray(counts, dtype=np.float64)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(denominator), where=denominator > 0)


@dataclass(frozen=True)
class Comparison:
    """One row against the reference on one dataset, in F1 points (x100)."""

    seeds: tuple[int, ...]  # the shared seeds, in the order of `differences`
    differences: tuple[float, ...]  # D_s = F1(row) - F1(reference) per shared seed
    test_var: float  # C: the test set's variance of the mean difference that more seeds do not remove
    test_var_one: float  # the test set's variance of one seed's difference (C plus the interaction)

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def mean(self) -> float:
        return float(np.mean(self.differences))

    @property
    def seed_var(self) -> float | None:
        """s_D^2 (ddof 1); None with one seed: the spread over seeds is unknown."""
        return float(np.var(self.differences, ddof=1)) if self.n > 1 else None


def standard_error(seed_var: float, test_var: float, n: int | np.ndarray) -> float | np.ndarray:
    return np.sqrt(seed_var / n + test_var)


def degrees_of_freedom(seed_var: float, test_var: float, n: int | np.ndarray) -> float | np.ndarray:
    """Welch-Satterthwaite: (a + C)^2 / (a^2 / (n - 1)) with a = s_D^2 / n; infinite when the seeds add nothing.
    n may be an array (planning over seed counts)."""
    a = np.asarray(seed_var / np.asarray(n, dtype=np.float64))
    safe = np.where(a > 0, a, 1.0)
    df = np.where(a > 0, (np.asarray(n) - 1) * ((a + test_var) / safe) ** 2, np.inf)
    return float(df) if df.ndim == 0 else df


def t_quantile(q: float | np.ndarray, df: float | np.ndarray) -> float | np.ndarray:
    return stats.t.ppf(q, df)


def interval(comparison: Comparison, alpha: float) -> tuple[float, float] | None:
    """The two-sided 1 - alpha interval of the mean difference; None with fewer than two shared seeds."""
    if comparison.seed_var is None:
        return None
    se = standard_error(comparison.seed_var, comparison.test_var, comparison.n)
    half = float(t_quantile(1 - alpha / 2, degrees_of_freedom(comparison.seed_var, comparison.test_var,
                                                              comparison.n)) * se)
    return comparison.mean - half, comparison.mean + half


def _weights(examples: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """(rounds, examples): how often each example is drawn in each bootstrap round."""
    draws = rng.integers(0, examples, size=(rounds, examples)) + examples * np.arange(rounds)[:, None]
    return np.bincount(draws.ravel(), minlength=rounds * examples).reshape(rounds, examples).astype(np.float64)


def bootstrap_differences(variant: list[np.ndarray], reference: list[np.ndarray], rounds: int = ROUNDS,
                          seed: int = SEED) -> np.ndarray:
    """(rounds, seeds): each seed's F1 difference (points) on each resampled test set; one aligned (n, 3) tp/fp/fn
    array per seed and row. The same resample applies to every seed of both rows: the test set is shared."""
    if len(variant) != len(reference) or not variant:
        raise ValueError("need the same, non-zero number of seeds for both rows")
    shapes = {np.shape(x) for x in (*variant, *reference)}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 or next(iter(shapes))[1] != 3:
        raise ValueError(f"per-example counts must be aligned (n, 3) arrays, got shapes {sorted(shapes)}")
    stacked = np.concatenate([np.concatenate([a, b], axis=1) for a, b in zip(variant, reference)], axis=1)
    stacked = stacked.astype(np.float64)  # (examples, seeds * 6)
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, rounds, _CHUNK):
        totals = (_weights(len(stacked), min(_CHUNK, rounds - start), rng) @ stacked).reshape(-1, len(variant), 2, 3)
        f1 = micro_f1(totals)
        out.append(100 * (f1[..., 0] - f1[..., 1]))
    return np.concatenate(out)


def test_set_variances(draws: np.ndarray) -> tuple[float, float]:
    """(C, one seed's variance) from bootstrap_differences: C is the mean covariance of two distinct seeds'
    differences (clipped at 0: a variance), one seed's the mean variance. With one seed C is not identified and the
    one-seed variance stands in for it (an upper bound)."""
    cov = np.atleast_2d(np.cov(draws, rowvar=False))
    n = cov.shape[0]
    one = float(np.trace(cov) / n)
    if n == 1:
        return one, one
    return max(0.0, float((cov.sum() - np.trace(cov)) / (n * (n - 1)))), one


def compare(variant: list[np.ndarray], reference: list[np.ndarray], seeds: tuple[int, ...], rounds: int = ROUNDS,
            seed: int = SEED) -> Comparison:
    """The comparison of a row with the reference over shared seeds (per-example counts aligned per seed)."""
    if len(seeds) != len(variant):
        raise ValueError(f"{len(seeds)} seeds for {len(variant)} count arrays")
    observed = [100 * (micro_f1(a.sum(axis=0)) - micro_f1(b.sum(axis=0))) for a, b in zip(variant, reference)]
    test_var, one = test_set_variances(bootstrap_differences(variant, reference, rounds, seed))
    return Comparison(tuple(seeds), tuple(float(d) for d in observed), test_var, one)
