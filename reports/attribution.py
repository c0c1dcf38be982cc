"""Exact Shapley attribution of test F1 to the model's components, from a factorial ablation.

Players are the components (the runs' `components` tag); the value of a coalition S is the test F1 (x100, mean over
seeds) of the run cell whose switched-on components are exactly S. The Shapley value of component i is
    phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S)),
so the values add up to v(all) - v(none): how much of the gain over the bare model each part brings, averaged over
every order of switching the parts on (which a leave-one-out ablation cannot say). It needs all 2^n coalitions; a
missing one is named and no value is invented for it.

Intervals: a paired bootstrap over test examples. The same resampled example indices are used for every coalition
and seed (the test set is shared), micro-F1 is recomputed from the per-example tp/fp/fn counts, and the 2.5 and 97.5
percentiles of the resulting phi are reported.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from reports.bootstrap import micro_f1

BOOTSTRAP_ROUNDS = 1_000
BOOTSTRAP_SEED = 0
_CHUNK = 250


def coalition_name(coalition: frozenset[str]) -> str:
    return "{" + ", ".join(sorted(coalition)) + "}" if coalition else "∅"


def all_coalitions(players: list[str]) -> list[frozenset[str]]:
    return [frozenset(c) for size in range(len(players) + 1) for c in itertools.combinations(sorted(players), size)]


def missing_coalitions(players: list[str], values: dict[frozenset[str], object]) -> list[frozenset[str]]:
    return [c for c in all_coalitions(players) if c not in values]


def shapley_values(players: list[str], values: dict[frozenset[str], float]) -> dict[str, float]:
    """Exact Shapley values of a game given as coalition -> value (all 2^n coalitions needed)."""
    missing = missing_coalitions(players, values)
    if missing:
        raise ValueError(f"missing coalitions: {', '.join(coalition_name(c) for c in missing)}")
    n = len(players)
    result = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in itertools.combinations(others, size):
                coalition = frozenset(subset)
                total += weight * (values[coalition | {player}] - values[coalition])
        result[player] = total
    return result


def _weight_matrix(players: list[str]) -> tuple[list[frozenset[str]], np.ndarray]:
    """Coalitions and the (coalitions, players) matrix W with phi = v @ W: Shapley values are linear in v."""
    coalitions = all_coalitions(players)
    matrix = np.zeros((len(coalitions), len(players)))
    for column, player in enumerate(players):
        basis = {c: 0.0 for c in coalitions}
        for row, coalition in enumerate(coalitions):
            basis[coalition] = 1.0
            matrix[row, column] = shapley_values(players, basis)[player]
            basis[coalition] = 0.0
    return coalitions, matrix


def bootstrap_intervals(players: list[str], counts: dict[frozenset[str], list[np.ndarray]],
                        rounds: int = BOOTSTRAP_ROUNDS, seed: int = BOOTSTRAP_SEED,
                        level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile intervals of phi (F1 x100) under a paired bootstrap over test examples.

    counts maps each coalition to its seeds' aligned (n_examples, 3) tp/fp/fn arrays (same example order in all).
    """
    coalitions, weights = _weight_matrix(players)
    sizes = {a.shape[0] for arrays in counts.values() for a in arrays}
    if len(sizes) != 1:
        raise ValueError(f"coalition runs cover different numbers of test examples: {sorted(sizes)}")
    n_examples = sizes.pop()
    rng = np.random.default_rng(seed)
    phis = []
    for start in range(0, rounds, _CHUNK):
        size = min(_CHUNK, rounds - start)
        # Resampling with replacement = multinomial weights per example; one draw shared by every run (paired).
        draws = rng.multinomial(n_examples, np.full(n_examples, 1.0 / n_examples), size=size).astype(np.float64)
        values = np.stack([np.mean([micro_f1(draws @ a) for a in counts[c]], axis=0) for c in coalitions], axis=1)
        phis.append(100.0 * values @ weights)
    phi = np.concatenate(phis)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(phi, [tail, 100 - tail], axis=0)
    return {player: (float(low[i]), float(high[i])) for i, player in enumerate(players)}
