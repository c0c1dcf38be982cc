"""Linear-chain conditional random field over tag sequences, with an optional BIO (IOB2) constraint.

score(y) = start[y_1] + sum_n emission[n, y_n] + sum_{n>1} transition[y_{n-1}, y_n] + end[y_L]
NLL(y)   = logsumexp_{y'} score(y') - score(y)   (forward algorithm), mean over the batch.
decode   = argmax_y score(y)                       (Viterbi).
With `bio_tags`, a sequence may not start with I-x and I-y may only follow B-y or I-y (this forbids O -> I-x,
B-x -> I-y and I-x -> I-y for y != x). The forbidden moves get a fixed score of -10000 in training and decoding, so
the model normalises over valid sequences only; a gold sequence that breaks the rule (IOB1 data) gets a huge loss,
so the data must be IOB2.
Masks must be left-aligned: every sequence has at least one position and its positions come first.
"""
from __future__ import annotations

import torch
import torch.nn as nn

FORBIDDEN = -10000.0


def bio_constraints(bio_tags: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(allowed_start [T], allowed_transition [T, T]) boolean masks for IOB2 tags ("O", "B-x", "I-x")."""
    for index, tag in enumerate(bio_tags):
        if not (tag == "O" or tag[:2] in ("B-", "I-") and len(tag) > 2):
            raise ValueError(f"bio_tags[{index}] = {tag!r} is not a BIO tag ('O', 'B-<type>' or 'I-<type>')")
    count = len(bio_tags)
    allowed_start = torch.tensor([not tag.startswith("I-") for tag in bio_tags])
    allowed = torch.ones(count, count, dtype=torch.bool)
    for to, tag in enumerate(bio_tags):
        if tag.startswith("I-"):
            kind = tag[2:]
            for frm, prev in enumerate(bio_tags):
                allowed[frm, to] = prev in (f"B-{kind}", f"I-{kind}")
    return allowed_start, allowed


class CRF(nn.Module):
    def __init__(self, num_tags: int, bio_tags: list[str] | None = None):
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        if bio_tags is not None:
            if len(bio_tags) != num_tags:
                raise ValueError(f"bio_tags has {len(bio_tags)} tags but num_tags is {num_tags}")
            allowed_start, allowed = bio_constraints(bio_tags)
        else:
            allowed_start = torch.ones(num_tags, dtype=torch.bool)
            allowed = torch.ones(num_tags, num_tags, dtype=torch.bool)
        self.register_buffer("allowed_start", allowed_start, persistent=False)
        self.register_buffer("allowed", allowed, persistent=False)

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Start, transition and end scores with the forbidden moves fixed at FORBIDDEN."""
        start = self.start.masked_fill(~self.allowed_start, FORBIDDEN)
        transitions = self.transitions.masked_fill(~self.allowed, FORBIDDEN)
        return start, transitions, self.end

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor | None = None) -> torch.Tensor:
        if emissions.dim() != 3 or emissions.shape[-1] != self.num_tags:
            raise ValueError(f"emissions must be [B, L, {self.num_tags}], got {tuple(emissions.shape)}")
        if mask.shape != emissions.shape[:2]:
            raise ValueError(f"mask must be {tuple(emissions.shape[:2])}, got {tuple(mask.shape)}")
        if tags is not None and tags.shape != emissions.shape[:2]:
            raise ValueError(f"tags must be {tuple(emissions.shape[:2])}, got {tuple(tags.shape)}")
        mask = mask.bool()
        # the layout check reads the mask on the host: free on CPU, a stall of every step on an accelerator, where
        # the masks come from collate (left-aligned by construction, tests/method/test_crf.py) and are trusted
        if mask.device.type == "cpu" and (not bool(mask[:, 0].all()) or bool((mask[:, 1:] & ~mask[:, :-1]).any())):
            raise ValueError("CRF mask must be left-aligned with at least one position per sequence")
        return mask

    def neg_log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor,
                           scan: bool | None = None) -> torch.Tensor:
        """Mean over the batch of -log p(tags | emissions); emissions [B, L, T], tags [B, L] long, mask [B, L].

        The forward algorithm runs as a loop over positions, or (`scan`) as a log-depth tree of matrix products:
        the same value (to float rounding), in log2(L) dependent steps of T times the work. Default: the loop on
        CPU, where it is 0.3% of a step and the scan twice as slow (`python benchmarks/crf_cost.py`); the scan on
        accelerators, where the loop's L dependent steps are L rounds of small kernel launches."""
        mask = self._check(emissions, mask, tags)
        start, transitions, end = self._scores()
        tags = tags.masked_fill(~mask, 0)  # padded positions may hold any label id (e.g. -100)
        length = mask.sum(dim=1)
        batch = torch.arange(emissions.shape[0], device=emissions.device)
        # score of the gold path
        emitted = emissions.gather(-1, tags.unsqueeze(-1)).squeeze(-1)  # [B, L]
        moved = transitions[tags[:, :-1], tags[:, 1:]]  # [B, L-1]
        gold = (start[tags[:, 0]] + (emitted * mask).sum(1) + (moved * mask[:, 1:]).sum(1)
                + end[tags[batch, length - 1]])
        if scan is None:
            scan = emissions.device.type != "cpu"
        alpha = (_forward_scan if scan else _forward_loop)(start + emissions[:, 0], transitions, emissions, mask)
        partition = torch.logsumexp(alpha + end, dim=1)
        return (partition - gold).mean()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Viterbi: the best tag sequence of each row, as many tags as the row has mask positions."""
        mask = self._check(emissions, mask)
        start, transitions, end = self._scores()
        score = start + emissions[:, 0]
        pointers = []
        for n in range(1, emissions.shape[1]):
            best, previous = (score.unsqueeze(2) + transitions).max(dim=1)
            step = best + emissions[:, n]
            keep = mask[:, n].unsqueeze(1)
            score = torch.where(keep, step, score)
            # past a row's end, point every tag at itself so back-tracking passes through unchanged
            identity = torch.arange(self.num_tags, device=emissions.device).expand_as(previous)
            pointers.append(torch.where(keep, previous, identity))
        last = (score + end).argmax(dim=1)
        path = [last]
        for back in reversed(pointers):
            last = back.gather(1, last.unsqueeze(1)).squeeze(1)
            path.append(last)
        tags = torch.stack(path[::-1], dim=1).tolist()
        return [row[:count] for row, count in zip(tags, mask.sum(dim=1).tolist())]


def _forward_loop(alpha: torch.Tensor, transitions: torch.Tensor, emissions: torch.Tensor,
                  mask: torch.Tensor) -> torch.Tensor:
    """alpha[b, j] = log-sum of the scores of all prefixes ending in tag j, one position at a time."""
    for n in range(1, emissions.shape[1]):
        step = torch.logsumexp(alpha.unsqueeze(2) + transitions + emissions[:, n].unsqueeze(1), dim=1)
        alpha = torch.where(mask[:, n].unsqueeze(1), step, alpha)
    return alpha


def _forward_scan(alpha: torch.Tensor, transitions: torch.Tensor, emissions: torch.Tensor,
                  mask: torch.Tensor) -> torch.Tensor:
    """The same alpha from the moves of all positions at once: the move into position n scores
    transitions[i, j] + emissions[n, j] (past a row's end it is the identity, which keeps alpha), and pairs of
    neighbouring moves are combined by a (logsumexp, +) matrix product until one move spans the whole row."""
    batch, length, tags = emissions.shape
    if length == 1:
        return alpha
    # the identity of the (logsumexp, +) product; FORBIDDEN rather than -inf off the diagonal, so no gradient is 0/0
    identity = torch.full((tags, tags), FORBIDDEN, dtype=alpha.dtype, device=alpha.device).fill_diagonal_(0.0)
    moves = transitions + emissions[:, 1:].unsqueeze(2)  # [B, L-1, from, to]
    moves = torch.where(mask[:, 1:, None, None], moves, identity)
    while moves.shape[1] > 1:
        if moves.shape[1] % 2:
            moves = torch.cat([moves, identity.expand(batch, 1, tags, tags)], dim=1)
        first, then = moves[:, 0::2], moves[:, 1::2]
        moves = torch.logsumexp(first.unsqueeze(-1) + then.unsqueeze(-3), dim=-2)
    return torch.logsumexp(alpha.unsqueeze(-1) + moves[:, 0], dim=-2)
