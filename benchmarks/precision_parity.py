"""Accuracy and wall time of a study trained in float32 and in bf16: per seed, from the trials' MLflow runs.

    python ablations/run.py --study ablation --preset compare --variants full 'w/o context' --set train.amp=none
    python ablations/run.py --study ablation --preset compare --variants full 'w/o context'   # auto: bf16 here
    python benchmarks/precision_parity.py --study ablation --preset compare [--tracking-uri URI]

For each row (variant) and precision: dev and test F1 x100 per seed, then bf16 minus float32 per seed (the seed
drives data order and initialisation in both, so the differences are paired), their mean and sample standard
deviation, and the seed-to-seed standard deviation of each precision for scale. Wall time: the sum of the trials'
run times per precision, and the study runs' own wall times (the parent run's `study_wall_s`, one value per run of
the command, in order).
"""
from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

from mlflow.tracking import MlflowClient

from ablations.status import score  # a score in [0, 1], whichever scale its run was logged in

PRECISIONS = {"none": "float32", "bf16": "bf16"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", default="ablation")
    ap.add_argument("--preset", default="compare")
    ap.add_argument("--tracking-uri", default=None)
    args = ap.parse_args(argv)
    client = MlflowClient(args.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    where = f"tags.study = '{args.study}' and tags.preset = '{args.preset}'"
    runs = client.search_runs(experiments, f"{where} and attributes.status = 'FINISHED'", max_results=5000)
    trials = [r for r in runs if r.data.tags.get("shapca.role") == "trial"]
    scores: dict = defaultdict(dict)  # (variant, amp) -> seed -> (dev, test)
    took: dict = defaultdict(float)
    for r in trials:
        amp = r.data.params.get("train.amp")
        if amp not in PRECISIONS:
            continue
        key = (r.data.tags["variant"], amp)
        scores[key][int(r.data.tags["seed"])] = (100 * score(r, "dev_f1"), 100 * score(r, "test_f1"))
        took[amp] += (r.info.end_time - r.info.start_time) / 1000
    print(f"study {args.study} ({args.preset}): {len(trials)} finished trials\n")
    print("| row | precision | seeds | dev F1 per seed | test F1 per seed | test F1 mean ± std |")
    print("|:---|:---|:---|:---|:---|---:|")
    for (variant, amp), by_seed in sorted(scores.items()):
        seeds = sorted(by_seed)
        test = [by_seed[s][1] for s in seeds]
        print(f"| {variant} | {PRECISIONS[amp]} | {', '.join(map(str, seeds))} | "
              f"{', '.join(f'{by_seed[s][0]:.2f}' for s in seeds)} | {', '.join(f'{t:.2f}' for t in test)} | "
              f"{statistics.mean(test):.2f} ± {statistics.stdev(test) if len(test) > 1 else float('nan'):.2f} |")
    print("\n| row | split | bf16 - float32 per seed | mean | std of the paired differences | n |")
    print("|:---|:---|:---|---:|---:|---:|")
    for variant in sorted({v for v, _ in scores}):
        a, b = scores.get((variant, "none"), {}), scores.get((variant, "bf16"), {})
        shared = sorted(set(a) & set(b))
        for i, split in enumerate(("dev", "test")):
            diffs = [b[s][i] - a[s][i] for s in shared]
            if not diffs:
                continue
            spread = statistics.stdev(diffs) if len(diffs) > 1 else float("nan")
            print(f"| {variant} | {split} | {', '.join(f'{d:+.2f}' for d in diffs)} | {statistics.mean(diffs):+.2f} | "
                  f"{spread:.2f} | {len(diffs)} |")
    parents = [r for r in runs if r.data.tags.get("shapca.role") == "study"]
    walls = [m.value for p in parents for m in client.get_metric_history(p.info.run_id, "study_wall_s")]
    print(f"\ntrial time summed: float32 {took['none'] / 60:.1f} min, bf16 {took['bf16'] / 60:.1f} min "
          f"(float32 / bf16 = {took['none'] / max(took['bf16'], 1e-9):.2f}x); study runs' wall times, in order: "
          f"{', '.join(f'{w / 60:.1f} min' for w in walls) or 'not recorded'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
