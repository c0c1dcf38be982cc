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


def test_a_text_longer_than_the_joint_sequence_keeps_its_words_and_drops_its_joint_context():
    from transformers import AutoTokenizer

    from shapca.data.types import NERExample
    from shapca.features import encode
    from shapca.model import resolve_encoder

    tok = AutoTokenizer.from_pretrained(resolve_encoder("minilm"))
    long = NERExample(id="x", tokens=["word"] * 60, tags=["O"] * 60, img_id="x.jpg")
    short = NERExample(id="y", tokens=["short", "text"], tags=["O", "O"], img_id="y.jpg")
    enc = encode([long, short], ["a photo of a cat"] * 2, tok, max_len=32, context_max_len=16, joint=True)
    assert len(enc[0].input_ids) <= 32 and enc[0].context_start == len(enc[0].input_ids)  # no context part
    assert len(enc[0].word_starts) == 30  # [CLS] + 30 words + [SEP]
    assert enc[0].context_ids[1:-1] == tok("a photo of a cat")["input_ids"][1:-1]  # still encoded alone
    assert enc[1].context_start < len(enc[1].input_ids)  # a short text keeps its joint context
