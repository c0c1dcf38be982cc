"""Shapley values of the players of a mini-batch towards each target.

Setting: T targets and k players, a score matrix `scores` [T, k] (e.g. the cosine similarity of target t with
player j). Each target t defines a cooperative game over the k players through a coalition value v_t(S) built from
its row of scores. The Shapley value of player j is its average marginal contribution over all orderings:

    phi_t[j] = E_pi [ v_t(P_pi(j) + {j}) - v_t(P_pi(j)) ],   P_pi(j) = players before j in ordering pi.

Value functions (all satisfy v(empty) = 0; `m_t = min_j scores[t, j]` is a per-target reference):
  "max"        v(S) = max_{i in S} s_i - m_t                      (non-additive; exact closed form, the airport game)
  "logsumexp"  v(S) = beta * log sum_{i in S} exp(s_i / beta) - m_t   (non-additive smooth maximum; -> "max" as
               beta -> 0)
  "additive"   v(S) = sum_{i in S} s_i                            (phi = s exactly; the contrastive loss then
               reduces to InfoNCE, which the tests use)
Subtracting m_t makes every value non-negative. For the two non-additive games a different reference would only add
the same constant (m_t - m')/k to every player of target t, which no softmax over players can see.

Estimators:
  "exact"        enumerate the 2^k coalitions (refused for k > 16);
  "permutation"  Monte Carlo over `samples` random orderings per target (i.i.d. uniform for each target; see
                 random_permutations for how targets share sorting work), vectorised over targets and orderings:
                 scores are gathered in ordering order, prefix values come from a cumulative max / cumulative
                 logsumexp / cumulative sum, marginals are their first difference, and are scattered back to the
                 players; `antithetic` pairs each ordering with its reverse;
  "closed_form"  the airport formula for "max" (O(k log k)); for "additive" it is the scores themselves;
  "auto"         closed_form where the game has one ("max", "additive"), else permutation (resolve_estimator).
Gradients flow into `scores` through every estimator.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from shapca.shapley_choices import CLOSED_FORM_VALUES, ESTIMATORS, MAX_EXACT_PLAYERS, VALUES



def _check_scores(scores: torch.Tensor) -> None:
    if scores.dim() != 2:
        raise ValueError(f"scores must be [targets, players], got shape {tuple(scores.shape)}")
    if scores.shape[1] < 1:
        raise ValueError("scores must have at least one player (got 0 columns)")
    if not scores.is_floating_point():
        raise ValueError(f"scores must be a floating tensor, got {scores.dtype}")


def _check_value(value: str, beta: float) -> None:
    if value not in VALUES:
        raise ValueError(f"unknown Shapley value function {value!r}; expected one of {VALUES}")
    if value == "logsumexp" and not beta > 0:
        raise ValueError(f"beta must be > 0 for the logsumexp value function, got {beta}")


def _reference(scores: torch.Tensor) -> torch.Tensor:
    """Per-target reference m_t [T, 1] subtracted by the non-additive games so that v >= 0."""
    return scores.min(dim=-1, keepdim=True).values


def prefix_values(ordered: torch.Tensor, reference: torch.Tensor, value: str, beta: float) -> torch.Tensor:
    """v(first 1..k players) along the last axis of `ordered` [..., k] (scores listed in playing order).

    `reference` broadcasts against `ordered` and holds m_t. Entry n is v of the first n+1 players.
    """
    if value == "max":
        return torch.cummax(ordered, dim=-1).values - reference
    if value == "logsumexp":
        return beta * torch.logcumsumexp(ordered / beta, dim=-1) - reference
    return torch.cumsum(ordered, dim=-1)


def shapley_from_permutations(scores: torch.Tensor, permutations: torch.Tensor, value: str = "max",
                              beta: float = 0.1) -> torch.Tensor:
    """Average marginal contributions over the given orderings.

    scores [T, k]; permutations [T, M, k] long, each row a permutation of range(k). Returns [T, k].
    """
    _check_scores(scores)
    _check_value(value, beta)
    targets, players = scores.shape
    if permutations.dim() != 3 or permutations.shape[0] != targets or permutations.shape[2] != players:
        raise ValueError(f"permutations must be [{targets}, M, {players}], got {tuple(permutations.shape)}")
    samples = permutations.shape[1]
    ordered = scores.unsqueeze(1).expand(targets, samples, players).gather(-1, permutations)
    prefix = prefix_values(ordered, _reference(scores).unsqueeze(1), value, beta)
    # marginal of the n-th player = v(first n) - v(first n-1), with v(empty) = 0
    marginals = prefix - F.pad(prefix[..., :-1], (1, 0))
    # credit each marginal to its player, summed over orderings in one scatter
    total = scores.new_zeros(targets, players).scatter_add(-1, permutations.flatten(1), marginals.flatten(1))
    return total / samples


def _uniform_orderings(rows: int, players: int, generator, device) -> torch.Tensor:
    """[rows, players] independent uniform permutations (argsort of uniform noise) on `device`.

    The noise is drawn where the generator lives (a CPU generator may seed a CUDA run) and then moved.
    """
    where = generator.device if generator is not None else device
    noise = torch.rand(rows, players, generator=generator, device=where)
    return noise.to(device).argsort(dim=-1)


def random_permutations(targets: int, samples: int, players: int, antithetic: bool = False,
                        generator: torch.Generator | None = None, device=None,
                        independent: bool = False) -> torch.Tensor:
    """[targets, samples, players] orderings; for every target its `samples` orderings are i.i.d. uniform.

    By default the ordering of target t in sample m is rho_t composed with sigma_m (rho_t, sigma_m i.i.d. uniform):
    for a fixed t these are i.i.d. uniform over m, so each target's estimate is exactly that of independent
    sampling, while only targets + samples rows are sorted instead of targets * samples (sorting is the estimator's
    main cost). Across targets the orderings are then coupled through sigma_m, up to the random relabelling rho_t.
    `independent` sorts targets * samples rows and removes that coupling.
    With `antithetic`, samples/2 orderings are drawn and each is followed by its reverse (samples must be even).
    """
    if samples < 1:
        raise ValueError(f"samples (the number of permutations M) must be >= 1, got {samples}")
    if antithetic and samples % 2:
        raise ValueError(f"antithetic sampling pairs each permutation with its reverse, so samples must be even; "
                         f"got {samples}")
    drawn = samples // 2 if antithetic else samples
    if independent:
        perms = _uniform_orderings(targets * drawn, players, generator, device).view(targets, drawn, players)
    else:
        sigma = _uniform_orderings(drawn, players, generator, device)
        rho = _uniform_orderings(targets, players, generator, device)
        # ordering[t, m, n] = rho_t[sigma_m[n]]
        perms = rho.unsqueeze(1).expand(targets, drawn, players).gather(
            -1, sigma.unsqueeze(0).expand(targets, drawn, players))
    if antithetic:
        perms = torch.stack([perms, perms.flip(-1)], dim=2).reshape(targets, samples, players)
    return perms


def _coalition_values(scores: torch.Tensor, value: str, beta: float) -> torch.Tensor:
    """v_t(S) for every coalition S encoded as a bit mask 0..2^k-1: returns [T, 2^k]."""
    players = scores.shape[1]
    codes = torch.arange(1, 2 ** players, device=scores.device)  # non-empty coalitions; v(empty) = 0 is added below
    members = ((codes.unsqueeze(1) >> torch.arange(players, device=scores.device)) & 1).bool()  # [2^k - 1, k]
    if value == "additive":
        pooled = scores @ members.to(scores.dtype).T
    else:
        masked = scores.unsqueeze(1).masked_fill(~members, float("-inf"))  # [T, 2^k - 1, k]
        if value == "max":
            pooled = masked.max(dim=-1).values - _reference(scores)
        else:
            pooled = beta * torch.logsumexp(masked / beta, dim=-1) - _reference(scores)
    return torch.cat([torch.zeros_like(pooled[:, :1]), pooled], dim=1)


def exact_shapley(scores: torch.Tensor, value: str = "max", beta: float = 0.1) -> torch.Tensor:
    """phi_t[j] = sum_{S without j} |S|! (k-|S|-1)! / k! * (v_t(S + j) - v_t(S)), by enumeration."""
    _check_scores(scores)
    _check_value(value, beta)
    players = scores.shape[1]
    if players > MAX_EXACT_PLAYERS:
        raise ValueError(f"exact Shapley enumerates 2^k coalitions; k={players} exceeds the limit of "
                         f"{MAX_EXACT_PLAYERS} players; use estimator='permutation' or 'closed_form'")
    values = _coalition_values(scores, value, beta)  # [T, 2^k]
    codes = torch.arange(2 ** players, device=scores.device)
    sizes = torch.zeros_like(codes)
    for j in range(players):  # popcount; k <= 16 iterations, not a hot path
        sizes += (codes >> j) & 1
    sizes = sizes.double()
    # |S|! (k-|S|-1)! / k!; the full coalition has no player left to join, so its weight is 0
    log_weight = torch.lgamma(sizes + 1) + torch.lgamma((players - sizes).clamp(min=1)) - math.lgamma(players + 1)
    weight = torch.where(sizes < players, log_weight.exp(), torch.zeros_like(log_weight))
    joined = codes.unsqueeze(1) | (1 << torch.arange(players, device=scores.device))  # [2^k, k]: S + j
    # where j is already in S, joined == S and the gain is exactly 0, so every S can be summed over
    gains = values[:, joined] - values.unsqueeze(-1)  # [T, 2^k, k]
    return (gains * weight.to(scores.dtype).unsqueeze(1)).sum(dim=1)


def airport_shapley(scores: torch.Tensor) -> torch.Tensor:
    """Exact Shapley values of the "max" game in O(k log k) (Littlechild and Owen 1973).

    Sort ascending s_(1) <= ... <= s_(k) and set s_(0) = m_t = s_(1); the player at rank j gets
    sum_{n=1..j} (s_(n) - s_(n-1)) / (k - n + 1).
    """
    _check_scores(scores)
    players = scores.shape[1]
    ordered, order = scores.sort(dim=-1)
    gaps = torch.cat([torch.zeros_like(ordered[:, :1]), ordered[:, 1:] - ordered[:, :-1]], dim=-1)
    sharers = torch.arange(players, 0, -1, device=scores.device, dtype=scores.dtype)  # k - n + 1
    by_rank = torch.cumsum(gaps / sharers, dim=-1)
    return torch.zeros_like(by_rank).scatter(-1, order, by_rank)


def resolve_estimator(value: str) -> str:
    """`auto`: the exact closed form where the game has one (it costs no more than Monte Carlo and carries no
    sampling noise, which biases the expected contrastive loss upwards), permutation sampling otherwise."""
    return "closed_form" if value in CLOSED_FORM_VALUES else "permutation"


def shapley_values(scores: torch.Tensor, value: str = "max", estimator: str = "permutation", samples: int = 16,
                   antithetic: bool = False, generator: torch.Generator | None = None, beta: float = 0.1,
                   independent: bool = False) -> torch.Tensor:
    """Shapley value of each player (column) towards each target (row) of `scores` [T, k] -> [T, k].

    `samples` (M), `antithetic` and `independent` apply to the permutation estimator (see random_permutations),
    `beta` to the logsumexp value function; permutations are drawn from `generator` (torch's default RNG if None).
    """
    _check_scores(scores)
    _check_value(value, beta)
    if estimator == "auto":
        estimator = resolve_estimator(value)
    if estimator == "exact":
        return exact_shapley(scores, value, beta)
    if estimator == "closed_form":
        if value == "max":
            return airport_shapley(scores)
        if value == "additive":
            return scores.clone()
        raise ValueError(f"estimator='closed_form' exists for value='max' (airport game) and 'additive', "
                         f"not {value!r}; use 'exact' or 'permutation'")
    if estimator == "permutation":
        targets, players = scores.shape
        perms = random_permutations(targets, samples, players, antithetic, generator, scores.device, independent)
        return shapley_from_permutations(scores, perms, value, beta)
    raise ValueError(f"unknown Shapley estimator {estimator!r}; expected one of {ESTIMATORS}")
