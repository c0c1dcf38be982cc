import dataclasses
import json

import pytest

from shapca.data import Coverage, generators, load, load_contexts
from shapca.data.context_sources import read_blip2, read_camim, read_chatgpt
from shapca.data.errors import DataError, MissingContextError

SPLITS = ("train", "dev", "test")
CAMIM = ["llava_next", "cogvlm", "minicpm_v", "qwen_vl", "instructblip", "blip"]


def test_generator_names():
    assert generators("mnre") == generators("jmere") == CAMIM + ["none"]
    assert generators("twitter2015") == generators("twitter2017") == ["blip2", "chatgpt", "none"]
    with pytest.raises(ValueError, match="unknown dataset"):
        generators("conll")


@pytest.mark.parametrize("dataset", ["mnre", "jmere"])
@pytest.mark.parametrize("generator", CAMIM)
def test_every_lmm_covers_every_mnre_image(dataset, generator):
    for split in SPLITS:
        examples = load(dataset, split)
        texts, cov = load_contexts(dataset, split, generator, examples)
        assert (cov.total, cov.covered, cov.fallback) == (len(examples), len(examples), 0)
        assert len(texts) == len(examples)
        assert all(t == t.strip() for t in texts)
        if generator != "blip":  # BLIP left a few images without words upstream
            assert cov.empty == 0


@pytest.mark.parametrize("dataset", ["twitter2015", "twitter2017"])
def test_blip2_covers_every_tweet_image(dataset):
    for split in SPLITS:
        examples = load(dataset, split)
        texts, cov = load_contexts(dataset, split, "blip2", examples)
        assert cov.covered == cov.total == len(examples) and cov.fallback == 0
    assert texts[0] and texts[0] == texts[0].strip()


def test_chatgpt_2015_lacks_the_last_tweet_of_each_split():
    for split in SPLITS:
        examples = load("twitter2015", split)
        with pytest.raises(MissingContextError) as info:
            load_contexts("twitter2015", split, "chatgpt", examples)
        msg = str(info.value)
        assert "'chatgpt'" in msg and f"twitter2015/{split}" in msg and examples[-1].img_id in msg
        texts, cov = load_contexts("twitter2015", split, "chatgpt", examples, fallback="empty")
        assert (cov.covered, cov.fallback) == (len(examples) - 1, 1) and texts[-1] == ""
        assert texts[0].startswith("Named entities")


def test_chatgpt_2017_is_complete_and_follows_ids():
    examples = load("twitter2017", "dev")
    texts, cov = load_contexts("twitter2017", "dev", "chatgpt", examples)
    assert cov.covered == 723 and all(texts)
    sub = [examples[5], examples[2]]  # any subset, any order: aligned by each example's index
    sub_texts, _ = load_contexts("twitter2017", "dev", "chatgpt", sub)
    assert sub_texts == [texts[5], texts[2]]


def test_chatgpt_refuses_misaligned_examples():
    ex = load("twitter2017", "dev")[3]
    wrong = dataclasses.replace(ex, tokens=ex.tokens[::-1] + ["extra"])
    with pytest.raises(DataError, match="out of alignment"):
        load_contexts("twitter2017", "dev", "chatgpt", [wrong])
    with pytest.raises(ValueError, match="align by position"):
        load_contexts("twitter2017", "test", "chatgpt", [ex])  # a dev example asked as test


def test_none_is_empty_and_complete():
    examples = load("mnre", "dev")
    texts, cov = load_contexts("mnre", "dev", "none", examples)
    assert set(texts) == {""} and cov.covered == cov.total == 1624


def test_user_jsonl_file(tmp_path):
    examples = load("twitter2017", "test")[:3]
    path = tmp_path / "ctx.jsonl"
    path.write_text(json.dumps({"img_id": examples[0].img_id, "text": "  a dog \n", "model": "x"}) + "\n\n"
                    + json.dumps({"img_id": examples[1].img_id, "text": ""}) + "\n", encoding="utf-8")
    with pytest.raises(MissingContextError, match=examples[2].img_id):
        load_contexts("twitter2017", "test", f"file:{path}", examples)
    texts, cov = load_contexts("twitter2017", "test", f"file:{path}", examples, fallback="empty")
    assert texts == ["a dog", "", ""]
    assert cov == Coverage("twitter2017", "test", f"file:{path}", 3, 2, 1, 1)
    assert str(cov) == f"file:{path} on twitter2017/test: 2/3 covered (66.7%), 1 fallback, 1 empty"


@pytest.mark.parametrize("lines, message", [
    (['{"img_id": "a.jpg", "text": "x"}', '{"img_id": "b.jpg", "text": '], "not valid JSON"),
    (['{"img_id": "a.jpg", "text": "x"}', '["a.jpg", "x"]'], "object with string"),
    (['{"img_id": "a.jpg", "text": "x"}', '{"img_id": "a.jpg", "text": "y"}'], "different text"),
])
def test_user_jsonl_bad_line_names_file_and_line(tmp_path, lines, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        load_contexts("mnre", "dev", f"file:{path}", load("mnre", "dev"), fallback="empty")
    assert str(info.value).startswith(f"{path}:2:")


def test_bad_arguments(tmp_path):
    examples = load("mnre", "test")
    with pytest.raises(ValueError, match="unknown context generator"):
        load_contexts("mnre", "test", "blip2", examples)
    with pytest.raises(ValueError, match="fallback"):
        load_contexts("mnre", "test", "blip", examples, fallback="skip")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_contexts("mnre", "test", f"file:{tmp_path}/none.jsonl", examples)


def test_source_readers_reject_malformed_lines(write):
    with pytest.raises(DataError, match=r"c\.txt:2: expected a dict"):
        read_camim(write("c.txt", "{'img_id': 'a', 'text': 'x'}\n['a', 'x']\n"))
    assert read_camim(write("c2.txt", "{'img_id': 'a', 'text': '\\n x '}\n")) == {"a": "x"}
    with pytest.raises(DataError, match=r"b\.txt:2: expected '<img_id> :<caption>'"):
        read_blip2(write("b.txt", "1.jpg :a cat\n2.jpg: no space before the colon\n"))
    with pytest.raises(DataError, match=r"g\.txt:1: tweet without"):
        read_chatgpt(write("g.txt", "A\tO\r\nb\tO\r\n\r\n"))
    with pytest.raises(DataError, match=r"g2\.txt:3: knowledge line must be tagged X"):
        read_chatgpt(write("g2.txt", "A\tO\n<EOS>\tX\nword\tO\n"))
    assert read_chatgpt(write("g3.txt", "A\tB-PER\r\n<EOS>\tX\r\nsome\tX\r\ntext\tX\r\n\r\nB\tO\r\n<EOS>\tX\r\n")) == [
        (("A",), "some text"), (("B",), "")]
