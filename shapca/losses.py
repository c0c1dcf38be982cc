"""Contrastive alignment of the k matched pairs of a mini-batch: plain InfoNCE, or over Shapley contributions.

`a` [k, d] and `b` [k, d]: row i of `a` matches row i of `b` (e.g. context i and text i). With c = cosine
similarity, s[t, j] = c(b_t, a_j) is the score of player a_j towards target b_t.

  infonce   L = CE_j(s[t, j] / tau; positive j = t), averaged over targets t
  shapley   phi = shapley_values(s) (players a_j towards target b_t), then
            L = CE_j(phi[t, j] / tau; positive j = t): the matched pair's contribution is raised, the others lowered

`both_directions` adds the reverse game (targets a, players b, on s transposed) and averages the two terms.
No rescaling of phi is applied: for the "max" game phi[t, j] lies in [0, max_j s - min_j s], within [0, 2] for
cosine scores, the same range as the InfoNCE logits, so tau keeps its meaning; with the "additive" game phi = s and
the Shapley loss is InfoNCE exactly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from shapca.precision import float32, widened
from shapca.shapley import shapley_values

MODES = ("shapley", "infonce")


def _contrastive(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each row of [k, k] logits with the diagonal as the positive."""
    return F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))


def alignment_loss(a: torch.Tensor, b: torch.Tensor, mode: str = "shapley", tau: float = 0.07,
                   value: str = "max", estimator: str = "permutation", samples: int = 16,
                   antithetic: bool = False, generator: torch.Generator | None = None,
                   both_directions: bool = True, beta: float = 0.1) -> torch.Tensor:
    """Scalar alignment loss of matched rows of `a` (players) and `b` (targets); see the module docstring.

    A batch with fewer than two pairs has nothing to contrast and returns 0 (still attached to the graph).
    """
    if mode not in MODES:
        raise ValueError(f"unknown alignment mode {mode!r}; expected one of {MODES}")
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    if a.dim() != 2 or b.dim() != 2 or a.shape != b.shape:
        raise ValueError(f"a and b must both be [k, d] with the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if a.shape[0] < 2:
        return widened(a.sum() + b.sum()) * 0.0
    # float32 whatever the caller's autocast: the scores' small differences are what the Shapley values and the
    # contrastive logits (divided by tau) are made of, and bf16 keeps 2-3 significant digits
    with float32(a.device.type):
        scores = F.normalize(widened(b), dim=-1) @ F.normalize(widened(a), dim=-1).T  # [targets b, players a]
        directions = [scores, scores.T] if both_directions else [scores]
        losses = []
        for game in directions:
            if mode == "infonce":
                logits = game
            else:
                logits = shapley_values(game, value=value, estimator=estimator, samples=samples,
                                        antithetic=antithetic, generator=generator, beta=beta)
            losses.append(_contrastive(logits / tau))
        return torch.stack(losses).mean()
