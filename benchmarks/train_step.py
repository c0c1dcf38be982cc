"""Training-step cost of each part of Shap-CA on real Twitter-2017 batches, side by side in one run.

    python benchmarks/train_step.py [--steps 12] [--batch-size 16] [--encoder minilm] [--threads 2]

Variants (each a full optimiser step: forward, backward, AdamW): the text-only CRF (what a user would otherwise
run), + context (BLIP-2, no alignment, no adaptive fusion), + InfoNCE alignment, + Shapley alignment (M = 16),
and the full model (Shapley alignment + adaptive token-gated fusion). Steps are interleaved round-robin over the
variants so that machine noise hits all of them alike; the table reports the median step time.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from shapca.config import Config  # noqa: E402
from shapca.features import collate  # noqa: E402
from shapca.prepare import prepare  # noqa: E402
from shapca.trainer import Trainer  # noqa: E402

VARIANTS = {
    "text-only CRF": {"data.context": "none"},
    "+ context": {"data.context": "blip2", "align.alignment": "none", "model.fusion": False},
    "+ InfoNCE alignment": {"data.context": "blip2", "align.alignment": "infonce", "model.fusion": False},
    "+ Shapley alignment (M=16)": {"data.context": "blip2", "align.alignment": "shapley", "shapley.samples": 16,
                                   "model.fusion": False},
    "full model": {"data.context": "blip2", "align.alignment": "shapley", "shapley.samples": 16,
                   "model.fusion": True, "model.fusion_gate": "token"},
}


def step(tr: Trainer, batch: dict, examples: list, k: int) -> float:
    t0 = time.perf_counter()
    loss, _ = tr.batch_loss(batch, examples, torch.Generator().manual_seed(k))
    tr.opt.zero_grad(set_to_none=True)
    loss.backward()
    tr.opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n = args.batch_size * (args.steps + 1)
    trainers, preps = {}, {}
    for name, over in VARIANTS.items():
        cfg = Config()
        cfg.update({"data.dataset": "twitter2017", "data.limit_train": n, "data.limit_eval": 1,
                    "model.encoder": args.encoder, "train.batch_size": args.batch_size, **over})
        key = cfg.data.context
        preps[key] = preps.get(key) or prepare(cfg, log=lambda *a: None)
        trainers[name] = Trainer(cfg, prep=preps[key], log=lambda *a: None)
        trainers[name].net.train()
    times = {name: [] for name in VARIANTS}
    for s in range(args.steps + 1):  # step 0 warms up every variant and is not counted
        for name, tr in trainers.items():
            idx = list(range(s * args.batch_size, (s + 1) * args.batch_size))
            batch = collate([tr.prep.encoded["train"][i] for i in idx], tr.prep.tokenizer.pad_token_id)
            dt = step(tr, batch, [tr.prep.examples["train"][i] for i in idx], s)
            if s:
                times[name].append(dt)
    infonce = statistics.median(times["+ InfoNCE alignment"])
    print(f"real Twitter-2017 batches of {args.batch_size}, encoder {args.encoder}, "
          f"{torch.get_num_threads()} threads, {args.steps} timed steps per variant (median)")
    print("| variant | ms/step | samples/s | vs text-only | vs InfoNCE |")
    print("|---|---|---|---|---|")
    base = statistics.median(times["text-only CRF"])
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"| {name} | {1000 * m:.0f} | {args.batch_size / m:.1f} | {m / base:.2f}x | {m / infonce:.2f}x |")


if __name__ == "__main__":
    main()
