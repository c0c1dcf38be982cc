"""MLflow's own runs table as the paper's table, written where the tables are built (reports/build.py).

- A run per table row and dataset (a cell of the table), between the study's parent run and its trial runs: tags
  `shapca.role=row`, `variant`, `dataset`, `seeds`, `verdict`; metrics `F1`, `F1_std`, `P`, `R` (test scores,
  x100, the mean and sample std over seeds as the table prints them), `n` (seeds), `dF1` (the paired difference to
  the reference row), `dF1_low`, `dF1_high` (its 1 - a interval) and `row` (its place in the table); a description
  in words. The trial runs of the cell are moved under it (their `mlflow.parentRunId`), so the runs table nests
  study > row > seed, and named seed first ("s1 · M=16 · t17"): nested, the name column shows a name's start.
  Made once, found again by its tags and updated by every later build: a rebuild makes no second run. A row and
  dataset per run, not a row with a column per dataset: the seed runs of a cell nest under exactly one run, and
  every run carries the same metric names, so MLflow's columns line up.
- A saved view of the experiment (MLflow 3's "Views", an experiment tag `mlflow.sharedViewState.<key>`) that shows
  those runs alone, in table order, with those columns; a search's view shows its trials ranked by dev F1 with the
  searched parameters. reports/links.py `runs_url(..., view=view_key(study, preset))` opens it.
"""
from __future__ import annotations

import base64
import json
import time
import zlib

import pandas as pd
from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient

from reports.comparisons import verdict_against
from reports.contract import (DATASET_TAG, NOTE_TAG, OPTUNA_TRIAL_TAG, POINTS, PRESET_TAG, ROLE_TAG, ROW_ROLE,
                              SCALE_TAG, SEEDS_TAG, STOPPED_EARLY_TAG, STUDY_TAG, TRIAL_ROLE, VARIANT_TAG)
from reports.hpo import hpo_keys
from reports.names import DATASET_ABBREV, dataset_name, short_label
from reports.records import StudyData
from reports.rows import reference_variant, runs_of, sweep_rows, variant_order
from reports.table_model import DECIMALS
from reports.tidy import cell_stats

PARENT_TAG, RUN_NAME_TAG = "mlflow.parentRunId", "mlflow.runName"  # MLflow's nesting, a run's name
VERDICT_TAG = "verdict"
VIEW_PREFIX = "mlflow.sharedViewState."  # an experiment tag per saved view, as MLflow's UI writes them
ROW_COLUMNS = ["tags.`dataset`", "metrics.`F1`", "metrics.`F1_std`", "metrics.`n`", "metrics.`dF1`",
               "metrics.`dF1_low`", "metrics.`dF1_high`", "tags.`verdict`", "metrics.`P`", "metrics.`R`"]


def view_key(study: str, preset: str) -> str:
    """The key of the study's saved view (one per study and preset: studies of earlier versions share an
    experiment)."""
    return f"shapca-{study}-{preset}"


def row_run_name(variant: str, dataset: str) -> str:
    """Short enough for the runs table's name column: "M=16 · t17", "closed form · t17"."""
    return f"{short_label(variant)} · {DATASET_ABBREV.get(dataset, dataset)}"


def seed_run_name(trial) -> str:
    """A trial's run under its row: the seed first, since the nested name column shows only its start ("s2 · w/o
    adaptiv..." under "w/o adaptive fusion · t17"); the rest keeps the name whole where runs are listed flat."""
    return f"s{trial.seed} · {row_run_name(trial.variant, trial.dataset)}"


def log_table_runs(client: MlflowClient, data: StudyData, agg: pd.DataFrame) -> str:
    """The row runs (grid studies) and the study's saved view; returns the view's key."""
    if not data.info.is_hpo:
        _row_runs(client, data, agg)
    _save_view(client, data)
    return view_key(data.info.name, data.info.preset)


def _row_runs(client: MlflowClient, data: StudyData, agg: pd.DataFrame) -> None:
    info, reference = data.info, reference_variant(data)
    found = client.search_runs([info.experiment_id], f"tags.`{ROLE_TAG}` = '{ROW_ROLE}' and tags.{STUDY_TAG} = "
                               f"'{info.name}' and tags.{PRESET_TAG} = '{info.preset}'", max_results=5000)
    existing = {(r.data.tags.get(VARIANT_TAG), r.data.tags.get(DATASET_TAG)): r.info.run_id for r in found}
    place = 0
    for variant in table_order(data):
        for dataset in info.datasets:
            stats = cell_stats(agg, variant, dataset)
            if stats is None:
                continue
            place += 1
            verdict, why = (None, "") if variant == reference or reference is None else \
                verdict_against(data, variant, reference, dataset)
            seeds = sorted(runs_of(data, variant, dataset))
            run_id = existing.get((variant, dataset)) or client.create_run(
                info.experiment_id, run_name=row_run_name(variant, dataset),
                tags={PARENT_TAG: info.parent_run_id, ROLE_TAG: ROW_ROLE, STUDY_TAG: info.name,
                      PRESET_TAG: info.preset, VARIANT_TAG: variant, DATASET_TAG: dataset}).info.run_id
            metrics = _row_metrics(stats, verdict, place)
            tags = {SEEDS_TAG: ",".join(map(str, seeds)), SCALE_TAG: POINTS, PARENT_TAG: info.parent_run_id,
                    VERDICT_TAG: "reference" if variant == reference else
                    (f"{verdict.mark} {verdict.kind}" if verdict else "–"),
                    NOTE_TAG: _note(variant, dataset, stats, seeds, reference, verdict, why)}
            now = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                             tags=[RunTag(k, v) for k, v in tags.items()])
            client.set_terminated(run_id, "FINISHED")
            for trial in data.trials + data.failed:  # the cell's seed runs, under their row, seed first
                if trial.cell == (variant, dataset):
                    client.log_batch(trial.run_id, tags=[RunTag(PARENT_TAG, run_id),
                                                         RunTag(RUN_NAME_TAG, seed_run_name(trial))])


def table_order(data: StudyData) -> list[str]:
    """The rows in the order the study's (first) table prints them."""
    if data.info.kind == "sweep" and data.info.params:
        return [row.variant for row in sweep_rows(data, data.info.params[0])]
    return variant_order(data)


def _row_metrics(stats: dict, verdict, place: int) -> dict[str, float]:
    """As the table prints them: x100 with its decimals (MLflow's columns show every digit they are given)."""
    metrics = {"F1": 100 * stats["f1_mean"], "P": 100 * stats["precision_mean"], "R": 100 * stats["recall_mean"]}
    if stats["f1_std"] == stats["f1_std"]:  # NaN with one seed: no spread, no column value
        metrics["F1_std"] = 100 * stats["f1_std"]
    if verdict is not None:
        metrics["dF1"] = verdict.comparison.mean
        if verdict.interval:
            metrics["dF1_low"], metrics["dF1_high"] = verdict.interval
    return {**{k: round(v, DECIMALS) for k, v in metrics.items()}, "n": float(stats["n"]), "row": float(place)}


def _note(variant: str, dataset: str, stats: dict, seeds: list, reference, verdict, why: str) -> str:
    spread = f" ± {100 * stats['f1_std']:.1f}" if stats["f1_std"] == stats["f1_std"] else ""
    text = (f"Row **{variant}** on {dataset_name(dataset)}: test F1 ×100 {100 * stats['f1_mean']:.1f}{spread} "
            f"(mean ± sample std) over {len(seeds)} seed(s): {', '.join(map(str, seeds))}. ")
    if variant == reference:
        return text + "The reference row: the others are compared with it."
    if verdict is None:
        return text + (f"No verdict against {reference}: {why}" if reference else "")
    interval = (f", {100 * (1 - verdict.alpha):.3g}% interval [{verdict.interval[0]:+.1f}, {verdict.interval[1]:+.1f}]"
                if verdict.interval else "")
    return (text + f"Against {reference}: {verdict.mark} {verdict.kind} (ΔF1 {verdict.comparison.mean:+.1f}"
            f"{interval}; {verdict.reason}; margin ±{verdict.margin:g}). The trial runs of its seeds are below it.")


def _save_view(client: MlflowClient, data: StudyData) -> None:
    """The experiment's saved view of this study and preset: its rows (a search: its trials, best dev F1 first)."""
    info = data.info
    key = VIEW_PREFIX + view_key(info.name, info.preset)
    where = f"tags.{STUDY_TAG} = '{info.name}' AND tags.{PRESET_TAG} = '{info.preset}'"
    if info.is_hpo:
        state = {"searchFilter": f"tags.`{ROLE_TAG}` = '{TRIAL_ROLE}' AND {where}", "orderByKey": "metrics.`dev_f1`",
                 "orderByAsc": False, "selectedColumns": ["tags.`dataset`", "metrics.`dev_f1`", "metrics.`test_f1`",
                                                          *(f"params.`{k}`" for k in hpo_keys(data)),
                                                          f"tags.`{OPTUNA_TRIAL_TAG}`", f"tags.`{STOPPED_EARLY_TAG}`"]}
    else:
        state = {"searchFilter": f"tags.`{ROLE_TAG}` = '{ROW_ROLE}' AND {where}", "orderByKey": "metrics.`row`",
                 "orderByAsc": True, "selectedColumns": ROW_COLUMNS}
    state |= {"startTime": "ALL", "lifecycleFilter": "Active", "datasetsFilter": [], "modelVersionFilter": "All Runs",
              "columnOrder": ["attributes.`Run Name`", *state["selectedColumns"]],
              "columnWidths": {"attributes.`Run Name`": 240, "tags.`verdict`": 150}, "runsHiddenMode": "SHOW_ALL",
              "viewMaximized": False,
              "runListHidden": False, "isAccordionReordered": False, "useGroupedValuesInCharts": True,
              "hideEmptyCharts": True, "groupBy": None, "groupsExpanded": {},
              "globalLineChartConfig": {"xAxisKey": "step", "lineSmoothness": 0, "selectedXAxisMetricKey": ""}}
    old = client.get_experiment(info.experiment_id).tags.get(key)
    now = int(time.time() * 1000)
    created = json.loads(old).get("createdAt", now) if old else now
    packed = "deflate;" + base64.b64encode(zlib.compress(json.dumps(state).encode())).decode()
    client.set_experiment_tag(info.experiment_id, key, json.dumps(
        {"name": f"table: {info.name} ({info.preset})", "createdAt": created, "updatedAt": now, "state": packed}))
