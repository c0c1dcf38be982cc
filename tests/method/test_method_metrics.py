"""Metrics against seqeval and hand-made cases."""
import random

import pytest
from seqeval.metrics import f1_score, precision_score, recall_score

from shapca.metrics import jmere_prf, ner_prf, per_example_counts, prf_from_counts, re_prf

TAGS = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


def test_ner_hand_case():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-ORG", "O", "O"]]
    # gold: PER(0-1), LOC(3), ORG(1-2); predicted: PER(0-1) right, ORG(3) wrong type, ORG(1) wrong span
    result = ner_prf(gold, pred)
    assert (result["tp"], result["fp"], result["fn"]) == (1, 2, 2)
    assert result["precision"] == pytest.approx(1 / 3) and result["recall"] == pytest.approx(1 / 3)
    assert result["f1"] == pytest.approx(1 / 3)


def test_ner_agrees_with_seqeval_on_random_sequences_including_broken_bio():
    rng = random.Random(0)
    for _ in range(30):
        gold = [[rng.choice(TAGS) for _ in range(rng.randint(1, 12))] for _ in range(rng.randint(1, 8))]
        pred = [[tag if rng.random() < 0.6 else rng.choice(TAGS) for tag in row] for row in gold]
        result = ner_prf(gold, pred)
        assert result["precision"] == pytest.approx(precision_score(gold, pred, zero_division=0))
        assert result["recall"] == pytest.approx(recall_score(gold, pred, zero_division=0))
        assert result["f1"] == pytest.approx(f1_score(gold, pred, zero_division=0))
        assert all(isinstance(result[key], float) for key in ("precision", "recall", "f1"))


def test_re_hand_case():
    gold = ["None", "/per/loc", "/per/org", "/per/org", "None"]
    pred = ["None", "/per/loc", "/per/loc", "None", "/per/org"]
    # tp: 1 (/per/loc); fp: /per/loc on a /per/org and /per/org on a None; fn: the two missed /per/org
    result = re_prf(gold, pred)
    assert (result["tp"], result["fp"], result["fn"]) == (1, 2, 2)
    assert result["precision"] == pytest.approx(1 / 3) and result["recall"] == pytest.approx(1 / 3)
    assert re_prf(gold, pred, none_label="/per/org")["tp"] == 2  # the "None" string is then a real label


def test_jmere_exact_tuple_match():
    right = ((0, 2), "PER", (5, 6), "LOC", "/per/loc/place_of_residence")
    wrong_span = ((0, 1), "PER", (5, 6), "LOC", "/per/loc/place_of_residence")
    other = ((3, 4), "ORG", (0, 2), "PER", "/org/per/members")
    gold = [{right, other}, set()]
    pred = [{right, wrong_span}, {other}]
    result = jmere_prf(gold, pred)
    assert (result["tp"], result["fp"], result["fn"]) == (1, 2, 1)
    assert result["precision"] == pytest.approx(1 / 3) and result["recall"] == pytest.approx(1 / 2)
    assert result["f1"] == pytest.approx(0.4)


def test_per_example_counts_sum_to_the_micro_counts():
    rng = random.Random(1)
    gold = [[rng.choice(TAGS) for _ in range(6)] for _ in range(10)]
    pred = [[rng.choice(TAGS) for _ in range(6)] for _ in range(10)]
    counts = per_example_counts("ner", gold, pred)
    assert len(counts) == 10
    assert tuple(map(sum, zip(*counts))) == tuple(ner_prf(gold, pred)[k] for k in ("tp", "fp", "fn"))
    assert per_example_counts("re", ["None", "a", "b"], ["a", "a", "None"]) == [(0, 1, 0), (1, 0, 0), (0, 0, 1)]
    assert per_example_counts("jmere", [{(1,)}, set()], [{(1,), (2,)}, set()]) == [(1, 1, 0), (0, 0, 0)]


def test_empty_denominators_give_zero():
    assert prf_from_counts(0, 0, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 0}
    assert ner_prf([["O", "O"]], [["O", "O"]])["f1"] == 0.0
    assert re_prf(["None"], ["a"])["precision"] == 0.0


def test_clear_errors():
    with pytest.raises(ValueError, match="2 gold examples but 1 predictions"):
        re_prf(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="ner example 0: 2 gold tags but 1"):
        ner_prf([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="unknown task"):
        per_example_counts("pos", [], [])
