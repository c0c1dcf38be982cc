"""Typed examples shared by every reader, the model and the metrics.

Spans (shapca/data/bio.py, with the BIO tags that encode them) are token offsets, end exclusive: tokens[start:end]
is the mention.
Splits are always named "train", "dev", "test" (upstream calls dev "valid" or "val").
"""
from __future__ import annotations

from dataclasses import dataclass, field

from shapca.data.bio import Span, spans_from_bio

DATASETS = ("twitter2015", "twitter2017", "mnre", "jmere")
SPLITS = ("train", "dev", "test")
TASK_OF = {"twitter2015": "ner", "twitter2017": "ner", "mnre": "re", "jmere": "jmere"}


@dataclass
class NERExample:
    id: str  # "<dataset>/<split>/<index>"
    tokens: list[str]
    tags: list[str]  # BIO tags, one per token
    img_id: str  # image file name, e.g. "16_05_01_6.jpg"

    @property
    def entities(self) -> list[Span]:
        return spans_from_bio(self.tags)


@dataclass
class REExample:
    id: str
    tokens: list[str]
    head: Span
    tail: Span
    relation: str  # one of the MNRE labels, "None" included
    img_id: str


@dataclass(frozen=True)
class Triple:
    head: Span  # typed span
    tail: Span  # typed span
    relation: str  # relation without entity types, e.g. "member_of"


@dataclass
class JMEREExample:
    id: str
    tokens: list[str]
    img_id: str
    triples: list[Triple] = field(default_factory=list)

    @property
    def entities(self) -> list[Span]:
        seen: dict[Span, None] = {}
        for t in self.triples:
            seen.setdefault(t.head)
            seen.setdefault(t.tail)
        return list(seen)


Example = NERExample | REExample | JMEREExample
