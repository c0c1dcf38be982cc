"""Can the context-text alignment be solved without meaning? The probe of shapca/probe.py, as a table.

    python benchmarks/alignment_probe.py [--pairs 240] [--train 160]

Real Twitter-2017 tweets with BLIP-2 contexts, the encoder frozen, the two alignment projections trained for 300
steps. For each encoding mode: the views the alignment reads now, and the views it read before the fix (`leaky`:
pooled from the joint encoding), on independent pairs (another tweet's context) and on paraphrases (the text's own
words, reordered and thinned). Held-out top-1 accuracy in batches of 16 (chance 0.06) and loss (chance 2.77).
"""
from __future__ import annotations

import argparse
import random

from shapca import data
from shapca.config import Config
from shapca.data.context_texts import load_contexts
from shapca.prepare import prepare
from shapca.probe import probe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=240)
    ap.add_argument("--train", type=int, default=160)
    args = ap.parse_args()
    examples = data.load("twitter2017", "train")[: args.pairs]
    own, _ = load_contexts("twitter2017", "train", "blip2", examples)
    order = list(range(len(examples)))
    random.Random(0).shuffle(order)
    sets = {"independent": [own[j] for j in order],
            "paraphrase": [" ".join(sorted(e.tokens, key=len)[::-1][: max(3, len(e.tokens) * 2 // 3)])
                           for e in examples]}
    base = {"data.context": "blip2", "data.max_len": 64, "data.context_max_len": 32}
    tokenizer = prepare(Config().update({**base, "data.limit_train": 1, "data.limit_eval": 1}),
                        log=lambda *a, **k: None).tokenizer
    print("| encoding | views | contexts | held-out top-1 accuracy | held-out loss |")
    print("|:---|:---|:---|---:|---:|")
    for mode in ("joint", "separate"):
        cfg = Config().update({**base, "model.encode_context": mode})
        for leaky in (True, False):
            for name, contexts in sets.items():
                r = probe(cfg, tokenizer, examples, contexts, args.train, leaky=leaky)
                views = "before the fix (pooled task encoding)" if leaky else "alignment views (now)"
                print(f"| {mode} | {views} | {name} | {r['accuracy']:.2f} | {r['loss']:.2f} |", flush=True)
    print(f"chance: accuracy {1 / 16:.2f}, loss {r['chance_loss']:.2f}; {r['held_out']} held-out pairs")


if __name__ == "__main__":
    main()
