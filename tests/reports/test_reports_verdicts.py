"""The four verdicts, their precedence, their agreement with the intervals, and the seeds that would resolve one."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from reports.intervals import Comparison, degrees_of_freedom, interval
from reports.verdicts import judge, seeds_to_resolve


def _c(differences, test_var=0.01, slope=0.0) -> Comparison:
    return Comparison(tuple(range(1, len(differences) + 1)), tuple(differences), test_var, test_slope=slope)


def test_higher_lower_equivalent_undetermined():
    assert judge(_c([1.5, 1.7, 1.6]), 0.5).kind == "higher"
    assert judge(_c([-1.5, -1.7, -1.6]), 0.5).kind == "lower"
    same = judge(_c([0.05, -0.1, 0.0, 0.08]), 0.5)
    assert same.kind == "equivalent" and same.mark == "≈"
    assert same.reason == "the 90% interval lies inside ±0.5"
    open_ = judge(_c([0.6, -0.2, 0.3]), 0.5)
    assert open_.kind == "undetermined" and open_.mark == "?"
    assert open_.seeds_needed > 3 and f"about {open_.seeds_needed} shared seeds would resolve it" in open_.reason


def test_a_real_difference_smaller_than_the_margin_is_equivalent_and_says_so():
    verdict = judge(_c([0.2, 0.22, 0.21, 0.19], test_var=0.0004), 0.5)
    assert verdict.kind == "equivalent" and verdict.interval[0] > 0
    assert "a real difference smaller than the margin" in verdict.reason


def test_one_shared_seed_and_the_test_sets_floor():
    one = judge(_c([1.0]), 0.5)
    assert one.kind == "undetermined" and one.interval is None and one.seeds_needed is None
    floor = judge(_c([0.1, -0.2, 0.3, 0.0], test_var=0.25), 0.5)  # the test set alone: ±0.98
    assert floor.kind == "undetermined" and floor.seeds_needed is None
    assert floor.reason.startswith("not resolvable by more seeds: the test set's own noise is ±0.98")
    with pytest.raises(ValueError, match="positive"):
        judge(_c([0.1, 0.2]), 0.0)


def test_p_values_agree_with_the_intervals():
    rng = np.random.default_rng(4)
    for _ in range(300):
        n = int(rng.integers(2, 8))
        c = _c(rng.normal(rng.normal(0, 0.7), 0.5, size=n), test_var=float(rng.uniform(0, 0.1)),
               slope=float(rng.normal(0, 0.05)))
        for alpha in (0.05, 0.05 / 3):
            v = judge(c, 0.5, alpha)
            low, high = interval(c, alpha)
            assert (v.p_value < alpha) == (low > 0 or high < 0)
            low, high = interval(c, 2 * alpha)
            assert (v.p_equivalence < alpha) == (-0.5 < low and high < 0.5)
            assert v.kind != "undetermined" or not (v.p_value < alpha or v.p_equivalence < alpha)


def test_seeds_to_resolve_is_the_first_count_that_does():
    def direction_resolved(n: int) -> bool:  # |mean| >= (t + z) SE, written out
        se = math.sqrt(0.25 / n + 0.01)
        return 0.6 >= (stats.t.ppf(0.975, degrees_of_freedom(0.25, 0.01, n)) + stats.norm.ppf(0.8)) * se

    needed = seeds_to_resolve(0.6, 0.25, 0.01, 0.5)
    assert needed > 2 and direction_resolved(needed) and not direction_resolved(needed - 1)
    assert seeds_to_resolve(0.6, 0.5, 0.01, 0.5) > needed  # a wider spread needs more seeds
    assert seeds_to_resolve(0.0, 0.25, 0.0, 0.5) is not None  # equivalence, with no test-set floor
    assert seeds_to_resolve(0.1, 0.25, 0.3, 0.5) is None  # the test set alone keeps it open
    assert seeds_to_resolve(10.0, 0.25, 0.01, 0.5) == 2  # two seeds are the fewest that give an interval
