"""Micro precision / recall / F1 for the three tasks, and per-example counts for paired significance tests.

NER    entity-level, as seqeval's default (conlleval-style) mode: an entity is (type, start, end) from
       `seqeval.metrics.sequence_labeling.get_entities`, a predicted entity is right only if all three match.
RE     over relations other than `none_label`: a prediction is a true positive when it equals a gold label that is
       not None; a wrong non-None prediction on a non-None gold counts as one false positive and one false negative.
JMERE  exact match of whole tuples (head span, head type, tail span, tail type, relation).
All values are Python floats in [0, 1]; an empty denominator gives 0.
"""
from __future__ import annotations

from seqeval.metrics.sequence_labeling import get_entities

TASKS = ("ner", "re", "jmere")


def prf_from_counts(tp: int, fp: int, fn: int) -> dict:
    """{precision, recall, f1, tp, fp, fn} from summed counts."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "tp": int(tp), "fp": int(fp), "fn": int(fn)}


def _same_length(gold: list, pred: list, what: str) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{what}: {len(gold)} gold examples but {len(pred)} predictions")


def _ner_counts(gold_tags: list[list[str]], pred_tags: list[list[str]]) -> list[tuple[int, int, int]]:
    _same_length(gold_tags, pred_tags, "ner")
    counts = []
    for index, (gold, pred) in enumerate(zip(gold_tags, pred_tags)):
        if len(gold) != len(pred):
            raise ValueError(f"ner example {index}: {len(gold)} gold tags but {len(pred)} predicted tags")
        gold_set, pred_set = set(get_entities(list(gold))), set(get_entities(list(pred)))
        hit = len(gold_set & pred_set)
        counts.append((hit, len(pred_set) - hit, len(gold_set) - hit))
    return counts


def _re_counts(gold: list[str], pred: list[str], none_label: str = "None") -> list[tuple[int, int, int]]:
    _same_length(gold, pred, "re")
    counts = []
    for g, p in zip(gold, pred):
        hit = int(g == p and g != none_label)
        counts.append((hit, int(p != none_label) - hit, int(g != none_label) - hit))
    return counts


def _jmere_counts(gold: list[set[tuple]], pred: list[set[tuple]]) -> list[tuple[int, int, int]]:
    _same_length(gold, pred, "jmere")
    counts = []
    for g, p in zip(gold, pred):
        g, p = set(g), set(p)
        hit = len(g & p)
        counts.append((hit, len(p) - hit, len(g) - hit))
    return counts


def per_example_counts(task: str, gold: list, pred: list, none_label: str = "None") -> list[tuple[int, int, int]]:
    """(tp, fp, fn) of each example for `task` in {"ner", "re", "jmere"}; their sums give the micro scores."""
    if task == "ner":
        return _ner_counts(gold, pred)
    if task == "re":
        return _re_counts(gold, pred, none_label)
    if task == "jmere":
        return _jmere_counts(gold, pred)
    raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")


def _micro(counts: list[tuple[int, int, int]]) -> dict:
    return prf_from_counts(sum(c[0] for c in counts), sum(c[1] for c in counts), sum(c[2] for c in counts))


def ner_prf(gold_tags: list[list[str]], pred_tags: list[list[str]]) -> dict:
    """Entity-level micro P/R/F1 over BIO tag sequences (agrees with seqeval's default mode)."""
    return _micro(_ner_counts(gold_tags, pred_tags))


def re_prf(gold: list[str], pred: list[str], none_label: str = "None") -> dict:
    """Micro P/R/F1 over relation labels other than `none_label`."""
    return _micro(_re_counts(gold, pred, none_label))


def jmere_prf(gold: list[set[tuple]], pred: list[set[tuple]]) -> dict:
    """Micro P/R/F1 of exact quintuple match."""
    return _micro(_jmere_counts(gold, pred))
