"""Memory and speed of a reused trial process: resident size and step time after each of several trials, as glibc
leaves the heap by default, as the project left it before (all freed heap handed back after each trial), and as
trainables/heap.py keeps it now (kept during and between trials, handed back beyond KEEP_FREED_HEAP).

    python benchmarks/trial_memory.py [--trials 6] [--limit-train 160] [--limit-eval 400] [--dataset mnre]

Each trial trains with another context generator (as a context_generator study does), one epoch, one thread, in a
thread of its own in this one process, as Tune runs the trials of a reused trial process. Each way runs in a fresh
process, so none inherits another's heap.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading

GENERATORS = {"mnre": ["none", "llava_next", "cogvlm", "minicpm_v", "qwen_vl", "instructblip", "blip"],
              "twitter2017": ["blip2", "chatgpt", "none"]}
WAYS = ("glibc-default", "hand-back-all", "kept")


def resident_gb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


def page_faults() -> int:
    with open(f"/proc/{os.getpid()}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])  # minflt


def trials(n: int, dataset: str, limit_train: int, limit_eval: int, way: str) -> None:
    from shapca.config import Config
    from shapca.trainer import Trainer
    from trainables.heap import KEEP_FREED_HEAP, release_freed_memory
    from trainables.in_process import prepared

    print(f"{way}; start {resident_gb():.2f} GB", flush=True)
    generators = GENERATORS[dataset]
    for i in range(n):
        generator = generators[i % len(generators)]
        cfg = Config().update({"data.dataset": dataset, "data.context": generator, "data.limit_train": limit_train,
                               "data.limit_eval": limit_eval, "train.epochs": 1, "train.num_threads": 1})
        out, faults = {}, page_faults()
        thread = threading.Thread(target=lambda: out.update(
            Trainer(cfg, prep=prepared(cfg), log=lambda *a: None).fit().history[0]))
        thread.start()
        thread.join()
        faults = page_faults() - faults
        released = way != "glibc-default" and release_freed_memory(KEEP_FREED_HEAP if way == "kept" else 0)
        print(f"  after {generator}: {resident_gb():.2f} GB, step {out['step_time_s'] * 1000:.0f} ms, "
              f"{faults / 1000:.0f}k page faults" + (" (freed heap handed back)" if released else ""), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--limit-train", type=int, default=160)
    ap.add_argument("--limit-eval", type=int, default=400)
    ap.add_argument("--dataset", default="mnre", choices=sorted(GENERATORS))
    ap.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)  # one way, in its own process
    args = ap.parse_args()
    if args.way:
        trials(args.trials, args.dataset, args.limit_train, args.limit_eval, args.way)
        return
    print(f"machine: {os.cpu_count()} CPUs; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    from trainables.heap import TRIAL_PROCESS_ENV

    for way in WAYS:  # "kept" starts as a study's trial process does, with glibc told to keep its freed heap
        env = {**os.environ, **(TRIAL_PROCESS_ENV if way == "kept" else {})}
        subprocess.run([sys.executable, __file__, "--way", way, "--trials", str(args.trials),
                        "--dataset", args.dataset, "--limit-train", str(args.limit_train),
                        "--limit-eval", str(args.limit_eval)], check=True, env=env)


if __name__ == "__main__":
    main()
