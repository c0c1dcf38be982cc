"""How much a table can resolve at a given size: seed-to-seed spread of test F1, and the cost of one trial.

    python benchmarks/preset_sizing.py run --sizes 1000 2000 --epochs 2 --seeds 1 2 3 --out runs.jsonl
        [--models "full model" text-only]   (several such processes may share the work and the file)
    python benchmarks/preset_sizing.py table runs.jsonl

`run` trains, with the core trainer, the full model (BLIP-2 contexts, Shapley alignment, adaptive fusion) and the
text-only model on Twitter-2017 with N training examples and the full dev and test sets, for each seed, and
appends one JSON line per trial (so several `run` processes can share the work and the file). `table` prints, per
size and model: test F1 mean and standard deviation over seeds, the range, the standard deviation of a
difference of two such rows' means (what a comparison of two rows must exceed), and the minutes per trial.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections import defaultdict

MODELS = {"full model": {"data.context": "blip2"}, "text-only": {"data.context": "none"}}


def run(args) -> None:
    from shapca.config import Config
    from shapca.trainer import fit

    for size in args.sizes:
        for model, over in ((m, MODELS[m]) for m in args.models):
            for seed in args.seeds:
                cfg = Config().update({"data.dataset": "twitter2017", "data.limit_train": size, "data.limit_eval": 0,
                                       "train.epochs": args.epochs, "train.seed": seed,
                                       "train.num_threads": args.threads, **over})
                t0 = time.perf_counter()
                result = fit(cfg, log=lambda *a, **k: None)
                row = {"size": size, "model": model, "seed": seed, "epochs": args.epochs,
                       "test_f1": result.best["test_f1"], "dev_f1": result.best["dev_f1"],
                       "best_epoch": result.best["epoch"], "minutes": (time.perf_counter() - t0) / 60,
                       "threads": args.threads, "config_hash": cfg.hash()}
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)


def table(args) -> None:
    groups = defaultdict(list)
    for line in open(args.file):
        r = json.loads(line)
        groups[(r["size"], r["epochs"], r["model"])].append(r)
    print("| train examples | epochs | model | seeds | test F1 mean | std | range | std of a difference of two "
          "rows' means | minutes per trial (threads) |")
    print("|---:|---:|:---|---:|---:|---:|---:|---:|---:|")
    for (size, epochs, model), rows in sorted(groups.items()):
        f1 = [100 * r["test_f1"] for r in rows]
        sd = statistics.stdev(f1) if len(f1) > 1 else float("nan")
        diff_sd = sd * math.sqrt(2 / len(f1))
        minutes = statistics.mean(r["minutes"] for r in rows)
        print(f"| {size} | {epochs} | {model} | {len(f1)} | {statistics.mean(f1):.2f} | {sd:.2f} | "
              f"{max(f1) - min(f1):.2f} | {diff_sd:.2f} | {minutes:.1f} ({rows[0]['threads']}) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000])
    r.add_argument("--epochs", type=int, default=2)
    r.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    r.add_argument("--out", required=True)
    t = sub.add_parser("table")
    t.add_argument("file")
    args = ap.parse_args()
    run(args) if args.cmd == "run" else table(args)


if __name__ == "__main__":
    main()
