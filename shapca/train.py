"""Train one Shap-CA config in this process.

    python -m shapca.train --dataset twitter2017 --context blip2 --epochs 3 [--limit-train N] [--set key=value ...]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shapca.config import Config, ConfigError
from shapca.config_help import config_help
from shapca.data.types import DATASETS
from shapca.inputs import pin
from shapca.progress import StepBar
from shapca.trainer import fit


def progress_bar(epoch: int, total: int, stream=None, environ=None) -> StepBar:
    """Per-step progress with rate and ETA on a terminal; silent in a log file or CI (the epoch line is enough)."""
    return StepBar(epoch, total, stream=stream, environ=environ)


def build_config(args) -> Config:
    cfg = Config.from_yaml(args.config) if args.config else Config()
    flat = {"data.dataset": args.dataset, "data.context": args.context, "data.image": args.image,
            "train.epochs": args.epochs, "data.limit_train": args.limit_train, "data.limit_eval": args.limit_eval,
            "train.seed": args.seed, "model.encoder": args.encoder}
    cfg.update({k: v for k, v in flat.items() if v is not None}, where="command line")
    return pin(cfg.override(args.set))  # its files absolute and known by their content


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=config_help())  # every key --set accepts, with type, default and help
    ap.add_argument("--config", help="YAML config file (shapca.config.Config layout)")
    ap.add_argument("--dataset", choices=DATASETS)
    ap.add_argument("--context", help="context generator name, none, or file:<jsonl>")
    ap.add_argument("--image", help="image source: none, features:<file>, encoder:<name>")
    ap.add_argument("--encoder", help="text encoder: minilm or a Hugging Face name/path")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--limit-train", type=int, help="use the first N training examples")
    ap.add_argument("--limit-eval", type=int, help="use the first N dev and test examples")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="any config key, e.g. align.tau=0.05")
    ap.add_argument("--out", help="write the result (history, best, config) as JSON here")
    args = ap.parse_args(argv)
    try:
        cfg = build_config(args)
    except ConfigError as e:
        ap.error(str(e))

    def log_epoch(rec):
        print(f"epoch {rec['epoch']}: loss {rec['train_loss']:.4f} | dev P/R/F1 {100 * rec['dev_precision']:.1f}/"
              f"{100 * rec['dev_recall']:.1f}/{100 * rec['dev_f1']:.1f} | test F1 {100 * rec['test_f1']:.1f} | "
              f"{rec['step_time_s'] * 1000:.0f} ms/step, {rec['samples_per_s']:.1f} samples/s, "
              f"{rec['epoch_time_s']:.0f}s", flush=True)

    class Printer:
        def on_start(self, info):
            print("active:", json.dumps(info["active"]), flush=True)
            for split, cov in info["coverage"].items():
                print(f"contexts {split}: {cov}", flush=True)

        def on_epoch_end(self, rec, checkpoint):
            log_epoch(rec)

    result = fit(cfg, callbacks=(Printer(),), progress_factory=progress_bar)
    b = result.best
    print(f"best dev epoch {b['epoch']}: dev F1 {100 * b['dev_f1']:.2f} | test P/R/F1 {100 * b['test_precision']:.2f}/"
          f"{100 * b['test_recall']:.2f}/{100 * b['test_f1']:.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"config": cfg.to_dict(), "history": result.history, "best": b,
                                              "active": result.active}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
