"""Task heads over fused token states: NER (CRF over BIO), RE (entity markers), JMERE (entities, then pairs)."""
from __future__ import annotations

import torch
from torch import nn

from shapca.crf import CRF
from shapca.precision import widened
from shapca.data.bio import spans_from_bio


def bio_tags(types: list[str]) -> list[str]:
    return ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]


class TaggingHead(nn.Module):
    """Word-level BIO tagging: a CRF (default) or independent softmax per word."""

    def __init__(self, hidden: int, types: list[str], crf: bool, dropout: float):
        super().__init__()
        self.tags = bio_tags(types)
        self.drop = nn.Dropout(dropout)
        self.emit = nn.Linear(hidden, len(self.tags))
        self.crf = CRF(len(self.tags), bio_tags=self.tags) if crf else None

    def emissions(self, words: torch.Tensor) -> torch.Tensor:
        """Per-word tag scores in float32 (under bf16 autocast too): the CRF's log-sum-exp and Viterbi scores add
        them up over the sentence, which bf16's 8-bit mantissa would round."""
        return widened(self.emit(words))

    def loss(self, words: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        em = self.emissions(self.drop(words))
        if self.crf is not None:
            return self.crf.neg_log_likelihood(em, tags, mask)
        return nn.functional.cross_entropy(em[mask], tags[mask])

    def decode(self, words: torch.Tensor, mask: torch.Tensor) -> list[list[str]]:
        em = self.emissions(words)
        if self.crf is not None:
            paths = self.crf.decode(em, mask)
        else:
            paths = [row[: int(m.sum())].tolist() for row, m in zip(em.argmax(-1), mask)]
        return [[self.tags[i] for i in p] for p in paths]


class RelationHead(nn.Module):
    """Classifies the states at the opening head and tail markers."""

    def __init__(self, hidden: int, labels: list[str], dropout: float):
        super().__init__()
        self.labels = labels
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, hidden), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, len(labels)))

    def logits(self, states: torch.Tensor, marks: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(states.size(0), device=states.device)
        # float32 logits (under bf16 autocast too): the loss's log-softmax needs them
        return widened(self.mlp(torch.cat([states[rows, marks[:, 0]], states[rows, marks[:, 1]]], -1)))


class PairHead(nn.Module):
    """JMERE relations between two entity spans: [mean(head); mean(tail); mean(head) * mean(tail)]."""

    def __init__(self, hidden: int, relations: list[str], dropout: float):
        super().__init__()
        self.relations = relations  # relations[0] == "None"
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(3 * hidden, hidden), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, len(relations)))

    def logits(self, words: torch.Tensor, pairs: list[tuple[int, tuple, tuple]]) -> torch.Tensor:
        """pairs: (batch row, (start, end) of head, (start, end) of tail) in word positions."""
        if not pairs:
            return words.new_zeros((0, len(self.relations)))
        h = torch.stack([words[b, hs:he].mean(0) for b, (hs, he), _ in pairs])
        t = torch.stack([words[b, ts:te].mean(0) for b, _, (ts, te) in pairs])
        return widened(self.mlp(torch.cat([h, t, h * t], -1)))  # float32, as RelationHead.logits


def gold_pairs(triples_per_row, n_words: list[int], rel2id: dict[str, int], max_entities: int = 24):
    """Training pairs of JMERE: every ordered pair of gold entities in a row, labelled with its relation or None."""
    pairs, labels = [], []
    for b, triples in enumerate(triples_per_row):
        rel = {(t.head, t.tail): t.relation for t in triples}
        ents = [s for s in dict.fromkeys([t.head for t in triples] + [t.tail for t in triples])
                if s.end <= n_words[b]][:max_entities]
        for h in ents:
            for t in ents:
                if h != t:
                    pairs.append((b, (h.start, h.end), (t.start, t.end)))
                    labels.append(rel2id.get(rel.get((h, t), "None"), 0))
    return pairs, labels


def predicted_pairs(tag_rows: list[list[str]], max_entities: int = 24):
    """Candidate pairs from decoded entity spans; also returns the typed spans per row."""
    pairs, spans = [], []
    for b, tags in enumerate(tag_rows):
        ents = spans_from_bio(tags)[:max_entities]
        spans.append(ents)
        pairs += [(b, (h.start, h.end), (t.start, t.end)) for h in ents for t in ents if h != t]
    return pairs, spans
