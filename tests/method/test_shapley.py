"""The Shapley estimators against the definition, the axioms and each other."""
import itertools
import math

import pytest
import torch

from shapca.shapley import (VALUES, airport_shapley, random_permutations, shapley_from_permutations,
                            shapley_values)

BETA = 0.1


def python_value(row: list[float], coalition: set[int], value: str, beta: float = BETA) -> float:
    """v(S) written out directly from the module docstring, in plain Python."""
    if not coalition:
        return 0.0
    members = [row[i] for i in coalition]
    if value == "additive":
        return sum(members)
    if value == "max":
        return max(members) - min(row)
    return beta * math.log(sum(math.exp(x / beta) for x in members)) - min(row)


def definition_shapley(row: list[float], value: str) -> list[float]:
    """Average marginal contribution over all k! orderings (the definition itself)."""
    k = len(row)
    phi = [0.0] * k
    orderings = list(itertools.permutations(range(k)))
    for ordering in orderings:
        before: set[int] = set()
        for player in ordering:
            phi[player] += python_value(row, before | {player}, value) - python_value(row, before, value)
            before.add(player)
    return [p / len(orderings) for p in phi]


def test_hand_checked_max_game():
    # shifted scores 0, 1, 3: the lowest player adds nothing; rank 2 shares the gap 1 with rank 3 (1/2 each);
    # rank 3 also gets the last gap 2 alone: 0.5 + 2 = 2.5
    scores = torch.tensor([[2.0, 1.0, 4.0]])
    expected = torch.tensor([[0.5, 0.0, 2.5]])
    for estimator in ("exact", "closed_form"):
        torch.testing.assert_close(shapley_values(scores, "max", estimator), expected)


def test_hand_checked_two_player_logsumexp():
    s1, s2 = 0.3, 0.5
    v1, v2 = 0.0, s2 - s1
    v12 = BETA * math.log(math.exp(s1 / BETA) + math.exp(s2 / BETA)) - s1
    expected = torch.tensor([[0.5 * (v1 + v12 - v2), 0.5 * (v2 + v12 - v1)]], dtype=torch.float64)
    got = shapley_values(torch.tensor([[s1, s2]], dtype=torch.float64), "logsumexp", "exact", beta=BETA)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("value", VALUES)
def test_exact_matches_definition(value):
    scores = torch.randn(3, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected = torch.tensor([definition_shapley(row, value) for row in scores.tolist()], dtype=torch.float64)
    torch.testing.assert_close(shapley_values(scores, value, "exact"), expected)


@pytest.mark.parametrize("value", ("max", "logsumexp"))
def test_value_functions_are_not_additive(value):
    scores = torch.randn(2, 4, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(shapley_values(scores, value, "exact"), scores, atol=1e-3)


def test_additive_game_gives_the_scores():
    scores = torch.randn(4, 6, generator=torch.Generator().manual_seed(3))
    for estimator in ("exact", "permutation", "closed_form"):
        torch.testing.assert_close(shapley_values(scores, "additive", estimator), scores)


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("estimator", ("exact", "permutation"))
def test_efficiency_axiom(value, estimator):
    scores = torch.randn(5, 7, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    everyone = set(range(7))
    grand = torch.tensor([python_value(row, everyone, value) for row in scores.tolist()], dtype=torch.float64)
    phi = shapley_values(scores, value, estimator, samples=3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(phi.sum(dim=1), grand)  # v(empty) = 0


def test_closed_form_equals_exact_for_max_with_ties_and_any_size():
    gen = torch.Generator().manual_seed(5)
    for k in range(1, 11):
        scores = torch.randn(4, k, generator=gen, dtype=torch.float64)
        if k > 2:
            scores[:, 1] = scores[:, 0]  # ties must not matter
        torch.testing.assert_close(airport_shapley(scores), shapley_values(scores, "max", "exact"))


def test_closed_form_has_the_exact_gradient():
    scores = torch.randn(3, 6, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    weights = torch.randn(3, 6, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    grads = []
    for estimator in ("exact", "closed_form"):
        leaf = scores.clone().requires_grad_()
        (shapley_values(leaf, "max", estimator) * weights).sum().backward()
        grads.append(leaf.grad)
    torch.testing.assert_close(grads[0], grads[1])


@pytest.mark.parametrize("value", VALUES)
def test_vectorised_permutations_equal_a_loop_over_the_same_orderings(value):
    scores = torch.randn(3, 5, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    perms = random_permutations(3, 4, 5, generator=torch.Generator().manual_seed(9))
    expected = torch.zeros(3, 5, dtype=torch.float64)
    for t, row in enumerate(scores.tolist()):
        for ordering in perms[t].tolist():
            before: set[int] = set()
            for player in ordering:
                expected[t, player] += (python_value(row, before | {player}, value)
                                        - python_value(row, before, value)) / 4
                before.add(player)
    torch.testing.assert_close(shapley_from_permutations(scores, perms, value), expected)


def _estimates(value: str, samples: int, repeats: int, antithetic: bool = False, seed: int = 0):
    """`repeats` independent estimates of one game (one row per repeat) and its exact values.

    Rows are made independent (independent=True) so that they can stand for repeated seeds in the statistics.
    """
    row = torch.tensor([[0.9, 0.1, -0.4, 0.5, 0.45, -0.2]], dtype=torch.float64)
    exact = shapley_values(row, value, "exact")
    est = shapley_values(row.expand(repeats, -1), value, "permutation", samples=samples, antithetic=antithetic,
                         generator=torch.Generator().manual_seed(seed), independent=True)
    return est, exact


def _assert_unbiased(est: torch.Tensor, exact: torch.Tensor) -> None:
    standard_error = est.std(dim=0) / math.sqrt(est.shape[0])
    z = ((est.mean(dim=0) - exact) / standard_error.clamp(min=1e-12)).abs()
    assert bool((z < 4.5).all()), z


@pytest.mark.parametrize("value", ("max", "logsumexp"))
def test_permutation_error_falls_as_one_over_sqrt_m(value):
    rmse = {}
    for samples in (1, 4, 16, 64):
        est, exact = _estimates(value, samples, repeats=400)
        rmse[samples] = (est - exact).pow(2).mean().sqrt().item()
    assert rmse[1] > rmse[4] > rmse[16] > rmse[64] > 0
    for small, large in ((1, 16), (4, 64)):  # 16x the samples: 4x smaller error
        assert 3.0 < rmse[small] / rmse[large] < 5.3, rmse


@pytest.mark.parametrize("antithetic", (False, True))
@pytest.mark.parametrize("value", ("max", "logsumexp"))
def test_permutation_estimate_is_unbiased_over_seeds(value, antithetic):
    est, exact = _estimates(value, 2, repeats=6000, antithetic=antithetic, seed=11)
    _assert_unbiased(est, exact[0])


def test_default_coupled_orderings_are_unbiased_over_seeds():
    scores = torch.randn(4, 5, generator=torch.Generator().manual_seed(17), dtype=torch.float64)
    exact = shapley_values(scores, "max", "exact")
    est = torch.stack([shapley_values(scores, "max", samples=2, generator=torch.Generator().manual_seed(seed))
                       for seed in range(200)])  # [seeds, T, k]
    _assert_unbiased(est.flatten(1), exact.flatten())


@pytest.mark.parametrize("independent", (False, True))
def test_each_target_gets_uniform_independent_orderings(independent):
    # 3 players: 6 orderings. Over 6000 draws of (target 2, sample m) every ordering and every pair of orderings
    # of two samples of the same target must be about equally frequent.
    perms = random_permutations(3, 2 * 6000, 3, generator=torch.Generator().manual_seed(18), independent=independent)
    codes = (perms[2] * torch.tensor([9, 3, 1])).sum(-1)  # [samples]
    single = torch.bincount(codes, minlength=27)[codes.unique()].double()
    assert len(single) == 6
    assert ((single - 2000).abs() < 4.5 * math.sqrt(2000)).all(), single
    pairs = torch.bincount(codes[0::2] * 27 + codes[1::2], minlength=27 * 27)
    pairs = pairs[pairs > 0].double()
    assert len(pairs) == 36
    assert ((pairs - 6000 / 36).abs() < 4.5 * math.sqrt(6000 / 36)).all(), pairs


def test_antithetic_pairs_each_ordering_with_its_reverse():
    perms = random_permutations(2, 6, 5, antithetic=True, generator=torch.Generator().manual_seed(12))
    torch.testing.assert_close(perms[:, 1::2], perms[:, 0::2].flip(-1))
    # with two players an ordering and its reverse are all orderings: the estimate is exact
    scores = torch.randn(3, 2, generator=torch.Generator().manual_seed(13))
    got = shapley_values(scores, "max", "permutation", samples=2, antithetic=True)
    torch.testing.assert_close(got, shapley_values(scores, "max", "exact"))


def test_antithetic_changes_the_estimate_and_reduces_error_on_the_max_game():
    plain, exact = _estimates("max", 8, repeats=2000, seed=14)
    paired, _ = _estimates("max", 8, repeats=2000, antithetic=True, seed=14)
    assert not torch.allclose(plain, paired)
    assert (paired - exact).pow(2).mean() < (plain - exact).pow(2).mean()


def test_permutations_are_seeded_by_the_generator():
    scores = torch.randn(4, 9)

    def draw(seed, independent=False):
        return shapley_values(scores, "max", samples=3, independent=independent,
                              generator=torch.Generator().manual_seed(seed))

    torch.testing.assert_close(draw(1), draw(1))
    assert not torch.allclose(draw(1), draw(2))
    assert not torch.allclose(draw(1), draw(1, independent=True))


@pytest.mark.parametrize("value,estimator", [(v, e) for v in VALUES for e in ("exact", "permutation", "closed_form")
                                               if (v, e) != ("logsumexp", "closed_form")])
def test_gradients_flow_into_scores(value, estimator):
    scores = torch.randn(4, 6, generator=torch.Generator().manual_seed(15)).requires_grad_()
    weights = torch.randn(4, 6, generator=torch.Generator().manual_seed(16))
    (shapley_values(scores, value, estimator, samples=4) * weights).sum().backward()
    assert scores.grad is not None and bool(scores.grad.isfinite().all()) and scores.grad.abs().sum() > 0


def test_clear_errors():
    scores = torch.randn(2, 17)
    with pytest.raises(ValueError, match="k=17 exceeds"):
        shapley_values(scores, "max", "exact")
    with pytest.raises(ValueError, match="unknown Shapley value"):
        shapley_values(scores, "mean")
    with pytest.raises(ValueError, match="unknown Shapley estimator"):
        shapley_values(scores, "max", "kernel")
    with pytest.raises(ValueError, match="closed_form"):
        shapley_values(scores, "logsumexp", "closed_form")
    with pytest.raises(ValueError, match="must be even"):
        shapley_values(scores, samples=3, antithetic=True)
    with pytest.raises(ValueError, match=">= 1"):
        shapley_values(scores, samples=0)
    with pytest.raises(ValueError, match="targets, players"):
        shapley_values(torch.randn(5))


def test_auto_estimator_is_the_closed_form_where_the_game_has_one():
    scores = torch.randn(5, 9, generator=torch.Generator().manual_seed(21))
    torch.testing.assert_close(shapley_values(scores, "max", "auto"), airport_shapley(scores))
    torch.testing.assert_close(shapley_values(scores, "additive", "auto"), scores)
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    torch.testing.assert_close(shapley_values(scores, "logsumexp", "auto", samples=8, generator=g()),
                               shapley_values(scores, "logsumexp", "permutation", samples=8, generator=g()))
