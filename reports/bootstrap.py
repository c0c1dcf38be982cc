"""The test set's part of a comparison's noise: a paired bootstrap over test examples of per-seed F1 differences.

One resample of the example indices per round applies to every seed of both rows (the test set is shared), so the
draws keep how the seeds' differences move together when the test set changes. From them:
- C, the covariance of two distinct seeds' differences, averaged over the pairs: the test set's variance of the
  mean difference that more seeds do not remove;
- the variance of one seed's difference (C plus the seed-by-example interaction), which stands in for C with one seed;
- the slope of C along the mean difference: how C grows where the test set favours one row more (a row better on
  more examples is also noisier), estimated across the resamples from C's linearised value in each one.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

ROUNDS = 2000  # C's relative Monte Carlo error is about sqrt(2 / ROUNDS), 3%
SEED = 0  # every comparison resamples the same way: the tables are reproducible to the byte
_CHUNK = 250  # rounds per weight matrix: bounds memory at chunk x examples
_CACHED = 2 ** 23  # resample counts (rounds x examples) kept between comparisons of one test set: 32 MB of float32


def micro_f1(counts: np.ndarray) -> np.ndarray:
    """F1 = 2tp / (2tp + fp + fn) over the last axis (tp, fp, fn); 0 where there is nothing to score."""
    counts = np.asarray(counts, dtype=np.float64)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(denominator), where=denominator > 0)


def _influence(counts: np.ndarray) -> np.ndarray:
    """Each example's first-order effect on micro-F1 x100 (the influence function; it sums to 0 over examples)."""
    tp, fp, fn = counts.sum(axis=0).astype(np.float64)
    total = 2 * tp + fp + fn
    if total == 0:
        return np.zeros(len(counts))
    return 100 * len(counts) * (2 * counts[:, 0] * total - 2 * tp * (2 * counts[:, 0] + counts[:, 1] + counts[:, 2])) \
        / total ** 2


def _chunks(examples: int, rounds: int, seed: int):
    """(chunk, examples) float32 matrices: how often each example is drawn in each round."""
    rng = np.random.default_rng(seed)
    for start in range(0, rounds, _CHUNK):
        size = min(_CHUNK, rounds - start)
        draws = rng.integers(0, examples, size=(size, examples)) + examples * np.arange(size)[:, None]
        yield np.bincount(draws.ravel(), minlength=size * examples).reshape(size, examples).astype(np.float32)


@functools.lru_cache(maxsize=2)
def _cached(examples: int, rounds: int, seed: int) -> tuple[np.ndarray, ...]:
    return tuple(_chunks(examples, rounds, seed))


def _weights(examples: int, rounds: int, seed: int):
    return _cached(examples, rounds, seed) if examples * rounds <= _CACHED else _chunks(examples, rounds, seed)


@dataclass(frozen=True)
class SamplingTerms:
    covariance: float  # C, F1 points^2, clipped at 0 (a variance); one seed's variance when there is one seed
    one_seed: float  # the variance of one seed's difference
    slope: float  # dC / d(mean difference) across resamples; 0 with one seed


def sampling_terms(variant: list[np.ndarray], reference: list[np.ndarray], rounds: int = ROUNDS,
                   seed: int = SEED) -> SamplingTerms:
    """The terms from aligned (examples, 3) tp/fp/fn arrays, one per seed and row."""
    if len(variant) != len(reference) or not variant:
        raise ValueError("need the same, non-zero number of seeds for both rows")
    shapes = {np.shape(x) for x in (*variant, *reference)}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 or next(iter(shapes))[1] != 3:
        raise ValueError(f"per-example counts must be aligned (n, 3) arrays, got shapes {sorted(shapes)}")
    n, examples = len(variant), len(variant[0])
    stacked = np.concatenate([np.concatenate([a, b], axis=1) for a, b in zip(variant, reference)], axis=1)
    if examples * max(int(stacked.max(initial=0)), 1) >= 2 ** 24:  # a resample's total: at most examples x max
        raise ValueError("counts too large for exact float32 sums")
    stacked = stacked.astype(np.float32)
    influence = np.stack([_influence(a) - _influence(b) for a, b in zip(variant, reference)])  # (seeds, examples)
    pairs = (influence.sum(axis=0) ** 2 - (influence ** 2).sum(axis=0)) / max(n * (n - 1), 1)  # per example
    draws, linear = [], []
    for weights in _weights(examples, rounds, seed):
        f1 = micro_f1((weights @ stacked).astype(np.float64).reshape(-1, n, 2, 3))
        draws.append(100 * (f1[..., 0] - f1[..., 1]))
        means = weights.astype(np.float64) @ influence.T / examples  # (chunk, seeds): each seed's resampled mean
        linear.append((weights.astype(np.float64) @ pairs
                       - examples * (means.sum(axis=1) ** 2 - (means ** 2).sum(axis=1)) / max(n * (n - 1), 1))
                      / examples ** 2)
    draws = np.concatenate(draws)
    cov = np.atleast_2d(np.cov(draws, rowvar=False))
    one = float(np.trace(cov) / n)
    if n == 1:
        return SamplingTerms(one, one, 0.0)
    covariance = max(0.0, float((cov.sum() - np.trace(cov)) / (n * (n - 1))))
    mean_draws, linear = draws.mean(axis=1), np.concatenate(linear)
    spread = float(np.var(mean_draws, ddof=1))
    slope = float(np.cov(mean_draws, linear)[0, 1] / spread) if spread > 0 else 0.0
    return SamplingTerms(covariance, one, slope)
