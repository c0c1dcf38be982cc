"""Training-step cost of each part of Shap-CA on real Twitter-2017 batches, side by side in one run.

    python benchmarks/train_step.py [--steps 12] [--batch-size 16] [--encoder minilm] [--threads 2]

Variants (each a full optimiser step: forward, backward, AdamW): the text-only CRF (what a user would otherwise
run), + context (BLIP-2, no alignment, no adaptive fusion), + InfoNCE alignment, + Shapley alignment (M = 16, and
the exact closed form, the default), and the full model (Shapley alignment + adaptive token-gated fusion), with
joint and with separate encoding, and joint as it was before the alignment read views of its own ("before the fix":
the alignment pooled the joint encoding, which let it match pairs without meaning; docs/method.md section 7).
"encoder only" rows run the same encoder passes as the model on the same batch (forward and backward of their mean),
nothing else: a full model's ratio to them is what the step spends outside the encoder. Steps are interleaved round-
robin over the variants so that machine noise hits all of them alike; the table reports the median step time.
"""
from __future__ import annotations

import argparse
import statistics
import time
import types

import torch

from shapca.config import Config
from shapca.features import collate
from shapca.prepare import prepare
from shapca.trainer import Trainer

FULL = {"data.context": "blip2", "align.alignment": "shapley", "model.fusion": True, "model.fusion_gate": "token"}
VARIANTS = {
    "text-only CRF": {"data.context": "none"},
    "+ context": {"data.context": "blip2", "align.alignment": "none", "model.fusion": False},
    "+ InfoNCE alignment": {"data.context": "blip2", "align.alignment": "infonce", "model.fusion": False},
    "+ Shapley alignment (M=16)": {"data.context": "blip2", "align.alignment": "shapley", "model.fusion": False,
                                   "shapley.estimator": "permutation", "shapley.samples": 16},
    "+ Shapley alignment (closed form)": {"data.context": "blip2", "align.alignment": "shapley",
                                          "model.fusion": False, "shapley.estimator": "closed_form"},
    "full model (joint)": FULL,
    "full model (joint), before the fix": FULL,
    "full model (separate)": {**FULL, "model.encode_context": "separate"},
}
BEFORE_FIX = "full model (joint), before the fix"
ENCODER_ONLY = ("full model (joint)", "full model (separate)")


def pooled_task_states(model, batch, states, ctx_alone, text_alone=None):
    """The alignment views as they were before the fix: both pooled from the joint encoding."""
    from shapca.model import masked_mean

    return masked_mean(states, batch["text_mask"]), masked_mean(states, batch["joint_context_mask"])


def encoder_step(tr: Trainer, batch: dict) -> float:
    """The encoder passes the model makes on this batch in training, forward and backward, and nothing else."""
    enc, joint = tr.model.encoder, tr.model.joint
    passes = [("input_ids", "attention_mask"), ("context_ids", "context_mask")]
    if joint:
        passes.append(("text_ids", "text_ids_mask"))
    t0 = time.perf_counter()
    loss = sum(enc(input_ids=batch[i], attention_mask=batch[m]).last_hidden_state.mean() for i, m in passes)
    tr.opt.zero_grad(set_to_none=True)
    loss.backward()
    return time.perf_counter() - t0


def step(tr: Trainer, batch: dict, examples: list, k: int) -> float:
    t0 = time.perf_counter()
    tr.train_step(batch, examples, k)
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
        key = (cfg.data.context, cfg.model.encode_context)
        preps[key] = preps.get(key) or prepare(cfg, log=lambda *a: None)
        trainers[name] = Trainer(cfg, prep=preps[key], log=lambda *a: None)
        trainers[name].net.train()
    trainers[BEFORE_FIX].model.alignment_views = types.MethodType(pooled_task_states, trainers[BEFORE_FIX].model)
    times = {name: [] for name in [*VARIANTS, *(f"encoder only, as {n}" for n in ENCODER_ONLY)]}
    for s in range(args.steps + 1):  # step 0 warms up every variant and is not counted
        for name, tr in trainers.items():
            idx = list(range(s * args.batch_size, (s + 1) * args.batch_size))
            batch = collate([tr.prep.encoded["train"][i] for i in idx], tr.prep.tokenizer.pad_token_id)
            dt = step(tr, batch, [tr.prep.examples["train"][i] for i in idx], s)
            enc_dt = encoder_step(tr, batch) if name in ENCODER_ONLY else None
            if s:
                times[name].append(dt)
                if enc_dt is not None:
                    times[f"encoder only, as {name}"].append(enc_dt)
    infonce = statistics.median(times["+ InfoNCE alignment"])
    print(f"real Twitter-2017 batches of {args.batch_size}, encoder {args.encoder}, "
          f"{torch.get_num_threads()} threads, {args.steps} timed steps per variant (median)")
    print("| variant | ms/step | samples/s | vs text-only | vs InfoNCE |")
    print("|---|---|---|---|---|")
    base = statistics.median(times["text-only CRF"])
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"| {name} | {1000 * m:.0f} | {args.batch_size / m:.1f} | {m / base:.2f}x | {m / infonce:.2f}x |")
    print()
    print("| full model | step / its encoder passes alone | step / before the fix |")
    print("|---|---|---|")
    before = statistics.median(times[BEFORE_FIX])
    for name in ENCODER_ONLY:
        m = statistics.median(times[name])
        print(f"| {name} | {m / statistics.median(times[f'encoder only, as {name}']):.2f}x | {m / before:.2f}x |")


if __name__ == "__main__":
    main()
