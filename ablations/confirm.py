"""A search's best configuration, confirmed: a grid study of it against the defaults, over several seeds.

    python ablations/confirm.py --study hpo --preset compare [--seeds 1 2 3] [--tracking-uri URI]
    python ablations/run.py --study hpo_confirm --preset compare     # then run the confirmation like any study

A search ranks its trials by one seed's dev F1 (and ASHA by early epochs), so its best trial is partly the luck of
that seed. This writes `search_spaces/<study>_confirm.yaml`: the searched study's setting (its datasets, base and
dataset overrides), one row `defaults` (nothing searched is set: the config's defaults) and, per dataset, one row
with the best trial's searched values, on the seeds given; its tables then give the best configuration's verdict
against the defaults (docs/statistics.md). The file's first lines say how it was made. Nothing is typed by hand.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from ablations.schema import KEY_TYPES, STUDY_DIR, StudyError
from ablations.study_file import load_study
from reports.records import ReportError

REFERENCE = "defaults"


def typed(key: str, text: str):
    """A logged param (text) as the config's type of `key`, so the study file holds 3e-05, not '3e-05'."""
    kind = KEY_TYPES[key]
    if kind is bool:
        return text.lower() in ("true", "1")
    return kind(text)


def confirmation(study_name: str, preset: str, seeds: list[int], client) -> tuple[str, dict]:
    """(the confirmation study's name, its study file as a mapping) from the searched study's records."""
    from reports.hpo import hpo_keys, ranked
    from reports.mlflow_source import load_study as load_records

    study = load_study(study_name)
    if study.search["algorithm"] != "optuna":
        raise StudyError(f"{study.path}: study '{study.name}' is a grid; only a search has a best trial to confirm")
    data = load_records(client, study.name, preset)
    keys, variants = hpo_keys(data), [{"name": REFERENCE, "overrides": {},
                                       "description": "the config's defaults for every searched key"}]
    for dataset in data.info.datasets:
        best = next(iter(ranked(data, dataset)), None)
        if best is None:
            raise ReportError(f"study {study.name} ({preset}): no finished trial on {dataset} to confirm")
        label = f"best of {study.name} on {dataset}" if len(data.info.datasets) > 1 else f"best of {study.name}"
        variants.append({"name": label, "datasets": [dataset],
                         "description": f"the searched values of trial run {best.run_id} (dev F1 "
                                        f"{100 * best.metrics.get('dev_f1', float('nan')):.2f}, seed {best.seed})",
                         "overrides": {k: typed(k, best.params[k]) for k in keys if k in best.params}})
    name = f"{study.name}_confirm"
    spec = {"name": name, "description": f"the best configuration of {study.name} ({preset}) against the defaults",
            "datasets": list(data.info.datasets), "seeds": list(seeds), "base": dict(study.base),
            "dataset_overrides": {d: o for d, o in study.dataset_overrides.items() if d in data.info.datasets},
            "variants": variants, "search": {"algorithm": "grid"}, "metric": study.metric, "mode": study.mode,
            "resources": dict(study.resources), "report": {"kind": "main", "reference": REFERENCE}}
    return name, spec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", required=True, help="the searched study (an optuna study)")
    ap.add_argument("--preset", required=True, help="the preset whose search to confirm")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: MLflow's)")
    ap.add_argument("--out", type=Path, default=None, help="default: search_spaces/<study>_confirm.yaml")
    args = ap.parse_args(argv)
    import mlflow
    from mlflow.tracking import MlflowClient

    try:
        name, spec = confirmation(args.study, args.preset, args.seeds,
                                  MlflowClient(args.tracking_uri or mlflow.get_tracking_uri()))
    except (StudyError, ReportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = args.out or STUDY_DIR / f"{name}.yaml"
    header = (f"# Written by `python ablations/confirm.py --study {args.study} --preset {args.preset} --seeds "
              f"{' '.join(map(str, args.seeds))}` from the search's runs: its best trial against the defaults.\n")
    out.write_text(header + yaml.safe_dump(spec, sort_keys=False, width=110))
    load_study(out)  # the file it wrote is a study the runner accepts
    print(f"wrote {out}; run it with: python ablations/run.py --study {name} --preset {args.preset}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
