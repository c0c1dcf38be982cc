"""The context-text alignment measures meaning: unlearnable on independent pairs, learnable on paraphrases.

Real Twitter-2017 tweets and BLIP-2 contexts; the encoder frozen, only the two alignment projections trained
(shapca/probe.py). Chance is 1/16 = 0.06 top-1 accuracy and log 16 = 2.77 loss.
"""
import random

import pytest

from shapca import data
from shapca.config import Config
from shapca.data.context_texts import load_contexts
from shapca.prepare import prepare
from shapca.probe import probe

N_PAIRS, N_TRAIN = 240, 160


@pytest.fixture(scope="module")
def pairs():
    examples = data.load("twitter2017", "train")[:N_PAIRS]
    own, _ = load_contexts("twitter2017", "train", "blip2", examples)
    # independent: each text gets the context of another tweet, chosen by a seeded shuffle
    order = list(range(N_PAIRS))
    random.Random(0).shuffle(order)
    independent = [own[j] for j in order]
    # paraphrase: the text's own words, reordered and thinned, so the pair shares meaning (and words)
    paraphrase = [" ".join(sorted(e.tokens, key=len)[::-1][: max(3, len(e.tokens) * 2 // 3)]) for e in examples]
    return examples, independent, paraphrase


def config(mode: str) -> Config:
    return Config().update({"data.context": "blip2", "model.encode_context": mode, "data.max_len": 64,
                            "data.context_max_len": 32})


@pytest.fixture(scope="module")
def tokenizer():
    return prepare(config("joint").update({"data.limit_train": 1, "data.limit_eval": 1}),
                   log=lambda *a, **k: None).tokenizer


@pytest.mark.parametrize("mode", ["joint", "separate"])
def test_independent_contexts_cannot_be_matched(pairs, tokenizer, mode):
    examples, independent, _ = pairs
    r = probe(config(mode), tokenizer, examples, independent, N_TRAIN)
    assert r["held_out"] == 80
    assert r["accuracy"] < 0.2, r  # chance 0.06; 0.2 is more than 5 standard errors above it on 80 pairs
    assert r["loss"] > 0.8 * r["chance_loss"], r


@pytest.mark.parametrize("mode", ["joint", "separate"])
def test_paraphrased_contexts_are_matched(pairs, tokenizer, mode):
    examples, _, paraphrase = pairs
    r = probe(config(mode), tokenizer, examples, paraphrase, N_TRAIN)
    assert r["accuracy"] > 0.6, r
    assert r["loss"] < 0.5 * r["chance_loss"], r


def test_joint_states_leak_the_pairing(pairs, tokenizer):
    """The defect the views fix: pooled from the joint encoding, independent pairs are matched."""
    examples, independent, _ = pairs
    r = probe(config("joint"), tokenizer, examples, independent, N_TRAIN, leaky=True)
    assert r["accuracy"] > 0.6, r
