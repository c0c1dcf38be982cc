"""Power before launch: the spread of finished studies, and what planned seeds can resolve with it."""
from __future__ import annotations

import math

import pytest
from mlflow.tracking import MlflowClient
from scipy import stats

from reports.intervals import degrees_of_freedom
from reports.mlflow_source import finished_studies
from reports.power import (Spread, finished_comparisons, own_spreads, power_line, power_lines, seeds_for_margin,
                           smallest_resolvable, spread_of)

SPREAD = Spread(seed_var=0.46 ** 2, test_var=0.11 ** 2, comparisons=4, studies=("ablation",))


def test_more_seeds_resolve_smaller_differences_down_to_the_test_sets_floor():
    sizes = [smallest_resolvable(n, SPREAD) for n in (2, 3, 6, 12, 100)]
    assert sizes == sorted(sizes, reverse=True) and smallest_resolvable(1, SPREAD) == math.inf
    assert sizes[-1] > (1.96 + 0.84) * 0.11  # never below what the test set alone allows
    assert 0.4 < smallest_resolvable(12, SPREAD) < 0.6  # (t + z) x sqrt(0.21 / 12 + 0.012), t about 2.2


def test_seeds_for_the_margin():
    def shown(n: int) -> bool:  # a true difference of 0: (t(0.95) + z(0.8)) SE(n) <= margin, written out
        df = degrees_of_freedom(SPREAD.seed_var, SPREAD.test_var, n)
        return (stats.t.ppf(0.95, df) + stats.norm.ppf(0.8)) * math.sqrt(SPREAD.seed_var / n + SPREAD.test_var) <= 0.5

    needed = seeds_for_margin(0.5, SPREAD)
    assert needed > 2 and shown(needed) and not shown(needed - 1)
    assert seeds_for_margin(1.0, SPREAD) < needed
    assert seeds_for_margin(0.3, SPREAD) > 80  # (1.64 + 0.84) x 0.11 alone nearly fills 0.3
    assert seeds_for_margin(0.25, SPREAD) is None  # and more than fills 0.25


def test_power_lines_say_what_the_seeds_resolve_or_that_there_is_no_history():
    line = power_line("w/o context", "twitter2017", 3, SPREAD, 0.5)
    assert line.startswith(f"w/o context / twitter2017: 3 seeds resolve a difference of "
                           f"{smallest_resolvable(3, SPREAD):.2f} F1 or more, equivalence within ±0.5 needs about "
                           f"{seeds_for_margin(0.5, SPREAD)} seeds (80% power, level 0.05; spread of 4 finished")
    assert "seed SD of a paired difference 0.46, test-set term ±0.11" in line
    floor = power_line("w/o context", "twitter2017", 3, SPREAD, 0.25)
    assert "equivalence within ±0.25 is out of reach of any seed count (the test set's own noise is ±0.22)" in floor
    assert power_line("row", "mnre", 3, None, 1.0) == ("row / mnre: no finished comparisons of mnre at this preset in "
                                                       "the store yet: no power estimate")


def test_the_spread_comes_from_the_finished_studies_of_the_preset(fixture_store):
    history = finished_studies(MlflowClient(fixture_store.uri), "cpu")
    names = {d.info.name for d in history}
    assert {"factorial", "samples", "main", "verdicts"} <= names and "no_test" not in names  # refused: left out
    spread = spread_of(finished_comparisons(history), "twitter2017")
    assert spread.comparisons >= 10 and {"factorial", "verdicts"} <= set(spread.studies)
    assert spread.seed_var > 0 and spread.test_var > 0
    assert spread_of(finished_comparisons(history), "jmere") is None
    lines = power_lines([("w/o context", "twitter2017"), ("w/o context", "jmere")], 3, history, margin=2.0)
    assert lines[0].startswith("w/o context / twitter2017: 3 seeds resolve") and "within ±2 " in lines[0]
    assert lines[1].endswith("no finished comparisons of jmere at this preset in the store yet: no power estimate")
    again = spread_of(finished_comparisons(history), "twitter2017")
    assert pytest.approx(spread.seed_var) == again.seed_var  # deterministic


def test_a_row_the_study_has_compared_before_is_read_from_its_own_comparison(fixture_store):
    history = finished_studies(MlflowClient(fixture_store.uri), "cpu")
    own = own_spreads(finished_comparisons(history), "verdicts")
    assert own and all(s.own_seeds >= 2 and s.studies == ("verdicts",) for s in own.values())
    (row, dataset), spread = next(iter(own.items()))
    lines = power_lines([(row, dataset), ("a row never run", dataset)], 3, history, study="verdicts")
    assert f"spread of this row's own finished comparison in verdicts, {spread.own_seeds} shared seeds" in lines[0]
    assert f"seed SD of a paired difference {spread.seed_var ** 0.5:.2f}" in lines[0]
    assert "finished comparison(s) in" in lines[1]  # no history of its own: the dataset's pooled spread
    assert power_lines([(row, dataset)], 3, history) != lines[:1]  # without the study's name: pooled
