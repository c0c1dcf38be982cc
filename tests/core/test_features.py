"""Training targets from gold spans."""
from shapca.data.types import JMEREExample, Span, Triple
from shapca.features import ner_tag_ids, non_overlapping


def test_overlapping_gold_spans_keep_the_longer_one():
    outer, inner, other = Span(2, 6, "loc"), Span(3, 4, "per"), Span(7, 8, "org")
    assert non_overlapping([inner, other, outer]) == [outer, other]


def test_jmere_targets_from_nested_entities_are_valid_bio():
    ex = JMEREExample("jmere/train/0", ["w"] * 9, "x.jpg", [Triple(Span(2, 6, "loc"), Span(3, 4, "per"), "r"),
                                                         Triple(Span(3, 4, "per"), Span(7, 8, "org"), "s")])
    tags = ["O", "B-loc", "I-loc", "B-per", "I-per", "B-org", "I-org"]
    ids = ner_tag_ids(ex, {t: i for i, t in enumerate(tags)}, 9)
    assert [tags[i] for i in ids] == ["O", "O", "B-loc", "I-loc", "I-loc", "I-loc", "O", "B-org", "O"]
