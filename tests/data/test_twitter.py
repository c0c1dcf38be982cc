import pytest

from shapca.data import load
from shapca.data.errors import DataError
from shapca.data.stats import counts
from shapca.data.twitter import read_conll

PUBLISHED = {  # tweets and B- opened entities per split, as published with the datasets
    "twitter2015": {"train": (4000, 6166), "dev": (1000, 1541), "test": (3257, 5072)},
    "twitter2017": {"train": (3373, 6049), "dev": (723, 1324), "test": (723, 1351)},
}


@pytest.mark.parametrize("dataset", sorted(PUBLISHED))
@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_counts_equal_published(dataset, split):
    c = counts(dataset, split)
    assert (c["examples"], c["entities"]) == PUBLISHED[dataset][split]


def test_first_tweet_and_image_id():
    ex = load("twitter2015", "train")[0]
    assert ex.id == "twitter2015/train/0"
    assert ex.img_id == "1015799.jpg"
    assert ex.tokens[:4] == ["RT", "@JayKenMinaj", "_", ":"]
    assert [(s.start, s.end, s.type) for s in ex.entities][0] == (8, 10, "PER")
    assert len(ex.tokens) == len(ex.tags)


def test_upstream_types_are_kept():
    tags15 = {t[2:] for ex in load("twitter2015", "dev") for t in ex.tags if t != "O"}
    tags17 = {t[2:] for ex in load("twitter2017", "dev") for t in ex.tags if t != "O"}
    assert tags15 == {"PER", "LOC", "ORG", "OTHER"} and tags17 == {"PER", "LOC", "ORG", "MISC"}


def test_spans_opened_by_i_are_counted_not_dropped():
    c = counts("twitter2015", "test")
    assert c["spans_opened_by_I"] == 135
    assert sum(len(ex.entities) for ex in load("twitter2015", "test")) == 5072 + 135
    assert counts("twitter2017", "test")["spans_opened_by_I"] == 0


GOOD = "IMGID:1\nA\tB-PER\nb\tO\n\nIMGID:2\nc\tB-LOC\n"


def test_reader_on_a_small_file(write):
    exs = read_conll(write("t.txt", GOOD), "twitter2015", "dev")
    assert [(e.id, e.img_id, e.tokens, e.tags) for e in exs] == [
        ("twitter2015/dev/0", "1.jpg", ["A", "b"], ["B-PER", "O"]),
        ("twitter2015/dev/1", "2.jpg", ["c"], ["B-LOC"])]


@pytest.mark.parametrize("text, line, message", [
    ("IMGID:1\nA B-PER\n", 2, "token<TAB>tag"),  # tag line without a tab
    ("IMGID:1\nA\tB-PER\tx\n", 2, "token<TAB>tag"),
    ("IMGID:1\nA\tB-MISC\n", 2, "unknown tag"),  # 2017's type in a 2015 file
    ("IMGID:1\nA\tS-PER\n", 2, "unknown tag"),
    ("A\tO\n", 1, "before any IMGID"),
    ("IMGID:1\n\nIMGID:2\nA\tO\n", 1, "no token line"),
    ("IMGID:\nA\tO\n", 1, "empty image id"),
])
def test_malformed_input_names_file_and_line(write, text, line, message):
    path = write("bad.txt", text)
    with pytest.raises(DataError, match=message) as info:
        read_conll(path, "twitter2015", "train")
    assert info.value.line == line and info.value.path == str(path)
    assert str(info.value).startswith(f"{path}:{line}:")


def test_empty_file_is_an_error(write):
    with pytest.raises(DataError, match="no tweets"):
        read_conll(write("e.txt", "\n\n"), "twitter2017", "test")
