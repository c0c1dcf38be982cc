"""Memory of a reused trial process: resident size after each of several in-process trials, with and without
handing the freed heap back to the system between trials (trainables.in_process.release_freed_memory).

    python benchmarks/trial_memory.py [--trials 6] [--limit-train 160] [--limit-eval 400]

Each trial trains MNRE with another context generator (as a context_generator study does), one epoch, one thread,
in this one process, as a Tune trial process reused across a study's trials would.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

GENERATORS = ["none", "llava_next", "cogvlm", "minicpm_v", "qwen_vl", "instructblip", "blip"]


def resident_gb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


def trials(n: int, limit_train: int, limit_eval: int, release: bool) -> None:
    from shapca.config import Config
    from shapca.trainer import Trainer
    from trainables.in_process import prepared, release_freed_memory

    print(f"release between trials: {release}; start {resident_gb():.2f} GB", flush=True)
    for generator in GENERATORS[:n]:
        cfg = Config().update({"data.dataset": "mnre", "data.context": generator, "data.limit_train": limit_train,
                               "data.limit_eval": limit_eval, "train.epochs": 1, "train.num_threads": 1})
        trainer = Trainer(cfg, prep=prepared(cfg), log=lambda *a: None)
        trainer.fit()
        del trainer
        if release:
            release_freed_memory()
        print(f"  after {generator}: {resident_gb():.2f} GB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--limit-train", type=int, default=160)
    ap.add_argument("--limit-eval", type=int, default=400)
    ap.add_argument("--release", choices=["yes", "no"], help=argparse.SUPPRESS)  # one side, in its own process
    args = ap.parse_args()
    if args.release:
        trials(args.trials, args.limit_train, args.limit_eval, args.release == "yes")
        return
    print(f"machine: {os.cpu_count()} CPUs; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for release in ("no", "yes"):  # each side in a fresh process, so neither inherits the other's heap
        subprocess.run([sys.executable, __file__, "--release", release, "--trials", str(args.trials),
                        "--limit-train", str(args.limit_train), "--limit-eval", str(args.limit_eval)], check=True)


if __name__ == "__main__":
    main()
