"""MNRE v2 multimodal relation extraction (thecharm/MNRE text, CAMIM's label ids).

One Python dict literal per line: {'token': [...], 'h': {'name', 'pos': [start, end)}, 't': {...},
'img_id': 'x.jpg', 'relation': '/per/org/member_of'}. Labels come from ours_rel2id.json in id order ("None" = 0).
Entities are untyped spans (Span.type == ""); the relation label carries the types.
"""
from __future__ import annotations

import json
from pathlib import Path

from shapca.data import fetch, manifest
from shapca.data.errors import DataError
from shapca.data.pyliteral import numbered_records
from shapca.data.types import REExample, Span

# The dev file name really has a space before ".txt" upstream.
_FILE_OF_SPLIT = {"train": "mnre_txt/mnre_train.txt", "dev": "mnre_txt/mnre_val .txt", "test": "mnre_txt/mnre_test.txt"}
REL2ID = (manifest.CAMIM, "CAMIM/data/ours_rel2id.json")


def source(split: str) -> tuple[str, str]:
    return manifest.MNRE, _FILE_OF_SPLIT[split]


def read_rel2id(path: str | Path) -> list[str]:
    """Labels in id order; the file must map each label to a distinct id 0..n-1 with "None" at 0."""
    try:
        mapping = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as e:
        raise DataError(path, getattr(e, "lineno", 0), f"not valid JSON: {e}") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, int) for v in mapping.values()):
        raise DataError(path, 0, "expected a JSON object mapping label -> integer id")
    if sorted(mapping.values()) != list(range(len(mapping))) or mapping.get("None") != 0:
        raise DataError(path, 0, "ids must be 0..n-1, each once, with \"None\" at 0")
    return sorted(mapping, key=mapping.__getitem__)


def _span(path, lineno: int, record: dict, key: str, tokens: list[str]) -> Span:
    ent = record.get(key)
    if not isinstance(ent, dict) or "pos" not in ent:
        raise DataError(path, lineno, f"'{key}' must be a dict with 'name' and 'pos'")
    pos = ent["pos"]
    if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(p, int) for p in pos)):
        raise DataError(path, lineno, f"'{key}' pos must be [start, end], got {pos!r}")
    start, end = pos
    if not 0 <= start < end <= len(tokens):
        raise DataError(path, lineno, f"'{key}' span {pos} out of range for {len(tokens)} tokens")
    if "name" in ent and ent["name"] != " ".join(tokens[start:end]):
        raise DataError(path, lineno, f"'{key}' name {ent['name']!r} differs from tokens {tokens[start:end]}")
    return Span(start, end, "")


def read_mnre(path: str | Path, labels: list[str], dataset: str = "mnre", split: str = "train") -> list[REExample]:
    label_set = set(labels)
    examples: list[REExample] = []
    for lineno, record in numbered_records(path):
        if not isinstance(record, dict):
            raise DataError(path, lineno, f"expected a dict, got {type(record).__name__}")
        tokens = record.get("token")
        if not (isinstance(tokens, list) and tokens and all(isinstance(t, str) for t in tokens)):
            raise DataError(path, lineno, "'token' must be a non-empty list of strings")
        head = _span(path, lineno, record, "h", tokens)
        tail = _span(path, lineno, record, "t", tokens)
        img, relation = record.get("img_id"), record.get("relation")
        if not isinstance(img, str) or not img:
            raise DataError(path, lineno, "'img_id' must be a non-empty string")
        if relation not in label_set:
            raise DataError(path, lineno, f"relation {relation!r} is not one of the {len(labels)} labels")
        examples.append(REExample(f"{dataset}/{split}/{len(examples)}", tokens, head, tail, relation, img))
    if not examples:
        raise DataError(path, 0, "no instances in file")
    return examples


def labels(mirror: str | None = None, cache: str | None = None) -> list[str]:
    return read_rel2id(fetch.resolve(*REL2ID, mirror, cache))


def load(split: str, mirror: str | None = None, cache: str | None = None) -> list[REExample]:
    return read_mnre(fetch.resolve(*source(split), mirror, cache), labels(mirror, cache), "mnre", split)
