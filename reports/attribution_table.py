"""The component attribution table: exact Shapley values of each component to test F1, per dataset, with
bootstrap intervals; datasets where coalitions are missing say which and get no values."""
from __future__ import annotations

import pandas as pd

from reports.attribution import (BOOTSTRAP_ROUNDS, BOOTSTRAP_SEED, all_coalitions, bootstrap_intervals,
                                 coalition_name, missing_coalitions, shapley_values)
from reports.names import dataset_name
from reports.records import ReportError, StudyData
from reports.rows import runs_of
from reports.table_model import Column, IntervalCell, NumberCell, Row, Table
from reports.tables import seeds_text, study_notes, table_label
from reports.tidy import cell_stats

_LIST_LIMIT = 8  # beyond this many missing coalitions, name the ones that were run instead


def _coalition_cells(data: StudyData, dataset: str) -> tuple[dict[frozenset[str], str], list[str]]:
    """coalition -> variant for one dataset, with notes on coalitions run by more than one variant."""
    cells: dict[frozenset[str], set[str]] = {}
    for trial in data.trials:
        if trial.dataset == dataset and trial.components is not None:
            coalition = frozenset(k for k, on in trial.components.items() if on)
            cells.setdefault(coalition, set()).add(trial.variant)
    ambiguous = [f"{dataset_name(dataset)}: coalition {coalition_name(c)} is run by several variants "
                 f"({', '.join(sorted(v))}); no attribution." for c, v in cells.items() if len(v) > 1]
    return {c: next(iter(v)) for c, v in cells.items() if len(v) == 1}, ambiguous


def _coalition_counts(data: StudyData, cells: dict[frozenset[str], str], dataset: str):
    """coalition -> aligned per-seed counts, or None when a run lacks predictions or covers other examples."""
    reference_ids, result = None, {}
    for coalition, variant in cells.items():
        arrays = []
        for trial in runs_of(data, variant, dataset).values():
            predictions = data.predictions.get(trial.run_id)
            if predictions is None:
                return None
            reference_ids = reference_ids or predictions.ids
            try:
                arrays.append(predictions.aligned_to(reference_ids))
            except ValueError:
                return None
        result[coalition] = arrays
    return result


def _missing_note(datasets: list[str], players: list[str], missing: list[frozenset[str]]) -> str:
    total = 2 ** len(players)
    where = ", ".join(dataset_name(d) for d in datasets)
    if len(missing) <= _LIST_LIMIT:
        listing = f"missing coalitions {', '.join(map(coalition_name, missing))} ({len(missing)} of {total})"
    else:
        run = [c for c in all_coalitions(players) if c not in missing]
        listing = (f"{len(missing)} of {total} coalitions missing; only {', '.join(map(coalition_name, run))} "
                   "were run (a factorial study runs them all)")
    return f"{where}: {listing}; no attribution."


def fillable(data: StudyData) -> bool:
    """Whether some dataset has a run of every coalition of the components (one set of them over every run)."""
    player_sets = {frozenset(t.components) for t in data.trials if t.components is not None}
    if len(player_sets) != 1:
        return False
    players = sorted(player_sets.pop())
    return any(not missing_coalitions(players, _coalition_cells(data, d)[0]) for d in data.info.datasets)


def omitted_note(data: StudyData) -> str:
    """What an ablation's report says in place of an attribution table it cannot fill."""
    players = sorted({k for t in data.trials if t.components for k in t.components})
    ran = {frozenset(k for k, on in t.components.items() if on) for t in data.trials if t.components}
    return (f"No Shapley attribution of F1 to the components ({', '.join(players)}): it needs a run of each of "
            f"their {2 ** len(players)} combinations, and this study ran {len(ran)}. A study of report kind "
            "factorial runs every combination (the shipped `factorial` study does, for context, Shapley alignment "
            "and fusion).")


def attribution_table(data: StudyData, agg: pd.DataFrame) -> Table:
    player_sets = {frozenset(t.components) for t in data.trials if t.components is not None}
    if len(player_sets) != 1:
        found = "none" if not player_sets else "; ".join(sorted(coalition_name(p) for p in player_sets))
        raise ReportError(f"study {data.info.name!r}: component attribution needs every run to carry a "
                          f"'components' tag over the same components; found component sets: {found}")
    players = sorted(player_sets.pop())
    notes: list[str] = []
    missing_by_set: dict[tuple, list[str]] = {}
    phis: dict[str, dict[str, float]] = {}
    intervals: dict[str, dict[str, tuple[float, float]]] = {}
    for dataset in data.info.datasets:
        cells, ambiguous = _coalition_cells(data, dataset)
        notes += ambiguous
        if ambiguous:
            continue
        missing = missing_coalitions(players, cells)
        if missing:
            missing_by_set.setdefault(tuple(missing), []).append(dataset)
            continue
        values = {c: 100 * cell_stats(agg, v, dataset)["f1_mean"] for c, v in cells.items()}
        phis[dataset] = shapley_values(players, values)
        counts = _coalition_counts(data, cells, dataset)
        if counts is None:
            notes.append(f"{dataset_name(dataset)}: some coalition runs lack comparable predictions/test.jsonl; "
                         "no bootstrap interval.")
        else:
            intervals[dataset] = bootstrap_intervals(players, counts)
    notes += [_missing_note(datasets, players, list(missing)) for missing, datasets in missing_by_set.items()]

    columns = []
    for dataset in data.info.datasets:
        columns += [Column(dataset_name(dataset), "φ F1"), Column(dataset_name(dataset), "95% CI")]
    rows = []
    for player in players:
        cells_ = []
        for dataset in data.info.datasets:
            phi = phis.get(dataset)
            low, high = intervals.get(dataset, {}).get(player, (None, None))
            cells_ += [NumberCell(None if phi is None else phi[player], signed=True), IntervalCell(low, high)]
        rows.append(Row(player, cells_))
    totals = []
    for dataset in data.info.datasets:
        phi = phis.get(dataset)
        totals += [NumberCell(None if phi is None else sum(phi.values()), signed=True), IntervalCell(None, None)]
    rows.append(Row("sum = F1(all) − F1(∅)", totals, rule_before=True))

    caption = (f"Exact Shapley attribution of test F1 (×100) to the components {', '.join(players)} (study "
               f"{data.info.name}, preset {data.info.preset}): the value of a coalition is the mean test F1 over "
               f"{seeds_text(data)} of the runs with exactly those components on; φ averages each component's "
               "marginal gain over all orders of switching components on, and the φ add up to F1(all) − F1(∅). "
               f"95% CI: percentile interval of a paired bootstrap over test examples ({BOOTSTRAP_ROUNDS:,} "
               f"resamples, seed {BOOTSTRAP_SEED}).")
    return Table("attribution", "Component attribution (Shapley)", caption, table_label(data, "attribution"),
                 "Component", columns, rows, study_notes(data) + notes)
