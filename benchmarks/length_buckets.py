"""What length bucketing saves: pad tokens per real token, and training-step and evaluation time, shuffled batches
against bucketed ones (`train.length_bucket_pool`), side by side in one run.

    python benchmarks/length_buckets.py [--steps 12] [--eval 256] [--threads 1] [--pool 50]

Per dataset (Twitter-2017 with BLIP-2 contexts, MNRE with LLaVA-NeXT descriptions; joint encoding, full model):
the padding of a whole epoch of the training split in each order, then full optimiser steps on the first batches
of each order, interleaved (a shuffled step, then a bucketed one) so that machine noise hits both alike. The
bucketed order's first batches are a random draw of its batches (the batches are shuffled), so the mean step is
an estimate of the epoch's. Evaluation: the first `--eval` dev examples in stored and in length order.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from shapca.batching import epoch_order
from shapca.config import Config
from shapca.features import collate
from shapca.prepare import prepare
from shapca.trainer import Trainer
from train_step import step  # this folder is on the path of a script run from it

DATASETS = {"twitter2017": "blip2", "mnre": "llava_next"}
TENSORS = {"joint sequence": "input_ids", "context alone": "context_mask", "text alone": "text_ids_mask"}


def padding(prep, order: list[int], batch_size: int) -> dict[str, float]:
    """Padded over real tokens of each tensor the encoder reads, over a whole epoch in this order."""
    enc, pad = prep.encoded["train"], prep.tokenizer.pad_token_id
    padded, real = dict.fromkeys(TENSORS, 0), dict.fromkeys(TENSORS, 0)
    for s in range(0, len(order), batch_size):
        batch = collate([enc[i] for i in order[s: s + batch_size]], pad)
        masks = {"joint sequence": batch["attention_mask"], "context alone": batch["context_mask"],
                 "text alone": batch["text_ids_mask"]}
        for name, mask in masks.items():
            padded[name] += mask.numel()
            real[name] += int(mask.sum())
    return {name: padded[name] / real[name] for name in TENSORS}


def bucket_step(tr: Trainer, idx: list[int], k: int) -> float:
    enc, exs = tr.prep.encoded["train"], tr.prep.examples["train"]
    batch = collate([enc[i] for i in idx], tr.prep.tokenizer.pad_token_id)
    return step(tr, batch, [exs[i] for i in idx], k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--eval", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pool", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {os.cpu_count()} CPUs; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{args.threads} thread(s); batch {args.batch_size}; pool {args.pool} batches; MiniLM, full model, joint")
    print("| dataset | order | pad/real: joint | context | text | train ms/step (mean of "
          f"{args.steps}) | eval s ({args.eval} dev) |")
    print("|:---|:---|---:|---:|---:|---:|---:|")
    for dataset, context in DATASETS.items():
        cfg = Config().update({"data.dataset": dataset, "data.context": context, "data.limit_eval": args.eval,
                               "train.batch_size": args.batch_size, "train.eval_batch_size": 64})
        prep = prepare(cfg, log=lambda *a: None)
        rows = {}
        trainers = {}
        for name, pool in (("shuffled", 0), ("bucketed", args.pool)):
            trainers[name] = Trainer(Config().update({**cfg.flat(), "train.length_bucket_pool": pool}), prep=prep,
                                     log=lambda *a: None)
            order = epoch_order(trainers[name].lengths["train"], 1, 0, args.batch_size, 1, 0, pool)
            rows[name] = {"pad": padding(prep, order, args.batch_size), "order": order, "steps": []}
        for k in range(args.steps + 1):  # step 0 warms up and is not counted
            for name, tr in trainers.items():
                tr.net.train()
                dt = bucket_step(tr, rows[name]["order"][k * args.batch_size: (k + 1) * args.batch_size], k)
                if k:
                    rows[name]["steps"].append(dt)
        for name, tr in trainers.items():
            t0 = time.perf_counter()
            tr.evaluate("dev")
            rows[name]["eval"] = time.perf_counter() - t0
        for name, r in rows.items():
            p = r["pad"]
            print(f"| {dataset} | {name} | {p['joint sequence']:.2f} | {p['context alone']:.2f} | "
                  f"{p['text alone']:.2f} | {1000 * statistics.mean(r['steps']):.0f} | {r['eval']:.1f} |")
        ratio = statistics.mean(rows["bucketed"]["steps"]) / statistics.mean(rows["shuffled"]["steps"])
        print(f"| {dataset} | bucketed / shuffled | | | | {ratio:.2f}x | "
              f"{rows['bucketed']['eval'] / rows['shuffled']['eval']:.2f}x |")


if __name__ == "__main__":
    main()
