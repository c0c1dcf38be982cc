import pytest

from shapca.data.bio import bio_from_spans, spans_from_bio, split_tag
from shapca.data.types import Span


def test_b_and_i_make_one_span_and_o_closes_it():
    assert spans_from_bio(["B-PER", "I-PER", "O", "B-LOC"]) == [Span(0, 2, "PER"), Span(3, 4, "LOC")]


def test_b_after_b_starts_a_new_span():
    assert spans_from_bio(["B-PER", "B-PER", "I-PER"]) == [Span(0, 1, "PER"), Span(1, 3, "PER")]


def test_i_after_o_or_at_start_starts_a_span():
    assert spans_from_bio(["I-ORG", "O", "I-PER", "I-PER"]) == [Span(0, 1, "ORG"), Span(2, 4, "PER")]


def test_i_of_another_type_starts_a_span():
    assert spans_from_bio(["B-LOC", "I-ORG", "I-ORG"]) == [Span(0, 1, "LOC"), Span(1, 3, "ORG")]


def test_all_o_and_empty():
    assert spans_from_bio(["O", "O"]) == []
    assert spans_from_bio([]) == []


@pytest.mark.parametrize("tag", ["X-PER", "B-", "PER", "b-PER", "", "I"])
def test_bad_tags_raise(tag):
    with pytest.raises(ValueError, match="not a BIO tag"):
        spans_from_bio(["O", tag])
    with pytest.raises(ValueError):
        split_tag(tag)


def test_round_trip_and_overlap_refused():
    spans = [Span(1, 3, "PER"), Span(4, 5, "MISC")]
    tags = bio_from_spans(spans, 6)
    assert tags == ["O", "B-PER", "I-PER", "O", "B-MISC", "O"]
    assert spans_from_bio(tags) == spans
    with pytest.raises(ValueError, match="overlaps"):
        bio_from_spans([Span(0, 2, "A"), Span(1, 3, "B")], 4)
    with pytest.raises(ValueError, match="out of range"):
        bio_from_spans([Span(2, 5, "A")], 4)
