"""What the CRF's forward algorithm costs in a training step, as a loop over positions and as a log-depth scan.

    python benchmarks/crf_cost.py [--steps 5] [--batch-size 16] [--threads 1] [--device cpu|cuda]

On real Twitter-2017 batches (their word masks, so their real lengths): the CRF loss forward and backward alone, on
emissions of the batch's shape, each way, against the whole training step of the full model (forward, backward,
AdamW) on the same batches, interleaved. Prints median milliseconds and the CRF's share of the step. The loop runs
one round of small kernels per word position; the scan log2(L) rounds of T times the work (shapca/crf.py).
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
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = Config().update({"data.dataset": "twitter2017", "data.context": "blip2", "data.limit_train": 200,
                           "data.limit_eval": 16, "train.batch_size": args.batch_size, "train.device": args.device})
    tr = Trainer(cfg, log=lambda *a, **k: None)
    crf = tr.model.tagger.crf  # Twitter-2017 is NER: a tagging head with its CRF (model.crf, on by default)
    enc, exs, pad = tr.prep.encoded["train"], tr.prep.examples["train"], tr.prep.tokenizer.pad_token_id
    dev = tr.device

    def timed(fn) -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return 1000 * (time.perf_counter() - t)


    ways = {"loop": False, "scan": True}
    crf_ms, step_ms = {way: [] for way in ways}, []
    for s in range(args.steps + 1):
        idx = list(range(s * args.batch_size, (s + 1) * args.batch_size))
        batch = {k: v.to(dev) for k, v in collate([enc[i] for i in idx], pad).items()}
        mask = batch["word_mask"]
        emissions = torch.randn(*mask.shape, crf.num_tags, device=dev, requires_grad=True)
        tags = torch.randint(0, crf.num_tags, mask.shape, device=dev)
        for way, scan in ways.items():
            took = timed(lambda: crf.neg_log_likelihood(emissions, tags, mask, scan=scan).backward())
            if s:  # the first round warms up
                crf_ms[way].append(took)
        took = timed(lambda: tr.train_step(batch, [exs[i] for i in idx], s))
        if s:
            step_ms.append(took)
    step_m = statistics.median(step_ms)
    print(f"{dev.type}, batch {args.batch_size}, {args.threads} thread(s), median of {args.steps} steps, word "
          f"positions up to {mask.shape[1]}, {crf.num_tags} tags; full-model step (CRF as trained here: "
          f"{'loop' if dev.type == 'cpu' else 'scan'}): {step_m:.0f} ms")
    for way, times in crf_ms.items():
        crf_m = statistics.median(times)
        print(f"CRF loss forward+backward, {way}: {crf_m:.1f} ms, {100 * crf_m / step_m:.2f}% of the step")


if __name__ == "__main__":
    main()
