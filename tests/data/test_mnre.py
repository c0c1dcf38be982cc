import json

import pytest

from shapca.data import labels, load
from shapca.data.errors import DataError
from shapca.data.mnre import read_mnre, read_rel2id


def test_counts_and_labels():
    assert [len(load("mnre", s)) for s in ("train", "dev", "test")] == [12247, 1624, 1614]
    labs = labels("mnre")
    assert len(labs) == 23 and labs[0] == "None" and labs[9] == "/per/org/member_of"


def test_first_instance():
    ex = load("mnre", "train")[0]
    assert ex.id == "mnre/train/0" and ex.img_id == "twitter_19_31_16_6.jpg"
    assert ex.relation == "/misc/misc/part_of"
    assert ex.tokens[ex.head.start:ex.head.end] == ["Circle", "Undone"]
    assert ex.tokens[ex.tail.start:ex.tail.end] == ["Arkham", "Horror", "LCG"]
    assert ex.head.type == ""


def test_every_relation_is_a_label():
    labs = set(labels("mnre"))
    assert {ex.relation for s in ("train", "dev", "test") for ex in load("mnre", s)} <= labs


LABELS = ["None", "/per/org/member_of"]
OK = "{'token': ['A', 'B', 'C'], 'h': {'name': 'A', 'pos': [0, 1]}, 't': {'name': 'B C', 'pos': [1, 3]}, " \
     "'img_id': 'x.jpg', 'relation': '/per/org/member_of'}"


def test_reader_on_a_small_file(write):
    exs = read_mnre(write("m.txt", OK + "\n\n" + OK.replace("/per/org/member_of", "None") + "\n"),
                    LABELS, "mnre", "dev")
    assert [e.relation for e in exs] == ["/per/org/member_of", "None"]
    assert (exs[0].tail.start, exs[0].tail.end) == (1, 3)


@pytest.mark.parametrize("bad, message", [
    ("['not', 'a', 'dict']", "expected a dict"),
    ("{'token': ['A'", "not a Python literal"),
    ("__import__('os').system('true')", "not a Python literal"),
    (OK.replace("[1, 3]", "[1, 4]"), "out of range"),
    (OK.replace("[0, 1]", "[1, 1]"), "out of range"),
    (OK.replace("/per/org/member_of", "/per/org/founder"), "not one of the 2 labels"),
    (OK.replace("'name': 'A'", "'name': 'Z'"), "differs from tokens"),
    (OK.replace("'img_id': 'x.jpg', ", ""), "img_id"),
    (OK.replace("['A', 'B', 'C']", "[]"), "'token'"),
])
def test_malformed_line_names_file_and_line(write, bad, message):
    path = write("bad.txt", OK + "\n" + bad + "\n")
    with pytest.raises(DataError, match=message) as info:
        read_mnre(path, LABELS)
    assert info.value.line == 2 and str(info.value).startswith(f"{path}:2:")


@pytest.mark.parametrize("mapping", [{"None": 1, "a": 0}, {"None": 0, "a": 2}, ["None"], {"None": 0, "a": "1"}])
def test_bad_rel2id(write, mapping):
    with pytest.raises(DataError, match="ids|object"):
        read_rel2id(write("r.json", json.dumps(mapping)))
