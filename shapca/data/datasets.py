"""One entry point for every dataset: load(dataset, split), labels(dataset), entity_types(dataset), notes().

Parsed splits are cached in this process (keyed by dataset, split, mirror and cache folder), so repeated loads
are free. The returned lists are fresh, but the examples inside are shared: treat them as read-only.
"""
from __future__ import annotations

from functools import lru_cache

from shapca.data import fetch, jmere, mnre, twitter
from shapca.data.types import DATASETS, SPLITS, Example


def _check(dataset: str, split: str | None = None) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {list(DATASETS)}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {list(SPLITS)}")


def _where(mirror, cache) -> tuple[str | None, str]:
    """Resolve argument/environment defaults now, so the in-process cache never mixes two data sources."""
    m = fetch.mirror_dir(mirror)
    return (str(m) if m is not None else None), str(fetch.cache_dir(cache))


@lru_cache(maxsize=None)
def _load(dataset: str, split: str, mirror: str | None, cache: str) -> tuple[tuple[Example, ...], dict]:
    if dataset in twitter.TYPES:
        return tuple(twitter.load(dataset, split, mirror, cache)), {}
    if dataset == "mnre":
        return tuple(mnre.load(split, mirror, cache)), {}
    base, _ = _load("mnre", split, mirror, cache)
    examples, notes = jmere.derive(list(base), split)
    return tuple(examples), notes


@lru_cache(maxsize=None)
def _mnre_labels(mirror: str | None, cache: str) -> tuple[str, ...]:
    return tuple(mnre.labels(mirror, cache))


def load(dataset: str, split: str, mirror: str | None = None, cache: str | None = None) -> list[Example]:
    """Typed examples of one split, in upstream order; ids are "<dataset>/<split>/<index>"."""
    _check(dataset, split)
    return list(_load(dataset, split, *_where(mirror, cache))[0])


def notes(dataset: str, split: str, mirror: str | None = None, cache: str | None = None) -> dict[str, int]:
    """Counts of what a reader skipped or merged by its documented rule (empty when it keeps every line)."""
    _check(dataset, split)
    return dict(_load(dataset, split, *_where(mirror, cache))[1])


def labels(dataset: str, mirror: str | None = None, cache: str | None = None) -> list[str]:
    """NER: entity types. MNRE: the 23 labels in ours_rel2id.json id order, "None" first.
    JMERE: the 21 relation names without types and without "None" (see entity_types for the types)."""
    _check(dataset)
    if dataset in twitter.TYPES:
        return list(twitter.TYPES[dataset])
    mnre_labels = list(_mnre_labels(*_where(mirror, cache)))
    return mnre_labels if dataset == "mnre" else jmere.relations(mnre_labels)


def entity_types(dataset: str, mirror: str | None = None, cache: str | None = None) -> list[str]:
    """NER: the tag types (PER, LOC, ...). JMERE: per, org, loc, misc. MNRE: [] (its entities are untyped)."""
    _check(dataset)
    if dataset in twitter.TYPES:
        return list(twitter.TYPES[dataset])
    if dataset == "mnre":
        return []
    return jmere.entity_types(list(_mnre_labels(*_where(mirror, cache))))
