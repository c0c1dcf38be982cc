"""bf16 autocast against float32 on this machine's CPU (or GPU), side by side in one run: the full model's training
step, the evaluation of the dev set, and the step's throughput as a share of the machine's own matrix-product peak.

    python benchmarks/precision.py [--steps 10] [--threads 1] [--eval-rounds 3] [--device cpu] [--profile]

The full model is the default config (joint encoding of BLIP-2 contexts, Shapley alignment, token-gated fusion,
CRF) on real Twitter-2017 batches of 16, taken in the order training takes them (length-bucketed: the matrix
products' shapes repeat as they do in an epoch, so oneDNN's kernels for them are built once, as in a trial).
Training steps alternate between the two precisions, one each in turn, so that machine noise hits both alike; the
median of the second half is reported (the first half builds the kernels of the shapes). FLOPs of one step are
counted by torch's FlopCounterMode (matrix products and attention), and the peak is a 2048 x 2048 product timed here
in each precision.
The processor and the flags that decide native bf16 are printed first: figures from different processors do not
compare (docs/method.md, "Precision and speed").
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from shapca.config import Config
from shapca.features import collate
from shapca.prepare import prepare
from shapca.precision import CPU_BF16_FLAGS, cpu_flags, native_bf16
from shapca.trainer import Trainer

PRECISIONS = ("none", "bf16")  # train.amp: float32, bf16 autocast
NAMES = {"none": "float32", "bf16": "bf16"}


def processor() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    shown = [f for f in ("avx2", "avx512f", *CPU_BF16_FLAGS, "amx_tile") if f in cpu_flags()]
    return f"{model}; flags {' '.join(shown) or 'none of avx2/avx512/bf16/amx'}"


def matmul_gflops(dtype: torch.dtype, device: str, n: int = 2048, reps: int = 7) -> float:
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    best = float("inf")
    for _ in range(reps + 1):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-rounds", type=int, default=3, help="evaluations of the dev set per precision")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--profile", action="store_true", help="also print the bf16 step's top operators")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = args.device
    print(f"processor: {processor()}; native bf16 on {dev}: {native_bf16(dev)}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s); load average at start {os.getloadavg()[0]:.2f}")
    peak = {amp: matmul_gflops(torch.float32 if amp == "none" else torch.bfloat16, dev) for amp in PRECISIONS}

    n = args.batch_size * (args.steps + 2)
    trainers, prep = {}, None
    for amp in PRECISIONS:
        cfg = Config().update({"data.dataset": "twitter2017", "data.context": "blip2", "data.limit_train": n,
                               "train.batch_size": args.batch_size, "train.amp": amp, "train.device": dev})
        prep = prep or prepare(cfg, log=lambda *a, **k: None)
        trainers[amp] = Trainer(cfg, prep=prep, log=lambda *a, **k: None)
    enc, exs, pad = prep.encoded["train"], prep.examples["train"], prep.tokenizer.pad_token_id

    order = trainers["none"].batch_order(0)

    def step(tr: Trainer, s: int) -> float:
        idx = order[s * args.batch_size: (s + 1) * args.batch_size]
        batch = collate([enc[i] for i in idx], pad)
        sync(dev)
        t = time.perf_counter()
        tr.train_step(batch, [exs[i] for i in idx], s)
        sync(dev)
        return time.perf_counter() - t

    from torch.utils.flop_counter import FlopCounterMode

    for amp, tr in trainers.items():  # step 0 warms up each precision
        step(tr, 0)
    with FlopCounterMode(display=False) as counter:
        step(trainers["bf16"], 1)
    flops = counter.get_total_flops()
    times = {amp: [] for amp in PRECISIONS}
    for s in range(2, args.steps + 2):
        for amp, tr in trainers.items():
            times[amp].append(step(tr, s))
    evals = {amp: [] for amp in PRECISIONS}
    for _ in range(args.eval_rounds):
        for amp, tr in trainers.items():
            sync(dev)
            t = time.perf_counter()
            tr.evaluate("dev")
            sync(dev)
            evals[amp].append(time.perf_counter() - t)

    step_ms = {amp: 1000 * statistics.median(ts[len(ts) // 2:]) for amp, ts in times.items()}
    eval_s = {amp: statistics.median(ts) for amp, ts in evals.items()}
    print(f"\nTwitter-2017, batches of {args.batch_size}, full model; {flops / 1e9:.1f} GFLOP per step (counted); "
          f"median of the last {args.steps - args.steps // 2} of {args.steps} steps; dev set "
          f"({len(prep.encoded['dev'])} examples) evaluated "
          f"{args.eval_rounds} times; load average at end {os.getloadavg()[0]:.2f}\n")
    print("| precision | matrix peak (GFLOP/s) | step (ms) | step GFLOP/s | share of this precision's peak | "
          "dev evaluation (s) |")
    print("|:---|---:|---:|---:|---:|---:|")
    for amp in PRECISIONS:
        rate = flops / (step_ms[amp] / 1000) / 1e9
        print(f"| {NAMES[amp]} | {peak[amp]:.0f} | {step_ms[amp]:.0f} | {rate:.0f} | {100 * rate / peak[amp]:.0f}% | "
              f"{eval_s[amp]:.2f} |")
    print(f"\nbf16 against float32: step {step_ms['none'] / step_ms['bf16']:.2f}x faster, dev evaluation "
          f"{eval_s['none'] / eval_s['bf16']:.2f}x faster; the bf16 step runs at "
          f"{100 * flops / (step_ms['bf16'] / 1000) / 1e9 / peak['bf16']:.0f}% of the bf16 matrix peak")
    if args.profile:
        from torch.profiler import profile

        with profile() as prof:
            step(trainers["bf16"], 2)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


if __name__ == "__main__":
    main()
