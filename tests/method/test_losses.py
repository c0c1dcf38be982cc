"""The alignment losses: InfoNCE, the Shapley loss, and the reduction of one to the other."""
import pytest
import torch
import torch.nn.functional as F

from shapca.losses import alignment_loss
from shapca.shapley import shapley_values


def pairs(k=6, d=8, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(k, d, generator=gen, dtype=dtype), torch.randn(k, d, generator=gen, dtype=dtype)


def hand_infonce(a, b, tau):
    sim = F.normalize(b, dim=-1) @ F.normalize(a, dim=-1).T
    labels = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(sim / tau, labels) + F.cross_entropy(sim.T / tau, labels))


def test_infonce_is_symmetric_cosine_infonce():
    a, b = pairs()
    torch.testing.assert_close(alignment_loss(a, b, "infonce", tau=0.1), hand_infonce(a, b, 0.1))
    torch.testing.assert_close(alignment_loss(a, b, "infonce"), alignment_loss(b, a, "infonce"))


@pytest.mark.parametrize("estimator", ("exact", "permutation", "closed_form"))
@pytest.mark.parametrize("both_directions", (True, False))
def test_additive_value_makes_the_shapley_loss_infonce(estimator, both_directions):
    a, b = pairs()
    shap = alignment_loss(a, b, "shapley", value="additive", estimator=estimator, samples=5,
                          both_directions=both_directions)
    info = alignment_loss(a, b, "infonce", both_directions=both_directions)
    torch.testing.assert_close(shap, info, rtol=0, atol=1e-12)


@pytest.mark.parametrize("value", ("max", "logsumexp"))
def test_non_additive_shapley_loss_differs_from_infonce(value):
    a, b = pairs()
    shap = alignment_loss(a, b, "shapley", value=value, estimator="exact")
    assert not torch.isclose(shap, alignment_loss(a, b, "infonce"))


def test_one_direction_uses_b_as_targets_and_a_as_players():
    a, b = pairs()
    sim = F.normalize(b, dim=-1) @ F.normalize(a, dim=-1).T  # rows: targets b, columns: players a
    phi = shapley_values(sim, "max", "closed_form")
    expected = F.cross_entropy(phi / 0.07, torch.arange(a.shape[0]))
    forward = alignment_loss(a, b, "shapley", estimator="closed_form", both_directions=False)
    torch.testing.assert_close(forward, expected)
    backward = alignment_loss(b, a, "shapley", estimator="closed_form", both_directions=False)
    assert not torch.isclose(forward, backward)  # the max game is not symmetric in targets and players
    both = alignment_loss(a, b, "shapley", estimator="closed_form")
    torch.testing.assert_close(both, 0.5 * (forward + backward))


def test_matched_pairs_score_lower_than_shuffled_pairs():
    a, _ = pairs(k=8)
    noisy = a + 0.1 * torch.randn(a.shape, generator=torch.Generator().manual_seed(3), dtype=a.dtype)
    shuffled = noisy[torch.roll(torch.arange(8), 1)]
    for value in ("max", "logsumexp"):
        matched = alignment_loss(a, noisy, "shapley", value=value, estimator="exact")
        assert matched < alignment_loss(a, shuffled, "shapley", value=value, estimator="exact")


def test_switches_change_the_loss():
    a, b = pairs(k=8)
    base = dict(mode="shapley", value="max", estimator="permutation", samples=4, tau=0.07)

    def loss(**change):
        kwargs = {**base, **change}
        return alignment_loss(a, b, generator=torch.Generator().manual_seed(0), **kwargs)

    reference = loss()
    torch.testing.assert_close(reference, loss())  # same seed, same loss
    for change in (dict(value="logsumexp"), dict(samples=8), dict(tau=0.2), dict(antithetic=True),
                   dict(both_directions=False), dict(estimator="exact"), dict(mode="infonce")):
        assert not torch.isclose(reference, loss(**change)), change


@pytest.mark.parametrize("mode,value", [("infonce", "max"), ("shapley", "max"), ("shapley", "logsumexp")])
def test_gradients_reach_both_sides(mode, value):
    a, b = (x.float().requires_grad_() for x in pairs())
    alignment_loss(a, b, mode, value=value, samples=4).backward()
    for x in (a, b):
        assert bool(x.grad.isfinite().all()) and x.grad.abs().sum() > 0


def test_shapley_loss_trains_an_alignment():
    torch.manual_seed(0)
    a = torch.randn(8, 16)
    b = torch.randn(8, 16, requires_grad=True)
    optimiser = torch.optim.Adam([b], lr=0.1)
    start = alignment_loss(a, b.detach(), "shapley", estimator="closed_form").item()
    for step in range(40):
        optimiser.zero_grad()
        alignment_loss(a, b, "shapley", samples=8, generator=torch.Generator().manual_seed(step)).backward()
        optimiser.step()
    end = alignment_loss(a, b.detach(), "shapley", estimator="closed_form").item()
    sim = F.normalize(b.detach(), dim=-1) @ F.normalize(a, dim=-1).T
    assert end < 0.1 * start
    assert bool((sim.argmax(dim=1) == torch.arange(8)).all())


def test_batches_smaller_than_two_return_zero_with_grad():
    a = torch.randn(1, 4, requires_grad=True)
    b = torch.randn(1, 4, requires_grad=True)
    for mode in ("shapley", "infonce"):
        loss = alignment_loss(a, b, mode)
        assert loss.item() == 0.0 and loss.requires_grad
        loss.backward()


def test_clear_errors():
    a, b = pairs()
    with pytest.raises(ValueError, match="unknown alignment mode"):
        alignment_loss(a, b, "none")
    with pytest.raises(ValueError, match="same shape"):
        alignment_loss(a, b[:3])
    with pytest.raises(ValueError, match="tau"):
        alignment_loss(a, b, tau=0.0)
