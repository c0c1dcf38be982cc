"""Adaptive fusion: text tokens attend to context tokens and image regions; a gate decides how much enters.

For each source src in {context, image} that is switched on and present:
    a_src = MultiHeadAttention(query = text, key = value = src tokens)          [B, Lt, H]
    out   = LayerNorm(text + sum_src g_src * Dropout(a_src))
Gate forms (the studies' "fusion gating"):
    none    g = 1                                    (plain sum)
    scalar  g = sigmoid(w_src), one learned scalar per source
    vector  g = sigmoid(w_src), w_src in R^H          (per dimension)
    token   g = sigmoid(W_src [text_token; a_src] + b_src), W_src: 2H -> H  (per token and dimension)
Learned scalar and vector gates start at w = 0 (g = 0.5).
"""
from __future__ import annotations

import torch
import torch.nn as nn

GATES = ("none", "scalar", "vector", "token")
SOURCES = ("context", "image")


class AdaptiveFusion(nn.Module):
    def __init__(self, hidden: int, gate: str = "token", use_context: bool = True, use_image: bool = True,
                 heads: int = 4, dropout: float = 0.1):
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"unknown fusion gate {gate!r}; expected one of {GATES}")
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by the number of heads {heads}")
        self.gate = gate
        self.sources = [name for name, on in zip(SOURCES, (use_context, use_image)) if on]
        self.attend = nn.ModuleDict({name: nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
                                     for name in self.sources})
        if gate in ("scalar", "vector"):
            shape = (1,) if gate == "scalar" else (hidden,)
            self.gate_logits = nn.ParameterDict({name: nn.Parameter(torch.zeros(shape)) for name in self.sources})
        elif gate == "token":
            self.gate_proj = nn.ModuleDict({name: nn.Linear(2 * hidden, hidden) for name in self.sources})
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(hidden)

    def _attend(self, name: str, text: torch.Tensor, tokens: torch.Tensor,
                mask: torch.Tensor | None) -> torch.Tensor:
        """Cross-attention of the text over one source; rows whose source has no valid token get zeros."""
        if mask is None:
            attended, _ = self.attend[name](text, tokens, tokens, need_weights=False)
            return attended
        mask = mask.bool()
        empty = ~mask.any(dim=1)  # an all-masked row would make the softmax NaN
        padding = ~mask & ~empty.unsqueeze(1)
        attended, _ = self.attend[name](text, tokens, tokens, key_padding_mask=padding, need_weights=False)
        return attended.masked_fill(empty.view(-1, 1, 1), 0.0)

    def _gate(self, name: str, text: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        if self.gate == "none":
            return attended
        if self.gate == "token":
            weight = torch.sigmoid(self.gate_proj[name](torch.cat([text, attended], dim=-1)))
        else:
            weight = torch.sigmoid(self.gate_logits[name])
        return weight * attended

    def forward(self, text: torch.Tensor, text_mask: torch.Tensor | None = None,
                context: torch.Tensor | None = None, context_mask: torch.Tensor | None = None,
                image: torch.Tensor | None = None, image_mask: torch.Tensor | None = None) -> torch.Tensor:
        """text [B, Lt, H]; context [B, Lc, H] or None; image [B, R, H] or None -> [B, Lt, H].

        Sources that are None or switched off are skipped. Padded text positions are returned unchanged
        (their fused value is never used and must not depend on the other tokens).
        """
        given = {"context": (context, context_mask), "image": (image, image_mask)}
        fused = text
        for name in self.sources:
            tokens, mask = given[name]
            if tokens is None:
                continue
            if tokens.shape[0] != text.shape[0] or tokens.shape[-1] != text.shape[-1]:
                raise ValueError(f"{name} must be [B={text.shape[0]}, L, H={text.shape[-1]}], "
                                 f"got {tuple(tokens.shape)}")
            attended = self.dropout(self._attend(name, text, tokens, mask))
            fused = fused + self._gate(name, text, attended)
        out = self.norm(fused)
        if text_mask is not None:
            out = torch.where(text_mask.bool().unsqueeze(-1), out, text)
        return out
