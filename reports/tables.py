"""Build the paper's tables from a study: main results, ablation, one per swept parameter, component attribution."""
from __future__ import annotations

import math

import pandas as pd

from reports import significance
from reports.attribution import BOOTSTRAP_ROUNDS, BOOTSTRAP_SEED, bootstrap_intervals, coalition_name, missing_coalitions, shapley_values
from reports.names import COST_PARAMS, dataset_name, file_stem, param_name, sort_key
from reports.records import ReportError, StudyData, Trial
from reports.selection import failed_notes, images_note
from reports.table_model import Column, IntervalCell, NumberCell, Row, ScoreCell, Table, mark_best
from reports.tidy import cell_stats

REFERENCE = "full"
SCORE_HEADERS = (("precision", "P"), ("recall", "R"), ("f1", "F1"))


def _seeds_text(data: StudyData) -> str:
    seeds = data.info.seeds
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))})"


def _spread_text(data: StudyData) -> str:
    n = len(data.info.seeds)
    if n == 1:
        return f"Each cell is a single run (seed {data.info.seeds[0]}): no spread over seeds is available."
    return (f"Each cell is the mean ± sample standard deviation over {_seeds_text(data)}; a cell with fewer seeds "
            f"says n=k/{n}, and a single seed shows its value alone.")


def score_caption(data: StudyData, subject: str) -> str:
    datasets = ", ".join(dataset_name(d) for d in data.info.datasets)
    return (f"{subject}: test precision (P), recall (R) and F1 ×100 on {datasets} (study {data.info.name}, preset "
            f"{data.info.preset}). {_spread_text(data)} Best per column in bold, second underlined.")


def study_notes(data: StudyData) -> list[str]:
    """Notes every table of the study carries: selection decisions, failed trials, runs without images."""
    image = images_note(data.trials)
    return [*data.notes, *failed_notes(data.failed), *([image] if image else [])]


def variant_order(data: StudyData) -> list[str]:
    """Study-file order for named variants (reference first), then the rest alphabetically."""
    present = sorted({t.variant for t in data.trials})
    ordered = [v for v in data.info.variant_order if v in present]
    ordered += [v for v in present if v not in ordered]
    reference = reference_variant(data)
    return ([reference] if reference else []) + [v for v in ordered if v != reference]


def reference_variant(data: StudyData) -> str | None:
    """The full model: the variant named 'full', else the only one with every component switched on."""
    variants = {t.variant for t in data.trials}
    if REFERENCE in variants:
        return REFERENCE
    complete = {t.variant for t in data.trials if t.components and all(t.components.values())}
    return complete.pop() if len(complete) == 1 else None


def _score_cell(stats: dict | None, score: str, n_expected: int) -> ScoreCell:
    if stats is None:
        return ScoreCell(None, None, 0, n_expected)
    std = stats[f"{score}_std"]
    return ScoreCell(100 * stats[f"{score}_mean"], None if math.isnan(std) else 100 * std, int(stats["n"]),
                     n_expected)


def _runs(data: StudyData, variant: str, dataset: str) -> dict[int, Trial]:
    return {t.seed: t for t in data.trials if t.variant == variant and t.dataset == dataset}


def significance_against(data: StudyData, variant: str, reference: str, dataset: str) -> tuple[float | None, str]:
    """p-value of the F1 difference to the reference over shared seeds, or None and the reason why not."""
    ours, theirs = _runs(data, variant, dataset), _runs(data, reference, dataset)
    seeds = sorted(set(ours) & set(theirs))
    if not seeds:
        return None, f"{variant} / {dataset}: no seed shared with {reference}; no significance test."
    missing = [t.run_id for s in seeds for t in (ours[s], theirs[s]) if data.predictions.get(t.run_id) is None]
    if missing:
        return None, (f"{variant} / {dataset}: no predictions/test.jsonl in run(s) {', '.join(missing)}; "
                      "no significance test.")
    a, b = [], []
    for seed in seeds:
        ref = data.predictions[theirs[seed].run_id]
        try:
            a.append(data.predictions[ours[seed].run_id].aligned_to(ref.ids))
        except ValueError:
            return None, f"{variant} / {dataset} seed {seed}: predictions cover other test examples than {reference}."
        b.append(ref.counts)
    _, p_value = significance.paired_randomization_test(a, b)
    return p_value, ""


def _score_columns(data: StudyData, extra: list[tuple[str, bool]]) -> list[Column]:
    columns = []
    for dataset in data.info.datasets:
        columns += [Column(dataset_name(dataset), header, ranked=True) for _, header in SCORE_HEADERS]
        columns += [Column(dataset_name(dataset), name, ranked=ranked) for name, ranked in extra]
    return columns


def _score_rows(data: StudyData, agg: pd.DataFrame, variants: list[str], labels: list[str], delta: bool,
                cost: bool) -> tuple[list[Row], list[str], bool]:
    """Rows of P/R/F1 cells per dataset (+ delta F1, + step cost); also the notes and whether any test ran."""
    n_expected = len(data.info.seeds)
    reference = reference_variant(data)
    rows, notes, tested = [], [], False
    for variant, label in zip(variants, labels):
        cells = []
        for dataset in data.info.datasets:
            stats = cell_stats(agg, variant, dataset)
            scores = [_score_cell(stats, score, n_expected) for score, _ in SCORE_HEADERS]
            if reference and variant != reference and stats is not None:
                p_value, note = significance_against(data, variant, reference, dataset)
                scores[2].p_value, scores[2].marker = p_value, significance.marker(p_value)
                tested |= p_value is not None
                notes += [note] if note else []
            cells += scores
            if delta:
                ref = cell_stats(agg, reference, dataset)
                value = None if stats is None or ref is None else 100 * (stats["f1_mean"] - ref["f1_mean"])
                cells.append(NumberCell(None if variant == reference else value, signed=True))
            if cost:
                step = None if stats is None or math.isnan(stats["step_time_s_mean"]) else stats["step_time_s_mean"]
                cells.append(NumberCell(None if step is None else 1000 * step))
        rows.append(Row(label, cells))
    return rows, notes, tested


def _significance_caption(reference: str | None, tested: bool) -> str:
    if not (reference and tested):
        return ""
    return (f" †/‡: F1 differs from {reference} at p < 0.05 / p < 0.01 ({significance.DESCRIPTION}; p-values in "
            "the CSV).")


def _label(data: StudyData, name: str) -> str:
    return f"tab:{file_stem(data.info.name)}-{file_stem(name)}".replace("_", "-")


def main_table(data: StudyData, agg: pd.DataFrame) -> Table:
    variants = variant_order(data)
    rows, notes, tested = _score_rows(data, agg, variants, variants, delta=False, cost=False)
    caption = score_caption(data, "Main results") + _significance_caption(reference_variant(data), tested)
    table = Table("main", "Main results", caption, _label(data, "main"), "Method", _score_columns(data, []),
                  rows, study_notes(data) + notes)
    mark_best(table)
    return table


def ablation_table(data: StudyData, agg: pd.DataFrame) -> Table:
    reference = reference_variant(data)
    if reference is None:
        raise ReportError(f"study {data.info.name!r}: an ablation table needs the full model, a variant named "
                          f"{REFERENCE!r} or the only one whose components are all 1")
    variants = variant_order(data)
    rows, notes, tested = _score_rows(data, agg, variants, variants, delta=True, cost=False)
    caption = (score_caption(data, "Ablation") + f" ΔF1: mean F1 minus that of {reference}, in points."
               + _significance_caption(reference, tested))
    table = Table("ablation", "Ablation", caption, _label(data, "ablation"), "Variant",
                  _score_columns(data, [("ΔF1", False)]), rows, study_notes(data) + notes)
    mark_best(table)
    return table


def sweep_table(data: StudyData, agg: pd.DataFrame, key: str) -> Table:
    variants = sorted({t.variant for t in data.trials}, key=lambda v: (sort_key(data.param_value(v, key)), v))
    values = [data.param_value(v, key) for v in variants]
    distinct = None not in values and len(set(values)) == len(values)
    labels = values if distinct else variants
    cost = key in COST_PARAMS
    rows, notes, tested = _score_rows(data, agg, variants, labels, delta=False, cost=cost)
    name = param_name(key)
    caption = score_caption(data, f"Sweep of {name} ({key})") + _significance_caption(reference_variant(data), tested)
    if cost:
        caption += " step (ms): mean training time per optimisation step over the seeds."
    table = Table(f"sweep_{file_stem(key)}", f"Sweep: {name}", caption, _label(data, f"sweep-{key}"),
                  name if distinct else "Variant", _score_columns(data, [("step (ms)", False)] if cost else []),
                  rows, study_notes(data) + notes)
    mark_best(table)
    return table


def _coalition_cells(data: StudyData, dataset: str) -> tuple[dict[frozenset[str], str], list[str]]:
    """coalition -> variant for one dataset, with notes on ambiguity."""
    cells: dict[frozenset[str], set[str]] = {}
    for trial in data.trials:
        if trial.dataset == dataset and trial.components is not None:
            coalition = frozenset(k for k, on in trial.components.items() if on)
            cells.setdefault(coalition, set()).add(trial.variant)
    ambiguous = [f"{dataset_name(dataset)}: coalition {coalition_name(c)} is run by several variants "
                 f"({', '.join(sorted(v))}); no attribution." for c, v in cells.items() if len(v) > 1]
    return {c: next(iter(v)) for c, v in cells.items() if len(v) == 1}, ambiguous


def _coalition_counts(data: StudyData, cells: dict[frozenset[str], str], dataset: str):
    """coalition -> aligned per-seed counts, or None when a run lacks predictions or examples differ."""
    reference_ids, result = None, {}
    for coalition, variant in cells.items():
        arrays = []
        for trial in _runs(data, variant, dataset).values():
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


def attribution_table(data: StudyData, agg: pd.DataFrame) -> Table:
    player_sets = {frozenset(t.components) for t in data.trials if t.components is not None}
    if len(player_sets) != 1:
        found = "none" if not player_sets else "; ".join(sorted(coalition_name(p) for p in player_sets))
        raise ReportError(f"study {data.info.name!r}: component attribution needs every run to carry a "
                          f"'components' tag over the same components; found component sets: {found}")
    players = sorted(player_sets.pop())
    columns, notes = [], []
    for dataset in data.info.datasets:
        columns += [Column(dataset_name(dataset), "φ F1"), Column(dataset_name(dataset), "95% CI")]
    phis: dict[str, dict[str, float]] = {}
    intervals: dict[str, dict[str, tuple[float, float]]] = {}
    for dataset in data.info.datasets:
        cells, ambiguous = _coalition_cells(data, dataset)
        notes += ambiguous
        if ambiguous:
            continue
        missing = missing_coalitions(players, cells)
        if missing:
            notes.append(f"{dataset_name(dataset)}: missing coalitions {', '.join(map(coalition_name, missing))} "
                         f"({len(missing)} of {2 ** len(players)}); no attribution.")
            continue
        values = {c: 100 * cell_stats(agg, v, dataset)["f1_mean"] for c, v in cells.items()}
        phis[dataset] = shapley_values(players, values)
        counts = _coalition_counts(data, cells, dataset)
        if counts is None:
            notes.append(f"{dataset_name(dataset)}: some coalition runs lack comparable predictions/test.jsonl; "
                         "no bootstrap interval.")
        else:
            intervals[dataset] = bootstrap_intervals(players, counts)
    rows = []
    for player in [*players, None]:
        cells_ = []
        for dataset in data.info.datasets:
            phi = phis.get(dataset)
            if player is None:
                total = None if phi is None else sum(phi.values())
                cells_ += [NumberCell(total, signed=True), IntervalCell(None, None)]
                continue
            low, high = intervals.get(dataset, {}).get(player, (None, None))
            cells_ += [NumberCell(None if phi is None else phi[player], signed=True), IntervalCell(low, high)]
        rows.append(Row(player if player else "sum = F1(all) − F1(∅)", cells_))
    caption = (f"Exact Shapley attribution of test F1 (×100) to the components {', '.join(players)} (study "
               f"{data.info.name}, preset {data.info.preset}): the value of a coalition is the mean test F1 over "
               f"{_seeds_text(data)} of the runs with exactly those components on; φ averages each component's "
               "marginal gain over all orders of switching components on, and the φ add up to F1(all) − F1(∅). "
               f"95% CI: percentile interval of a paired bootstrap over test examples ({BOOTSTRAP_ROUNDS:,} "
               f"resamples, seed {BOOTSTRAP_SEED}).")
    return Table("attribution", "Component attribution (Shapley)", caption, _label(data, "attribution"),
                 "Component", columns, rows, study_notes(data) + notes)


def tables_for(data: StudyData, agg: pd.DataFrame) -> list[Table]:
    """The tables a study's report kind calls for."""
    kind = data.info.kind
    if kind == "main":
        return [main_table(data, agg)]
    if kind == "factorial" or (kind == "ablation" and any(t.components for t in data.trials)):
        return [ablation_table(data, agg), attribution_table(data, agg)]
    if kind == "ablation":
        return [ablation_table(data, agg)]
    keys = data.info.params or ()
    if not keys:
        raise ReportError(f"study {data.info.name!r} is a sweep but its parent run has no 'report_params' tag")
    return [sweep_table(data, agg, key) for key in keys]

