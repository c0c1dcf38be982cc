"""Paired approximate randomisation test of a micro-F1 difference, over per-example tp/fp/fn counts.

Two systems predicted the same test examples (for each seed). Under the null hypothesis the two systems' outputs on
an example are exchangeable, so each (seed, example) pair of count vectors is swapped with probability 1/2 and the
statistic recomputed. The statistic is the mean over seeds of F1(variant) - F1(reference), in [0, 1] units; the test is
two-sided. With few examples (2^N patterns no more than the rounds) every swap pattern is enumerated and the p-value
is exact (the identity pattern included); otherwise `rounds` patterns are drawn from a seeded generator and
p = (1 + #{|t| >= |t_obs|}) / (1 + rounds) (Noreen 1989), which is never zero.
"""
from __future__ import annotations

import itertools

import numpy as np

ROUNDS = 10_000
SEED = 0
_CHUNK = 500  # rounds per matrix product: bounds memory at chunk x examples
_TOLERANCE = 1e-12  # float ties count as "as extreme", as they must for an exact test


def micro_f1(counts: np.ndarray) -> np.ndarray:
    """F1 = 2tp / (2tp + fp + fn) over the last axis (tp, fp, fn); 0 where there is nothing to score."""
    counts = np.asarray(counts, dtype=np.float64)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(denominator), where=denominator > 0)


def _check(variant: list[np.ndarray], reference: list[np.ndarray]) -> None:
    if len(variant) != len(reference) or not variant:
        raise ValueError("need the same, non-zero number of seeds for both systems")
    for a, b in zip(variant, reference):
        if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 3:
            raise ValueError(f"per-example counts must be aligned (n, 3) arrays, got {a.shape} and {b.shape}")


def _statistics(totals_a: np.ndarray, diffs: list[np.ndarray], masks: list[np.ndarray],
                totals_b: np.ndarray) -> np.ndarray:
    """Mean over seeds of F1(a) - F1(b) for each swap pattern; masks[s] is (patterns, n_s) of 0/1."""
    per_seed = []
    for s, (diff, mask) in enumerate(zip(diffs, masks)):
        moved = mask @ diff  # (patterns, 3): what swapping moves from b to a
        per_seed.append(micro_f1(totals_a[s] + moved) - micro_f1(totals_b[s] - moved))
    return np.mean(per_seed, axis=0)


def paired_randomization_test(variant: list[np.ndarray], reference: list[np.ndarray], rounds: int = ROUNDS,
                              seed: int = SEED) -> tuple[float, float]:
    """(observed mean F1 difference, two-sided p-value); one aligned (n, 3) count array per seed and system."""
    _check(variant, reference)
    a = [np.asarray(x, dtype=np.float64) for x in variant]
    b = [np.asarray(x, dtype=np.float64) for x in reference]
    totals_a = np.stack([x.sum(axis=0) for x in a])
    totals_b = np.stack([x.sum(axis=0) for x in b])
    diffs = [y - x for x, y in zip(a, b)]
    observed = float(np.mean(micro_f1(totals_a) - micro_f1(totals_b)))
    sizes = [len(x) for x in a]
    total = sum(sizes)
    splits = np.cumsum(sizes)[:-1]

    if total < 63 and 2 ** total <= rounds:
        patterns = np.array(list(itertools.product((0.0, 1.0), repeat=total))).reshape(-1, total)
        stats = _statistics(totals_a, diffs, np.split(patterns, splits, axis=1), totals_b)
        return observed, float(np.mean(np.abs(stats) >= abs(observed) - _TOLERANCE))

    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, rounds, _CHUNK):
        patterns = rng.integers(0, 2, size=(min(_CHUNK, rounds - start), total)).astype(np.float64)
        stats = _statistics(totals_a, diffs, np.split(patterns, splits, axis=1), totals_b)
        extreme += int(np.sum(np.abs(stats) >= abs(observed) - _TOLERANCE))
    return observed, (1 + extreme) / (1 + rounds)


def marker(p_value: float | None) -> str:
    """The table mark: a dagger for p < 0.05, a double dagger for p < 0.01."""
    if p_value is None:
        return ""
    return "‡" if p_value < 0.01 else "†" if p_value < 0.05 else ""


DESCRIPTION = (f"two-sided paired approximate randomisation test over test examples, {ROUNDS:,} rounds, seed {SEED}, "
               "statistic: mean over shared seeds of the micro-F1 difference")
