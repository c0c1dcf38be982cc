"""The tidy frame (one row per run and split) and its aggregation into table cells (mean, std, n over seeds)."""
from __future__ import annotations

import pandas as pd

from reports.records import SCORES, SPLITS, StudyData

TIDY_COLUMNS = ["study", "variant", "dataset", "seed", "preset", "split", "precision", "recall", "f1", "run_id",
                "config_hash", "step_time_s"]


def tidy_frame(data: StudyData) -> pd.DataFrame:
    """One row per counted run and split that has all three scores; P/R/F1 as logged, in [0, 1]."""
    rows = []
    for trial in data.trials:
        for split in SPLITS:
            keys = [f"{split}_{score}" for score in SCORES]
            if not all(key in trial.metrics for key in keys):
                continue  # dev scores are optional; test scores were checked when the runs were selected
            rows.append({"study": data.info.name, "variant": trial.variant, "dataset": trial.dataset,
                         "seed": trial.seed, "preset": trial.preset, "split": split,
                         **{score: trial.metrics[key] for score, key in zip(SCORES, keys)},
                         "run_id": trial.run_id, "config_hash": trial.config_hash,
                         "step_time_s": trial.metrics.get("step_time_s")})
    frame = pd.DataFrame(rows, columns=TIDY_COLUMNS)
    frame["seed"] = frame["seed"].astype("int64")
    frame["step_time_s"] = frame["step_time_s"].astype("float64")
    return frame.sort_values(["variant", "dataset", "seed", "split"], kind="stable").reset_index(drop=True)


def tidy_csv(tidy: pd.DataFrame) -> str:
    """tidy.csv: the frame with P/R/F1 x100, in points, as every score a person reads (reports.contract)."""
    return tidy.assign(**{s: 100 * tidy[s] for s in SCORES}).to_csv(index=False, lineterminator="\n",
                                                                     float_format="%.6g")


def aggregate(tidy: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Per (variant, dataset): mean and sample std (ddof=1) of P/R/F1 and step time, and n seeds.

    std is NaN for n=1: one seed says nothing about spread, and the tables then show the mean alone.
    """
    part = tidy[tidy["split"] == split]
    measures = [*SCORES, "step_time_s"]
    grouped = part.groupby(["variant", "dataset"], sort=True)[measures]
    mean = grouped.mean().add_suffix("_mean")
    std = grouped.std(ddof=1).add_suffix("_std")
    n = part.groupby(["variant", "dataset"], sort=True)["seed"].nunique().rename("n")
    return pd.concat([mean, std, n], axis=1).reset_index()


def cell_stats(agg: pd.DataFrame, variant: str, dataset: str) -> dict | None:
    """The aggregated row of one cell as a dict, or None when the cell has no counted run."""
    match = agg[(agg["variant"] == variant) & (agg["dataset"] == dataset)]
    return None if match.empty else match.iloc[0].to_dict()
