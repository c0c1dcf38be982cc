import pytest

from shapca.data import entity_types, labels, load, notes
from shapca.data.errors import DataError
from shapca.data.jmere import PUBLISHED_SEEDS, derive, published_test, read_published, split_label
from shapca.data.types import REExample, Span, Triple


def test_counts_equal_published():
    assert [len(load("jmere", s)) for s in ("train", "dev", "test")] == [3618, 496, 475]
    assert [sum(len(e.triples) for e in load("jmere", s)) for s in ("train", "dev", "test")] == [4503, 624, 640]


@pytest.mark.parametrize("seed", PUBLISHED_SEEDS)
def test_derived_test_split_equals_kecpm_few_shot_test(seed):
    published = published_test(seed)
    derived = load("jmere", "test")
    assert len(published) == len(derived) == 475
    for mine, theirs in zip(derived, published):
        assert (mine.id, mine.tokens, mine.img_id, mine.triples) == (theirs.id, theirs.tokens, theirs.img_id,
                                                                     theirs.triples)


def test_labels_and_types():
    rels = labels("jmere")
    assert len(rels) == 21 and "None" not in rels and rels.count("alternate_names") == 1
    assert entity_types("jmere") == ["per", "org", "loc", "misc"]
    assert entity_types("mnre") == []


def test_skips_are_counted():
    n = notes("jmere", "test")
    assert n["mnre_instances"] == 1614
    assert n["mnre_instances"] - n["none_dropped"] == 640  # every non-None line becomes exactly one triple


def _re(i, tokens, rel, img="a.jpg"):
    return REExample(f"mnre/test/{i}", tokens, Span(0, 1), Span(1, 2), rel, img)


def test_derive_rule_with_its_none_quirk():
    a, b = ["A", "B", "c"], ["X", "Y"]
    rows = [_re(0, a, "None"), _re(1, a, "/per/org/member_of", "1.jpg"), _re(2, a, "/per/per/peer", "2.jpg"),
            _re(3, a, "None"), _re(4, a, "/org/loc/locate_at"), _re(5, b, "/misc/loc/held_on")]
    out, n = derive(rows, "test")
    assert [(e.tokens, e.img_id, [t.relation for t in e.triples]) for e in out] == [
        (a, "1.jpg", ["member_of", "peer"]),
        (a, "a.jpg", ["locate_at"]),  # the None line of the same sentence ended the merge
        (b, "a.jpg", ["held_on"])]
    assert out[0].triples[0] == Triple(Span(0, 1, "per"), Span(1, 2, "org"), "member_of")
    assert n == {"mnre_instances": 6, "none_dropped": 2, "merged_into_previous": 1, "sentence_repeated": 1}


@pytest.mark.parametrize("label", ["None", "/per/org", "per/org/x/y", "/per//x"])
def test_split_label_refuses(label):
    with pytest.raises(ValueError):
        split_label(label)


@pytest.mark.parametrize("text, message", [
    ("{\"a\": 1}", "JSON list"),
    ("[{\"token\": [\"a\"]}]", "item 0"),
    ("[{\"token\": [\"a\"], \"img_id\": \"x\", \"label_list\": [{\"relation\": \"r\"}]}]", "one-element list"),
    ("[{\"token\": [\"a\"], \"img_id\": \"x\", \"label_list\": [[{\"beg_ent\": {\"pos\": [0, 2], \"tags\": \"per\"},"
     " \"sec_ent\": {\"pos\": [0, 1], \"tags\": \"per\"}, \"relation\": \"r\"}]]}]", "beg_ent"),
    ("[1,", "not valid JSON"),
])
def test_published_reader_bad_input(write, text, message):
    with pytest.raises(DataError, match=message):
        read_published(write("p.json", text))
