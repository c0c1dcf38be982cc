"""Typed token spans and the BIO tags that encode them (a leaf: shapca/data/types.py builds its examples on it).

Rules (the conlleval / seqeval default reading, so metrics and data agree):
- "B-X" always starts a new span of type X.
- "I-X" continues the open span when that span has type X; after "O", at the start, or after a span of
  another type, it starts a new span of type X (it is not dropped).
- "O" closes the open span.
Any other tag (no "B-"/"I-" prefix, empty type) raises ValueError.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    type: str = ""  # entity type; empty where the dataset has none (MNRE entities)


def split_tag(tag: str) -> tuple[str, str]:
    """("B"|"I"|"O", type); raises ValueError on anything that is not O, B-<type> or I-<type>."""
    if tag == "O":
        return "O", ""
    prefix, sep, etype = tag.partition("-")
    if not sep or prefix not in ("B", "I") or not etype:
        raise ValueError(f"not a BIO tag: {tag!r}")
    return prefix, etype


def spans_from_bio(tags: list[str]) -> list[Span]:
    spans: list[Span] = []
    start, etype = -1, ""  # the open span, start -1 when none is open
    for i, tag in enumerate(tags):
        prefix, t = split_tag(tag)
        continues = prefix == "I" and start >= 0 and t == etype
        if continues:
            continue
        if start >= 0:
            spans.append(Span(start, i, etype))
            start, etype = -1, ""
        if prefix != "O":
            start, etype = i, t
    if start >= 0:
        spans.append(Span(start, len(tags), etype))
    return spans


def bio_from_spans(spans: list[Span], length: int) -> list[str]:
    """Inverse of spans_from_bio for non-overlapping spans (used by tests and by models that predict spans)."""
    tags = ["O"] * length
    for s in sorted(spans, key=lambda s: s.start):
        if not 0 <= s.start < s.end <= length:
            raise ValueError(f"span {s} out of range for {length} tokens")
        if any(tag != "O" for tag in tags[s.start:s.end]):
            raise ValueError(f"span {s} overlaps another span")
        tags[s.start] = f"B-{s.type}"
        for i in range(s.start + 1, s.end):
            tags[i] = f"I-{s.type}"
    return tags
