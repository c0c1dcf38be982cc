"""Exact Shapley attribution of F1 to components, against hand-computed values for three components."""
from __future__ import annotations

import numpy as np
import pytest

from reports.attribution import bootstrap_intervals, coalition_name, missing_coalitions, shapley_values
from reports.bootstrap import micro_f1

PLAYERS = ["A", "B", "C"]
GAME = {(): 50, ("A",): 60, ("B",): 55, ("C",): 50, ("A", "B"): 70, ("A", "C"): 62, ("B", "C"): 57,
        ("A", "B", "C"): 74}
VALUES = {frozenset(k): float(v) for k, v in GAME.items()}


def test_three_components_hand_computed():
    # phi_A = 1/3 (60-50) + 1/6 (70-55) + 1/6 (62-50) + 1/3 (74-57) = 3.333 + 2.5 + 2 + 5.667 = 13.5
    # phi_B = 1/3 (55-50) + 1/6 (70-60) + 1/6 (57-50) + 1/3 (74-62) = 1.667 + 1.667 + 1.167 + 4 = 8.5
    # phi_C = 1/3 (50-50) + 1/6 (62-60) + 1/6 (57-55) + 1/3 (74-70) = 0 + 0.333 + 0.333 + 1.333 = 2.0
    phi = shapley_values(PLAYERS, VALUES)
    assert phi == pytest.approx({"A": 13.5, "B": 8.5, "C": 2.0})
    assert sum(phi.values()) == pytest.approx(GAME[("A", "B", "C")] - GAME[()])  # efficiency


def test_additive_game_gives_each_player_its_own_gain():
    gains = {"A": 3.0, "B": -1.0, "C": 0.5}
    values = {frozenset(c): 10 + sum(gains[p] for p in c) for c in map(tuple, VALUES)}
    assert shapley_values(PLAYERS, values) == pytest.approx(gains)


def test_missing_coalitions_are_named():
    partial = {c: v for c, v in VALUES.items() if c not in (frozenset(), frozenset({"C"}))}
    assert [coalition_name(c) for c in missing_coalitions(PLAYERS, partial)] == ["∅", "{C}"]
    with pytest.raises(ValueError, match=r"missing coalitions: ∅, \{C\}"):
        shapley_values(PLAYERS, partial)


def _counts(quality: float, key: int, n: int = 80) -> np.ndarray:
    rng = np.random.default_rng(key)
    tp = rng.binomial(2, quality, size=n)
    return np.stack([tp, rng.binomial(1, 1 - quality, size=n), 2 - tp], axis=1)


def test_bootstrap_intervals_cover_the_point_value_and_are_reproducible():
    quality = {c: 0.4 + 0.15 * ("A" in c) + 0.1 * ("B" in c) + 0.02 * ("C" in c) for c in VALUES}
    counts = {c: [_counts(q, i), _counts(q, i + 10)] for i, (c, q) in enumerate(quality.items())}
    values = {c: 100 * np.mean([micro_f1(a.sum(axis=0)) for a in arrays]) for c, arrays in counts.items()}
    point = shapley_values(PLAYERS, values)
    intervals = bootstrap_intervals(PLAYERS, counts, rounds=300, seed=0)
    for player, (low, high) in intervals.items():
        assert low < point[player] < high
    assert bootstrap_intervals(PLAYERS, counts, rounds=300, seed=0) == intervals
    assert intervals["A"][0] > 0  # a clearly useful component: its interval excludes zero


def test_identical_coalitions_give_zero_width_intervals_at_zero():
    same = _counts(0.6, 1)
    counts = {c: [same] for c in VALUES}
    for low, high in bootstrap_intervals(PLAYERS, counts, rounds=50).values():
        assert low == pytest.approx(0.0, abs=1e-9) and high == pytest.approx(0.0, abs=1e-9)
