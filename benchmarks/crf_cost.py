"""What the CRF's per-position loop costs in a training step, to decide whether a parallel scan would pay.

    python benchmarks/crf_cost.py [--steps 5] [--batch-size 16] [--threads 1]

On real Twitter-2017 batches (their word masks, so their real lengths): the CRF loss forward and backward alone, on
emissions of the batch's shape, against the whole training step of the full model (forward, backward, AdamW) on the
same batches, interleaved. Prints median milliseconds and the CRF's share of the step. The loop runs one small
kernel per word position; a log-depth scan would only matter where that share is large.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from shapca.config import Config
from shapca.features import collate
from shapca.trainer import Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = Config().update({"data.dataset": "twitter2017", "data.context": "blip2", "data.limit_train": 200,
                           "data.limit_eval": 16, "train.batch_size": args.batch_size})
    tr = Trainer(cfg, log=lambda *a, **k: None)
    crf = tr.model.tagger.crf  # Twitter-2017 is NER: a tagging head with its CRF (model.crf, on by default)
    enc, exs, pad = tr.prep.encoded["train"], tr.prep.examples["train"], tr.prep.tokenizer.pad_token_id
    crf_ms, step_ms = [], []
    for s in range(args.steps + 1):
        idx = list(range(s * args.batch_size, (s + 1) * args.batch_size))
        batch = collate([enc[i] for i in idx], pad)
        mask = batch["word_mask"]
        emissions = torch.randn(*mask.shape, crf.num_tags, requires_grad=True)
        tags = torch.randint(0, crf.num_tags, mask.shape)
        t = time.perf_counter()
        crf.neg_log_likelihood(emissions, tags, mask).backward()
        if s:
            crf_ms.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        tr.model.train()
        loss, _ = tr.batch_loss(batch, [exs[i] for i in idx], torch.Generator().manual_seed(s))
        tr.opt.zero_grad(set_to_none=True)
        loss.backward()
        tr.opt.step()
        if s:
            step_ms.append(1000 * (time.perf_counter() - t))
    crf_m, step_m = statistics.median(crf_ms), statistics.median(step_ms)
    print(f"batch {args.batch_size}, {args.threads} thread(s), median of {args.steps} steps, word positions up to "
          f"{mask.shape[1]}, {crf.num_tags} tags")
    print(f"CRF loss forward+backward: {crf_m:.1f} ms | full-model step: {step_m:.0f} ms | CRF share "
          f"{100 * crf_m / step_m:.2f}%")


if __name__ == "__main__":
    main()
