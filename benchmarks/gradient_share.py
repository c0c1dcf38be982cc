"""How much of the encoder's update the context-text alignment drives, step by step, at several weights.

    python benchmarks/gradient_share.py [--weights 0.1 1 3 10] [--steps 25] [--every 6] [--alignment shapley]

Real Twitter-2017 training batches (BLIP-2 contexts, batches of 16, the default config otherwise, the training's own
batch order), trained from the same start at each `align.context_text` weight. At every `--every`-th step (and the
last), before the step's backward: the task loss (a CRF negative log-likelihood summed over each sentence's tags),
the alignment loss (a mean over pairs), the norm of each weighted term's gradient in the encoder's parameters, and
the alignment's share of the two norms (Trainer.gradient_norms: the diagnostic every trial logs as grad_share_*,
here at every measured step instead of averaged over an epoch).
"""
from __future__ import annotations

import argparse

import torch

from shapca.config import Config
from shapca.features import collate
from shapca.prepare import prepare
from shapca.trainer import Trainer

ALIGN = "align_context_text"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=float, nargs="+", default=[0.1, 1.0, 3.0, 10.0])
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--every", type=int, default=6)
    ap.add_argument("--alignment", default="shapley", choices=["shapley", "infonce"])
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--amp", default="none", help="train.amp of the steps (none: float32, as measured in the issue)")
    args = ap.parse_args()
    batch_size, prep = 16, None
    print(f"Twitter-2017 train batches of {batch_size}, BLIP-2 contexts, {args.alignment} alignment, encoder "
          f"{args.encoder}, train.amp={args.amp}, {torch.get_num_threads()} threads")
    print("| weight | step | task loss | alignment loss | ‖∇ task‖ | ‖∇ weight × alignment‖ | alignment share |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for weight in args.weights:
        cfg = Config().update({"data.dataset": "twitter2017", "data.context": "blip2", "data.limit_eval": 1,
                               "data.limit_train": batch_size * args.steps, "model.encoder": args.encoder,
                               "align.alignment": args.alignment, "align.context_text": weight,
                               "train.batch_size": batch_size, "train.amp": args.amp})
        prep = prep or prepare(cfg, log=lambda *a: None)  # the data do not depend on the weight
        tr = Trainer(cfg, prep=prep, log=lambda *a: None)
        order, enc, exs = tr.batch_order(0), prep.encoded["train"], prep.examples["train"]
        for step in range(args.steps):
            idx = order[step * batch_size: (step + 1) * batch_size]
            batch = collate([enc[i] for i in idx], prep.tokenizer.pad_token_id)
            measure = step % args.every == 0 or step == args.steps - 1
            _, terms, norms = tr.train_step(batch, [exs[i] for i in idx], step, measure=measure)
            if measure:
                share = norms[ALIGN] / (norms["task"] + norms[ALIGN])
                print(f"| {weight:g} | {step} | {terms['task'].item():.2f} | {terms[ALIGN].item():.2f} | "
                      f"{norms['task']:.2f} | {norms[ALIGN]:.2f} | {100 * share:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
