"""Peak memory of one trial at each preset: the resident size a study must leave room for per trial process.

    python benchmarks/trial_peak_memory.py [--presets smoke cpu compare full] [--train-steps 4] [--study ablation]

Each preset's first trial of the study (the full model) runs as `python -m shapca.train --config <its config>` in a
process of its own, which prints its own peak resident size (getrusage). The training set is cut to `--train-steps`
batches: a step's memory depends on the batch, not on how many batches follow, while dev and test keep the preset's
sizes (evaluation holds every prediction). Offline, `full` trains an encoder of bert-base's size built from its
config (the same memory as the hub's weights), with the uncased BERT vocabulary of the offline MiniLM package.
A reused trial process holds up to trainables.heap.KEEP_FREED_HEAP more between trials.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from gpu_step import bert_base_dir  # this folder is on the path of a script run from it

from ablations.options import Options
from ablations.plan import make_plan
from ablations.study_file import load_study
from shapca import data
from shapca.model import EncoderUnavailable, check_encoder

# runs shapca.train's command line, then prints the process's own peak resident size (Linux: KiB)
RUN = """
import resource, sys
from shapca.train import main
code = main(sys.argv[1:])
print(f"PEAK_KIB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
sys.exit(code)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["smoke", "cpu", "compare", "full"])
    ap.add_argument("--train-steps", type=int, default=4)
    ap.add_argument("--study", default="ablation")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="shapca-peak-"))
    print(f"machine: {os.cpu_count()} CPUs; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"study {args.study}, its first trial at each preset, training cut to {args.train_steps} batches, "
          f"{args.threads} thread(s)")
    print("| preset | dataset | encoder | batch | max_len | dev + test examples | peak resident size, GB |")
    print("|:---|:---|:---|---:|---:|---:|---:|")
    for name in args.presets:
        cfg = make_plan(load_study(args.study), Options(study=args.study, preset=name)).planned[0].config.copy()
        encoder = cfg.model.encoder
        try:
            check_encoder(encoder)
        except EncoderUnavailable:
            cfg.model.encoder = bert_base_dir(Path(tempfile.mkdtemp(dir=tmp)), "")
            encoder = f"{encoder} (its size, from its config: no hub here)"
        cfg.update({"data.limit_train": args.train_steps * cfg.train.batch_size, "train.epochs": 1,
                    "train.num_threads": args.threads})
        path = tmp / f"{name}.yaml"
        path.write_text(cfg.to_yaml())
        out = subprocess.run([sys.executable, "-c", RUN, "--config", str(path)], capture_output=True, text=True,
                             env={**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
        peak = [line for line in out.stdout.splitlines() if line.startswith("PEAK_KIB ")]
        if out.returncode != 0 or not peak:
            raise SystemExit(f"{name}: the trial failed:\n{out.stderr[-3000:]}")
        limit = cfg.data.limit_eval or None
        evaluated = sum(len(data.load(cfg.data.dataset, split)[:limit]) for split in ("dev", "test"))
        print(f"| {name} | {cfg.data.dataset} | {encoder} | {cfg.train.batch_size} | {cfg.data.max_len} | "
              f"{evaluated} | {int(peak[0].split()[1]) / 2 ** 20:.2f} |", flush=True)


if __name__ == "__main__":
    main()
