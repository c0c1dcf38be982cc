"""Studies that add seeds until they answer: the declared looks, each round's decisions, and the error over looks
by simulation (reports/simulation.py)."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

from reports.intervals import Comparison
from reports.looks import level_at, look_levels, plan_round, schedule, seed_sequence, study_level
from reports.records import StudyInfo
from reports.simulation import SEED_VAR, TEST_VAR, NormalStudy, Scenario, adaptive, counts_study

D = "twitter2017"


def test_the_looks_are_declared_from_the_planned_seeds_and_the_cap():
    assert schedule(3, 10) == (3, 6, 10) and schedule(3, 3) == (3,) and schedule(2, 20) == (2, 4, 8, 16, 20)
    assert look_levels(3, 12) == pytest.approx((0.05 * 3 / 21, 0.05 * 6 / 21, 0.05 * 12 / 21))
    assert sum(look_levels(2, 20)) == pytest.approx(0.05) and look_levels(3, None) == (0.05,)
    assert [level_at(n, 3, 12) for n in (2, 3, 5, 6, 12)] == pytest.approx([0.05 / 7] * 3 + [0.1 / 7, 0.2 / 7])
    info = StudyInfo("s", "compare", "p", "ablation", (), (1, 2, 3), (D,), until_resolved=12)
    assert study_level(info, 6) == pytest.approx(0.1 / 7) and study_level(replace(info, until_resolved=None), 6) == 0.05
    assert seed_sequence((1, 2, 3), 6) == (1, 2, 3, 4, 5, 6) and seed_sequence((5, 7), 4) == (5, 7, 8, 9)
    with pytest.raises(ValueError):
        schedule(4, 3)


def _c(differences, test_var=0.01) -> Comparison:
    return Comparison(tuple(range(1, len(differences) + 1)), tuple(differences), test_var)


def test_a_round_adds_seeds_only_to_undetermined_rows_and_their_reference():
    comparisons = {("resolved", D): (_c([2.0, 2.2, 2.1]), ""),
                   ("open", D): (_c([0.1, -0.3, 0.2]), ""),
                   ("floor", D): (_c([0.1, -0.2, 0.3], test_var=0.25), ""),
                   ("lonely", D): (_c([0.4]), ""),
                   ("no predictions", D): (None, "no predictions/test.jsonl in run(s) r9; no verdict.")}
    have = {(v, D): {1, 2, 3} for v in ("full", "resolved", "open", "floor")} | {("lonely", D): {1}}
    decided = plan_round(comparisons, have, "full", {D: 0.5}, (1, 2, 3), cap=12)
    assert decided.looks == (3, 6, 12) and decided.levels == look_levels(3, 12)
    by_row = {r.variant: r for r in decided.requests}
    assert by_row["resolved"].verdict.kind == "higher" and by_row["resolved"].reason.startswith("resolved: ")
    assert by_row["open"].verdict.kind == "undetermined" and by_row["open"].target == 6
    assert "; not resolvable by more seeds: the test set's own noise is ±" in by_row["floor"].reason
    assert by_row["lonely"].target == 3 and by_row["no predictions"].verdict is None
    open_seeds = tuple(range(4, by_row["open"].target + 1))
    assert decided.runs == {("open", D): open_seeds, ("lonely", D): (2, 3), ("full", D): open_seeds}
    lines = decided.lines()
    assert lines[1].startswith(f"open / {D}: undetermined; adds seeds 4, 5, 6: 99.3% interval [")
    assert lines[1].endswith("over 3 shared seeds; as it stands, 6 shared seeds would resolve it at that look's level")
    assert lines[0].startswith(f"resolved / {D}: higher; adds nothing: resolved: the 99.3% interval lies above 0")
    assert lines[4] == f"no predictions / {D}: no verdict; adds nothing: no predictions/test.jsonl in run(s) r9; " \
                       "no verdict."


def test_the_cap_and_a_far_target_stop_a_row():
    at_cap = plan_round({("open", D): (_c([0.6, -0.2, 0.3, 0.1, 0.5, -0.1]), "")},
                        {("open", D): set(range(1, 7)), ("full", D): set(range(1, 7))}, "full", {D: 0.5},
                        (1, 2, 3), cap=6)
    assert at_cap.done and at_cap.requests[0].reason.endswith("over 6 shared seeds, the cap of 6")
    far = plan_round({("open", D): (_c([0.5, -1.5, 2.5]), "")}, {("open", D): {1, 2, 3}, ("full", D): {1, 2, 3}},
                     "full", {D: 0.5}, (1, 2, 3), cap=6)
    assert far.done and far.requests[0].reason.endswith("not even the cap of 6 shared seeds would resolve it")


MARGIN = Scenario().margin


def _normal(truth: float):
    return lambda rng: NormalStudy(truth, SEED_VAR, TEST_VAR, rng)


def test_adaptive_studies_keep_false_verdicts_below_alpha_and_resolve_real_differences():
    studies = 3000
    null = adaptive(_normal(0.0), MARGIN, planned=3, cap=12, studies=studies, seed=1)
    error = math.sqrt(0.05 * 0.95 / studies)
    assert null["higher"] + null["lower"] <= 0.05 + 3 * error, null
    shares = [adaptive(_normal(0.0), MARGIN, 3, cap, 1000, seed=cap)["equivalent"] for cap in (3, 6, 12, 24)]
    error = math.sqrt(0.25 / 1000)  # the largest simulation error of a share of 1000 studies
    assert all(b > a + 2 * error for a, b in zip(shares, shares[1:])), shares  # equivalence grows with the cap
    real = adaptive(_normal(2 * MARGIN), MARGIN, planned=3, cap=12, studies=1000, seed=5)
    assert real["higher"] > 0.5 and real["lower"] == 0, real
    assert 3 < real["mean seeds"] < 12


def test_adaptive_studies_of_per_example_counts_keep_false_verdicts_below_alpha():
    studies = 300  # each look bootstraps: the figures of docs/statistics.md come from reports/simulation.py
    null = adaptive(counts_study(Scenario(), 0.0, rounds=150), MARGIN, planned=3, cap=12, studies=studies, seed=7)
    assert null["higher"] + null["lower"] <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / studies), null
