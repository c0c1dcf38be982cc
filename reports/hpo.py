"""Reports of a joint search (Optuna): the best configuration, every trial ranked by dev F1, parameter importance.

A joint search samples every parameter at once, so a one-parameter sweep table would compare trials that differ in
all of them. Trials are ranked by dev F1 (model selection on dev, as DESIGN.md says); test scores are shown for the
chosen trial, never used to choose it.

Importance is epsilon^2 (Kelley's bias-adjusted correlation ratio) of dev F1 on each parameter: the share of the
variance of dev F1 between the groups of that parameter's values (numbers in up to four equal-count bins of their
rank, since a search rarely repeats a real value), less what that many groups explain by chance (plain eta^2 is
about (groups - 1) / (trials - 1) for a parameter that does nothing). It is a marginal, one-parameter measure: no
extra package, no model fit, the same numbers for the same trials; unlike Optuna's fANOVA it ignores interactions.
optuna-dashboard, on the study's journal, shows fANOVA importances beside it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from reports.names import dataset_name, param_name, sort_key
from reports.records import StudyData, Trial
from reports.table_model import Column, NumberCell, Row, ScoreCell, Table, TextCell, mark_best
from reports.tables import study_notes, table_label

IMPORTANCE_BINS = 4
MIN_TRIALS_FOR_IMPORTANCE = 2 * IMPORTANCE_BINS  # two trials per group on average, else the value is mostly noise


def hpo_keys(data: StudyData) -> list[str]:
    """The searched parameters: the report's params, else the study's sweep keys (from its plan)."""
    return list(data.info.params or data.info.swept)


def value_of(trial: Trial, key: str) -> str | None:
    """The trial's value of a searched key: its logged param (every trial logs its whole resolved config)."""
    return trial.params.get(key)


def ranked(data: StudyData, dataset: str) -> list[Trial]:
    """A dataset's counted trials, best dev F1 first (trials without dev F1 last); ties: the earlier trial first."""
    trials = [t for t in data.trials if t.dataset == dataset]
    return sorted(trials, key=lambda t: (-t.metrics.get("dev_f1", -1.0), t.start_time, t.run_id))


def trial_numbers(data: StudyData) -> dict[str, int]:
    """Run id -> the trial's number in its Optuna study, as optuna-dashboard shows it (the run's optuna_trial tag).
    A run without the tag (logged before it existed) is numbered as Optuna numbers: from 0, in start order within
    its dataset and seed (one Optuna study each)."""
    numbers = {t.run_id: t.optuna_trial for t in data.trials if t.optuna_trial is not None}
    searches: dict[tuple, list[Trial]] = {}
    for trial in sorted(data.trials, key=lambda t: (t.start_time, t.run_id)):
        searches.setdefault((trial.dataset, trial.seed), []).append(trial)
    for trials in searches.values():
        numbers.update({t.run_id: index for index, t in enumerate(trials) if t.run_id not in numbers})
    return numbers


def rank_labels(data: StudyData) -> dict[str, str]:
    """Variant -> "#k" (its Optuna trial number), the short name figures use for a trial's long config label."""
    numbers = trial_numbers(data)
    return {t.variant: f"#{numbers[t.run_id]}" for t in data.trials}


def epochs_run(data: StudyData, trial: Trial) -> int | None:
    """Epochs a trial trained (ASHA stops weak ones early): its per-epoch dev F1 records."""
    steps = data.histories.get(trial.run_id, {}).get("epoch_dev_f1", [])
    return len(steps) or None


def _epochs_cell(data: StudyData, trial: Trial) -> TextCell:
    """Epochs trained, and whether the scheduler stopped it there ("1 of 3, stopped early")."""
    run = epochs_run(data, trial)
    if not trial.stopped_early:
        return TextCell("" if run is None else str(run))
    reached, _, planned = trial.stopped_early.removeprefix("epoch ").partition("/")
    return TextCell(f"{reached} of {planned}, stopped early")


def _single(trial: Trial, metric: str) -> ScoreCell:
    value = trial.metrics.get(metric)
    return ScoreCell(None if value is None else 100 * value, None, 1, 1)


def _shown(value: str | None) -> str:
    """Reals to 4 significant digits (as the runner's labels), integers and categories as they are."""
    if value is None or sort_key(value)[0] != 0 or value.lstrip("-").isdigit():
        return value or ""
    return format(float(value), ".4g")


def _param_cells(trial: Trial, keys: list[str]) -> list[TextCell]:
    return [TextCell(_shown(value_of(trial, key))) for key in keys]


def _seed_note(data: StudyData) -> str:
    return "one trial is one run (one seed); " if len(data.info.seeds) == 1 else "each trial is one run of one seed; "


def best_table(data: StudyData) -> Table:
    """Per dataset, the trial with the best dev F1: its parameters, dev F1, test P/R/F1 and run."""
    keys = hpo_keys(data)
    columns = [Column("", param_name(k)) for k in keys] + [Column("", "epochs"), Column("dev", "F1")]
    columns += [Column("test", name) for name in ("P", "R", "F1")] + [Column("", "run")]
    rows = []
    for dataset in data.info.datasets:
        trials = ranked(data, dataset)
        if not trials:
            continue
        best = trials[0]
        rows.append(Row(dataset_name(dataset), [
            *_param_cells(best, keys), _epochs_cell(data, best), _single(best, "dev_f1"),
            *(_single(best, f"test_{s}") for s in ("precision", "recall", "f1")), TextCell(best.run_id)]))
    caption = (f"Best configuration of the search per dataset (study {data.info.name}, preset {data.info.preset}): "
               f"the trial with the highest dev F1 ×100, and its test precision (P), recall (R) and F1 ×100; "
               f"{_seed_note(data)}epochs: those it trained, and whether the scheduler (ASHA) stopped it there.")
    return Table("hpo_best", "Best configuration", caption, _label(data, "best"), "Dataset", columns, rows,
                 study_notes(data))


def trials_table(data: StudyData) -> Table:
    """Every counted trial, per dataset, best dev F1 first."""
    keys = hpo_keys(data)
    several = len(data.info.datasets) > 1
    columns = ([Column("", "dataset")] if several else []) + [Column("", "seed")]
    columns += [Column("", param_name(k)) for k in keys]
    columns += [Column("", "epochs"), Column("dev", "F1"), Column("test", "F1"), Column("", "run")]
    rows, numbers = [], trial_numbers(data)
    for dataset in data.info.datasets:
        for trial in ranked(data, dataset):
            rows.append(Row(f"#{numbers[trial.run_id]}", [
                *([TextCell(dataset_name(dataset))] if several else []), TextCell(str(trial.seed)),
                *_param_cells(trial, keys), _epochs_cell(data, trial),
                _single(trial, "dev_f1"), _single(trial, "test_f1"), TextCell(trial.run_id)]))
    caption = (f"Trials of the search ranked by dev F1 ×100, per dataset (study {data.info.name}, preset "
               f"{data.info.preset}); {_seed_note(data)}test F1 ×100 is shown, not used to rank. #k is the trial's "
               "number in its Optuna study, as optuna-dashboard shows it, and names it in the figures; epochs: "
               "those it trained, and whether the scheduler (ASHA) stopped it there.")
    table = Table("hpo_trials", "Trials by dev F1", caption, _label(data, "trials"), "Trial", columns, rows)
    mark_best(table)
    return table


def epsilon_squared(values: list[str | None], scores: list[float]) -> float | None:
    """Share of the variance of `scores` between the groups of `values`, adjusted for chance and clipped at 0;
    None when undefined (too few trials, one group, or scores all equal)."""
    frame = pd.DataFrame({"value": values, "score": scores}).dropna()
    if len(frame) < MIN_TRIALS_FOR_IMPORTANCE or frame["score"].var(ddof=0) == 0:
        return None
    numeric = all(sort_key(v)[0] == 0 for v in frame["value"])
    if numeric and frame["value"].nunique() > IMPORTANCE_BINS:
        ranks = frame["value"].astype(float).rank(method="first")
        frame["group"] = pd.qcut(ranks, IMPORTANCE_BINS, labels=False)
    else:
        frame["group"] = frame["value"]
    groups = frame["group"].nunique()
    if groups < 2 or len(frame) - groups < 2:
        return None
    mean = frame["score"].mean()
    between = sum(len(g) * (g.mean() - mean) ** 2 for _, g in frame.groupby("group")["score"])
    total = float(((frame["score"] - mean) ** 2).sum())
    within_mean_square = (total - between) / (len(frame) - groups)
    return max(0.0, float((between - (groups - 1) * within_mean_square) / total))


def importance_table(data: StudyData) -> Table:
    """epsilon^2 of dev F1 per searched parameter (rows) and dataset (columns)."""
    keys = hpo_keys(data)
    columns = [column for d in data.info.datasets
               for column in (Column(dataset_name(d), "ε²", ranked=True), Column(dataset_name(d), "trials"))]
    cells: dict[str, list] = {k: [] for k in keys}
    notes = []
    for dataset in data.info.datasets:
        trials = [t for t in ranked(data, dataset) if "dev_f1" in t.metrics]
        scores = [t.metrics["dev_f1"] for t in trials]
        for key in keys:
            cells[key] += [NumberCell(epsilon_squared([value_of(t, key) for t in trials], scores), decimals=2),
                           NumberCell(float(len(trials)), decimals=0)]
        if len(trials) < MIN_TRIALS_FOR_IMPORTANCE:
            notes.append(f"{dataset_name(dataset)}: {len(trials)} trial(s) with dev F1; importance needs at least "
                         f"{MIN_TRIALS_FOR_IMPORTANCE}.")
        elif np.var(scores) == 0:
            notes.append(f"{dataset_name(dataset)}: every trial has the same dev F1; no importance to compute.")
    rows = [Row(param_name(k), cells[k]) for k in keys]
    caption = ("Parameter importance: ε² (bias-adjusted η²), the share of the variance of dev F1 between the groups "
               f"of each parameter's values (numbers in {IMPORTANCE_BINS} equal-count bins of their rank) beyond what "
               "as many groups explain by chance; 0 when no more. A marginal measure that ignores interactions, so "
               "the values need not sum to 1. Highest per dataset in bold, second underlined. Study "
               f"{data.info.name}, preset {data.info.preset}.")
    table = Table("hpo_importance", "Parameter importance", caption, _label(data, "importance"), "Parameter",
                  columns, rows, notes)
    mark_best(table)
    return table


def _label(data: StudyData, name: str) -> str:
    return table_label(data, f"hpo-{name}")


def hpo_tables(data: StudyData) -> list[Table]:
    return [best_table(data), trials_table(data), importance_table(data)]
