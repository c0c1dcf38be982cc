"""Simulated studies with a known true difference: the coverage of the interval and the error of adaptive studies.

    python reports/simulation.py [--studies 4000] [--rounds 400]      # the figures docs/statistics.md quotes

A simulated study has one test set and two rows (a variant and the reference). Each test example has 1 or 2 gold
entities, a difficulty every row shares, and each row's own advantage on it (what makes the test set's noise of a
difference). A run of a row (one seed) finds a gold entity when the entity's uniform draw, fixed with the test set,
falls below sigmoid(base + shift + seed skill + difficulty + advantage + the run's own noise on the example); it
adds a false positive likewise. So runs of one row agree on most examples, as trained models do, and differ by
their skill and their noise on single examples; the same seed gives the two rows a shared part of their skill
(paired seeds). The counts go through the code the tables use (reports/intervals.py, verdicts.py, looks.py). The
true difference is the expected F1 difference over seeds and test sets, by quadrature for an infinite test set; the
variant's shift for a wanted true difference is found by root finding (zero shift: exactly zero by symmetry).
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from reports.intervals import Comparison, compare, interval
from reports.looks import plan_round
from reports.verdicts import ALPHA, EQUIVALENT, HIGHER, LOWER, UNDETERMINED

KINDS = (HIGHER, LOWER, EQUIVALENT, UNDETERMINED)
# The default Scenario's terms of a paired difference, as its studies measure them (s_D^2 and C, F1 points^2): what
# NormalStudy draws from to ask the same questions without the bootstrap
SEED_VAR, TEST_VAR = 0.46 ** 2, 0.11 ** 2


@dataclass(frozen=True)
class Scenario:
    """Sized like Twitter-2017 at the compare preset (docs/studies.md): F1 74, a row's standard deviation over seeds
    0.35 F1 and a paired difference's 0.46 (measured: 0.32 and 0.49), the test set's own noise of a difference
    (the square root of C) 0.11 F1; 400 test examples keep a simulated study fast."""

    examples: int = 400
    base: float = 0.75  # the reference's logit of finding an entity
    seed_sd: float = 0.02  # logit: a run's skill over seeds
    seed_shared: float = 0.3  # the part of that variance the two rows of one seed share
    difficulty_sd: float = 1.5  # logit: the examples' difficulty, the same for every row
    advantage_sd: float = 0.03  # logit: a row's own advantage on each example
    run_sd: float = 0.06  # logit: a run's own noise on each example
    false_positive: float = -2.2  # logit of a false positive on an example
    margin: float = 0.5  # F1 points


def _expected_f1(scenario: Scenario, shift: float) -> float:
    """F1 x100 of a row on an infinite test set, averaged over seeds (Gauss-Hermite over skill and example)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    weights = weights / weights.sum()
    example_sd = math.sqrt(scenario.difficulty_sd ** 2 + scenario.advantage_sd ** 2 + scenario.run_sd ** 2)
    logits = scenario.base + shift + scenario.seed_sd * nodes[:, None] + example_sd * nodes[None, :]
    found = 1.5 * _sigmoid(logits) @ weights  # per seed skill: expected true positives per example
    false = float(_sigmoid(scenario.false_positive + scenario.run_sd * nodes) @ weights)
    f1 = 2 * found / (found + 1.5 + false)  # 2tp / (2tp + fp + fn) with fn = gold - tp
    return float(100 * f1 @ weights)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def shift_for(scenario: Scenario, difference: float) -> float:
    """The variant's logit shift whose true F1 difference from the reference is `difference` points."""
    if difference == 0:
        return 0.0
    target = _expected_f1(scenario, 0.0) + difference
    return float(optimize.brentq(lambda s: _expected_f1(scenario, s) - target, -3, 3, xtol=1e-10))


class SimulatedStudy:
    """One test set and two rows; comparison(seeds) draws both rows' per-example tp/fp/fn for each new seed and
    compares them over the seeds asked for, as the tables do."""

    def __init__(self, scenario: Scenario, shift: float, rng: np.random.Generator, rounds: int = 300):
        self.scenario, self.rng, self.rounds, self.runs = scenario, rng, rounds, {}
        n = scenario.examples
        self.gold = rng.integers(1, 3, size=n)
        self.draws = rng.random(size=(n, 3))  # per example: two entities' draws and the false positive's
        difficulty = rng.normal(0, scenario.difficulty_sd, size=n)
        self.logits = [scenario.base + shift + difficulty + rng.normal(0, scenario.advantage_sd, size=n),
                       scenario.base + difficulty + rng.normal(0, scenario.advantage_sd, size=n)]

    def _counts(self) -> tuple[np.ndarray, np.ndarray]:
        s, rng = self.scenario, self.rng
        shared = rng.normal()
        out = []
        for logits in self.logits:
            skill = s.seed_sd * (math.sqrt(s.seed_shared) * shared + math.sqrt(1 - s.seed_shared) * rng.normal())
            p = _sigmoid(logits + skill + rng.normal(0, s.run_sd, size=len(logits)))
            tp = (self.draws[:, 0] < p).astype(np.int64) + (self.gold == 2) * (self.draws[:, 1] < p)
            fp = (self.draws[:, 2] < _sigmoid(s.false_positive + rng.normal(0, s.run_sd, size=len(p)))).astype(int)
            out.append(np.stack([tp, fp, self.gold - tp], axis=1))
        return out[0], out[1]

    def comparison(self, seeds: tuple[int, ...]) -> Comparison:
        for seed in seeds:
            if seed not in self.runs:
                self.runs[seed] = self._counts()
        return compare([self.runs[s][0] for s in seeds], [self.runs[s][1] for s in seeds], seeds, self.rounds)


class NormalStudy:
    """The same question a thousand times faster: the per-seed differences drawn directly, D_s = truth + g + e_s,
    with the test set's g ~ N(0, test_var) drawn once per study and e_s ~ N(0, seed_var) per seed; C is known."""

    def __init__(self, truth: float, seed_var: float, test_var: float, rng: np.random.Generator):
        self.base, self.seed_sd, self.test_var, self.rng = truth + rng.normal(0, math.sqrt(test_var)), \
            math.sqrt(seed_var), test_var, rng
        self.differences: dict[int, float] = {}

    def comparison(self, seeds: tuple[int, ...]) -> Comparison:
        for seed in seeds:
            self.differences.setdefault(seed, self.base + self.rng.normal(0, self.seed_sd))
        return Comparison(seeds, tuple(self.differences[s] for s in seeds), self.test_var)


def coverage(scenario: Scenario, difference: float, seeds: int, studies: int, rounds: int, seed: int = 0,
             alpha: float = ALPHA) -> float:
    """The share of simulated studies whose 1 - alpha interval over `seeds` shared seeds covers the truth."""
    rng, shift, covered = np.random.default_rng(seed), shift_for(scenario, difference), 0
    for _ in range(studies):
        low, high = interval(SimulatedStudy(scenario, shift, rng, rounds).comparison(tuple(range(1, seeds + 1))),
                             alpha)
        covered += low <= difference <= high
    return covered / studies


def adaptive(new_study: Callable[[np.random.Generator], SimulatedStudy | NormalStudy], margin: float, planned: int,
             cap: int, studies: int, seed: int = 0) -> dict:
    """Adaptive studies (reports/looks.py) of one row against the reference, each made by new_study: the share of
    each final verdict, and the mean shared seeds the row ended with."""
    rng = np.random.default_rng(seed)
    finals, used = dict.fromkeys(KINDS, 0), 0
    key, ref = ("row", "d"), ("reference", "d")
    for _ in range(studies):
        study, seeds = new_study(rng), tuple(range(1, planned + 1))
        while True:
            have = {key: set(seeds), ref: set(seeds)}
            decided = plan_round({key: (study.comparison(seeds), "")}, have, "reference", {"d": margin},
                                 range(1, planned + 1), cap)
            if decided.done:
                break
            seeds = tuple(sorted(set(seeds) | set(decided.runs[key])))
        finals[decided.requests[0].verdict.kind] += 1
        used += len(seeds)
    return {**{k: v / studies for k, v in finals.items()}, "mean seeds": used / studies}


def counts_study(scenario: Scenario, difference: float, rounds: int):
    """new_study for adaptive(): studies of per-example counts with the scenario's true difference."""
    shift = shift_for(scenario, difference)
    return lambda rng: SimulatedStudy(scenario, shift, rng, rounds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--studies", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=300, help="bootstrap rounds per look")
    args = ap.parse_args(argv)
    s, n = Scenario(), args.studies
    print(f"scenario: {s}; reference F1 {_expected_f1(s, 0):.2f}; a rate p from {n} studies is known to "
          f"±sqrt(p(1-p)/{n})")
    for difference in (0.0, 2 * s.margin):
        for seeds in (2, 3, 5, 10):
            rate = coverage(s, difference, seeds, n, args.rounds, seed=seeds)
            print(f"coverage of the 95% interval, true difference {difference:g}, {seeds} seeds: {rate:.3f} "
                  f"± {math.sqrt(rate * (1 - rate) / n):.3f}", flush=True)
    studies = {"per-example counts": lambda d: counts_study(s, d, args.rounds),
               "normal differences": lambda d: lambda rng: NormalStudy(d, SEED_VAR, TEST_VAR, rng)}
    for name, make in studies.items():
        for difference in (0.0, s.margin, 2 * s.margin):
            for cap in ((3, 12) if name == "per-example counts" else (3, 6, 12, 24)):
                r = adaptive(make(difference), s.margin, 3, cap, n, seed=cap)
                shares = ", ".join(f"{k} {r[k]:.3f}" for k in KINDS)
                print(f"adaptive ({name}), true difference {difference:g}, 3 planned seeds, cap {cap}: {shares}; "
                      f"mean seeds {r['mean seeds']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
