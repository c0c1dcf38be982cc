"""JMERE (joint multimodal entity-relation extraction), derived from MNRE by the EEGA rule.

EEGA's preprocessing (YuanLi95/EEGA-for-JMERE, submit_code/data/data_process.py) walks an MNRE file in order:
- a line with relation "None" is dropped;
- any other line starts a sample; the label "/htype/ttype/rel" gives the head type, tail type and relation;
- the following lines whose sentence (' '.join(token)) is the same are merged into that sample, until a line
  with another sentence, or a "None" line of the same sentence: that None line is dropped and ends the merge,
  so the next same-sentence line starts a new sample with the same sentence (a quirk kept on purpose: the
  published counts 3618/496/475 sentences and KECPM's test.json need it; plain merging gives 3468/473/460).
The sample keeps the first line's img_id. Duplicate triples are kept. Entity types are MNRE's lower-case
per/org/loc/misc; relation names drop the types, so "alternate_names" covers per/per and org/org.
"""
from __future__ import annotations

import json
from pathlib import Path

from shapca.data import fetch, manifest
from shapca.data.errors import DataError
from shapca.data.types import JMEREExample, REExample, Span, Triple

PUBLISHED = (manifest.KECPM, "few_shot.zip")
PUBLISHED_SEEDS = (17, 67, 97)


def split_label(label: str) -> tuple[str, str, str]:
    """'/per/org/member_of' -> ('per', 'org', 'member_of'); ValueError for 'None' or anything else."""
    parts = label.split("/")
    if len(parts) != 4 or parts[0] or not all(parts[1:]):
        raise ValueError(f"not a typed relation label: {label!r}")
    return parts[1], parts[2], parts[3]


def relations(mnre_labels: list[str]) -> list[str]:
    """Relation names in MNRE id order, each once, without "None"."""
    return list(dict.fromkeys(split_label(lab)[2] for lab in mnre_labels if lab != "None"))


def entity_types(mnre_labels: list[str]) -> list[str]:
    """Entity types in order of first appearance in the MNRE labels (per, org, loc, misc)."""
    seen: dict[str, None] = {}
    for lab in mnre_labels:
        if lab != "None":
            h, t, _ = split_label(lab)
            seen.setdefault(h)
            seen.setdefault(t)
    return list(seen)


def _triple(ex: REExample) -> Triple:
    h, t, rel = split_label(ex.relation)
    return Triple(Span(ex.head.start, ex.head.end, h), Span(ex.tail.start, ex.tail.end, t), rel)


def derive(mnre_examples: list[REExample], split: str) -> tuple[list[JMEREExample], dict[str, int]]:
    """JMERE samples of one split and the counts of what the rule dropped or merged."""
    out: list[JMEREExample] = []
    notes = {"mnre_instances": len(mnre_examples), "none_dropped": 0, "merged_into_previous": 0,
             "sentence_repeated": 0}
    i, n = 0, len(mnre_examples)
    while i < n:
        first = mnre_examples[i]
        if first.relation == "None":
            notes["none_dropped"] += 1
            i += 1
            continue
        sentence = " ".join(first.tokens)
        if out and " ".join(out[-1].tokens) == sentence:
            notes["sentence_repeated"] += 1
        sample = JMEREExample(f"jmere/{split}/{len(out)}", first.tokens, first.img_id, [_triple(first)])
        i += 1
        while i < n and " ".join(mnre_examples[i].tokens) == sentence:
            if mnre_examples[i].relation == "None":
                notes["none_dropped"] += 1
                i += 1
                break
            sample.triples.append(_triple(mnre_examples[i]))
            notes["merged_into_previous"] += 1
            i += 1
        out.append(sample)
    return out, notes


def _published_span(path, item: int, ent, key: str, tokens: list[str]) -> Span:
    pos = ent.get("pos") if isinstance(ent, dict) else None
    if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(p, int) for p in pos)
            and 0 <= pos[0] < pos[1] <= len(tokens) and isinstance(ent.get("tags"), str)):
        raise DataError(path, 0, f"item {item}: '{key}' needs 'pos' [start, end) within the tokens and 'tags'")
    return Span(pos[0], pos[1], ent["tags"])


def read_published(path: str | Path, split: str = "test") -> list[JMEREExample]:
    """KECPM's JSON: a list of {"token", "img_id", "label_list": [[{"beg_ent", "sec_ent", "relation"}], ...]}.

    JSON has no line structure here (one long line), so errors name the item index instead.
    """
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as e:
        raise DataError(path, getattr(e, "lineno", 0), f"not valid JSON: {e}") from None
    if not isinstance(items, list):
        raise DataError(path, 0, "expected a JSON list of samples")
    out = []
    for k, item in enumerate(items):
        if not (isinstance(item, dict) and isinstance(item.get("token"), list)
                and isinstance(item.get("img_id"), str) and isinstance(item.get("label_list"), list)):
            raise DataError(path, 0, f"item {k}: expected a dict with 'token', 'img_id' and 'label_list'")
        triples = []
        for group in item["label_list"]:
            if not (isinstance(group, list) and len(group) == 1 and isinstance(group[0], dict)):
                raise DataError(path, 0, f"item {k}: each label_list entry must be a one-element list")
            lab = group[0]
            head = _published_span(path, k, lab.get("beg_ent"), "beg_ent", item["token"])
            tail = _published_span(path, k, lab.get("sec_ent"), "sec_ent", item["token"])
            if not isinstance(lab.get("relation"), str):
                raise DataError(path, 0, f"item {k}: 'relation' must be a string")
            triples.append(Triple(head, tail, lab["relation"]))
        out.append(JMEREExample(f"jmere/{split}/{k}", item["token"], item["img_id"], triples))
    return out


def published_test(seed: int = 17, mirror: str | None = None, cache: str | None = None) -> list[JMEREExample]:
    """The JMERE test split as published in KECPM's few_shot.zip (identical for every seed)."""
    if seed not in PUBLISHED_SEEDS:
        raise ValueError(f"seed must be one of {PUBLISHED_SEEDS}")
    return read_published(fetch.resolve_member(*PUBLISHED, f"few_shot/seed_{seed}/test.json", mirror, cache))
