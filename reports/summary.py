"""The study's summary for its parent run: best dev F1 per dataset and the test F1 of that choice (x100, in points),
trial counts.

Selection is on dev, as DESIGN.md says: the summary's test F1 is that of the variant (grid studies: mean over its
seeds) or trial (searches) with the best dev F1, never the best test F1.
"""
from __future__ import annotations

import re

import pandas as pd

from reports.hpo import ranked
from reports.names import dataset_name
from reports.records import StudyData
from reports.rows import variant_order


def _metric_key(text: str) -> str:
    """MLflow metric and tag keys allow letters, digits, _ - . / and spaces; anything else becomes '_'."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", text)


def best_per_dataset(data: StudyData, tidy: pd.DataFrame) -> dict[str, dict]:
    """dataset -> {variant, run_id (searches only), dev_f1, test_f1} of the best-dev choice; datasets without dev
    scores are left out."""
    best = {}
    for dataset in data.info.datasets:
        if data.info.is_hpo:
            trials = [t for t in ranked(data, dataset) if "dev_f1" in t.metrics]
            if trials:
                top = trials[0]
                best[dataset] = {"variant": top.variant, "run_id": top.run_id, "dev_f1": top.metrics["dev_f1"],
                                 "test_f1": top.metrics["test_f1"]}
            continue
        part = tidy[tidy["dataset"] == dataset]
        means = part.pivot_table(index="variant", columns="split", values="f1", aggfunc="mean")
        if "dev" not in means or means["dev"].isna().all():
            continue
        order = [v for v in variant_order(data) if v in means.index]
        means = means.loc[order].dropna(subset=["dev"])  # ties go to the first in table order (the full model)
        variant = str(means["dev"].idxmax())
        best[dataset] = {"variant": variant, "run_id": "", "dev_f1": float(means.loc[variant, "dev"]),
                         "test_f1": float(means.loc[variant, "test"])}
    return best


def summary(data: StudyData, tidy: pd.DataFrame) -> tuple[dict[str, float], dict[str, str]]:
    """(metrics, tags) for the parent run."""
    metrics = {"trials_counted": float(len(data.trials)), "trials_failed": float(len(data.failed))}
    tags = {"summary.trials": f"{len(data.trials)} counted, {len(data.failed)} failed"}
    for dataset, best in best_per_dataset(data, tidy).items():
        key = _metric_key(dataset)
        metrics[f"best_dev_f1.{key}"] = 100 * best["dev_f1"]  # in points, as every score MLflow shows
        metrics[f"best_test_f1.{key}"] = 100 * best["test_f1"]
        tags[f"summary.best.{key}"] = best["variant"] + (f" (run {best['run_id']})" if best["run_id"] else "")
    return metrics, tags


def summary_lines(data: StudyData, tidy: pd.DataFrame) -> list[str]:
    """The summary as sentences for report.md and report.html."""
    lines = []
    for dataset, best in best_per_dataset(data, tidy).items():
        what = "trial" if data.info.is_hpo else "variant"
        run = f", run {best['run_id']}" if best["run_id"] else ""
        lines.append(f"{dataset_name(dataset)}: best dev F1 {100 * best['dev_f1']:.1f} ({what} {best['variant']}"
                     f"{run}); its test F1 {100 * best['test_f1']:.1f}.")
    return lines
