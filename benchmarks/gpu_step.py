"""Training steps of the full Shap-CA model with a bert-base-sized encoder on one GPU, bf16 autocast.

    python benchmarks/gpu_step.py [--batch-size 32] [--steps 30] [--peak-tflops 989]

The encoder is built from bert-base's config with random weights (no weights can be downloaded on a GPU node
without internet; speed and memory do not depend on the values), with the uncased BERT vocabulary of the offline
MiniLM package. Real Twitter-2017 batches with BLIP-2 contexts. Prints samples/s, peak GPU memory, and the achieved
share of the card's dense bf16 peak, with FLOPs counted by torch's FlopCounterMode on one step.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch


def bert_base_dir(folder: Path, tokenizer: str) -> str:
    from transformers import BertConfig, BertModel

    from shapca.model import resolve_encoder

    tok = Path(tokenizer or resolve_encoder("minilm"))
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tok / name).exists():
            shutil.copy(tok / name, folder / name)
    BertModel(BertConfig()).save_pretrained(folder)  # bert-base: 12 layers, 768 hidden, 12 heads, 110M parameters
    return str(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the card (H100/H200 SXM)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--profile", action="store_true", help="also print the top operators of one step")
    ap.add_argument("--tokenizer", default="", help="folder with an uncased BERT vocabulary (default: MiniLM's)")
    args = ap.parse_args()

    from torch.utils.flop_counter import FlopCounterMode

    from shapca.config import Config
    from shapca.features import collate
    from shapca.trainer import Trainer

    enc_dir = bert_base_dir(Path(tempfile.mkdtemp(prefix="bert-base-")), args.tokenizer)
    n = min(3373, args.batch_size * (args.steps + args.warmup + 1))  # batches wrap around the training set
    cfg = Config()
    cfg.update({"data.dataset": "twitter2017", "data.context": "blip2", "data.limit_train": n, "data.limit_eval": 8,
                "model.encoder": enc_dir, "train.batch_size": args.batch_size, "train.device": args.device,
                "train.amp": "bf16" if args.device == "cuda" else "none", "shapley.samples": 16})
    tr = Trainer(cfg, log=lambda *a: None)
    tr.net.train()
    dev = tr.device
    enc, exs = tr.prep.encoded["train"], tr.prep.examples["train"]

    def step(i: int) -> int:
        idx = [j % len(enc) for j in range(i * args.batch_size, (i + 1) * args.batch_size)]
        batch = {k: v.to(dev) for k, v in collate([enc[j] for j in idx], tr.prep.tokenizer.pad_token_id).items()}
        tr.train_step(batch, [exs[j] for j in idx], i)
        return int(batch["attention_mask"].sum() + batch["context_mask"].sum())

    for i in range(args.warmup):
        step(i)
    with FlopCounterMode(display=False) as counter:
        step(args.warmup)
    flops_per_step = counter.get_total_flops()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    tokens = sum(step(args.warmup + 1 + i) for i in range(args.steps))
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    # the encoder alone (forward + backward of its output), to show what the heads and the loss add
    t1 = time.perf_counter()
    for i in range(args.steps):
        idx = [j % len(enc) for j in range(i * args.batch_size, (i + 1) * args.batch_size)]
        batch = {k: v.to(dev) for k, v in collate([enc[j] for j in idx], tr.prep.tokenizer.pad_token_id).items()}
        with tr._autocast():
            h = tr.model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        h.last_hidden_state.float().mean().backward()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    enc_ms = 1000 * (time.perf_counter() - t1) / args.steps
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    peak_mem = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else float("nan")
    achieved = flops_per_step * args.steps / dt / 1e12
    params = sum(p.numel() for p in tr.model.parameters()) / 1e6
    print(f"device {name}, torch {torch.__version__}, full Shap-CA (joint BLIP-2 context, Shapley M=16, token-gated "
          f"fusion, CRF), bert-base-sized encoder ({params:.0f}M parameters), bf16 autocast")
    print("| batch | steps | ms/step | samples/s | tokens/s | peak GPU memory (GiB) | TFLOP/s (counted) | "
          "share of bf16 peak |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.batch_size} | {args.steps} | {1000 * dt / args.steps:.1f} "
          f"| {args.batch_size * args.steps / dt:.0f} | {tokens / dt:.0f} | {peak_mem:.2f} | {achieved:.1f} "
          f"| {100 * achieved / args.peak_tflops:.1f}% |")
    print(f"encoder alone (forward + backward, no optimiser): {enc_ms:.1f} ms/step")
    if args.profile:
        from torch.profiler import profile

        with profile() as prof:
            step(0)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
