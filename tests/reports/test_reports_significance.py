"""The paired approximate randomisation test against hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from reports.significance import marker, micro_f1, paired_randomization_test

# One seed, three examples; example 3 is the same for both systems, so swapping it never changes anything.
VARIANT = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1]])
REFERENCE = np.array([[0, 0, 1], [0, 1, 1], [0, 0, 1]])


def test_micro_f1_from_counts():
    assert micro_f1(VARIANT.sum(axis=0)) == pytest.approx(0.8)  # tp 2, fp 0, fn 1: 4 / 5
    assert micro_f1(REFERENCE.sum(axis=0)) == 0.0
    assert micro_f1(np.zeros(3)) == 0.0


def test_exact_p_value_hand_computed():
    # Swap patterns of examples 1 and 2 (example 3 doubles each):
    #   none:  F1 0.8 - 0.0 = +0.8      swap 1: 0.5 - 0.4 = +0.1
    #   swap 2: 0.4 - 0.5 = -0.1        both:  0.0 - 0.8 = -0.8
    # |t| >= 0.8 in 4 of the 8 patterns: p = 0.5.
    observed, p_value = paired_randomization_test([VARIANT], [REFERENCE])
    assert observed == pytest.approx(0.8)
    assert p_value == pytest.approx(0.5)


def test_statistic_is_the_mean_over_seeds():
    # A second seed where both systems agree adds a zero difference: observed halves, the p-value stays 8 / 16.
    same = np.array([[1, 0, 0]])
    observed, p_value = paired_randomization_test([VARIANT, same], [REFERENCE, same])
    assert observed == pytest.approx(0.4)
    assert p_value == pytest.approx(0.5)


def test_sampled_p_value_approximates_the_exact_one():
    rng = np.random.default_rng(3)
    a = [rng.integers(0, 3, size=(12, 3))]
    b = [rng.integers(0, 3, size=(12, 3))]
    _, exact = paired_randomization_test(a, b, rounds=4096)  # 2^12 patterns: enumerated
    _, sampled = paired_randomization_test(a, b, rounds=4000, seed=1)  # fewer rounds than patterns: sampled
    assert sampled == pytest.approx(exact, abs=0.03)
    assert paired_randomization_test(a, b, rounds=4000, seed=1)[1] == sampled  # seeded: reproducible


def test_clear_difference_and_no_difference():
    good, bad = np.tile([1, 0, 0], (200, 1)), np.tile([0, 1, 1], (200, 1))
    observed, p_value = paired_randomization_test([good], [bad], rounds=2000)
    assert observed == 1.0 and p_value == pytest.approx(1 / 2001)
    assert paired_randomization_test([good], [good], rounds=2000)[1] == 1.0


def test_misaligned_inputs_are_refused():
    with pytest.raises(ValueError, match="aligned"):
        paired_randomization_test([VARIANT], [REFERENCE[:2]])
    with pytest.raises(ValueError, match="same, non-zero number of seeds"):
        paired_randomization_test([VARIANT], [])


def test_marker_thresholds():
    assert [marker(p) for p in (None, 0.2, 0.04, 0.009)] == ["", "", "†", "‡"]
