"""The score tables of a study: main results, ablation (with the change against the full model), one per swept
parameter. Cells are mean ± std over seeds of test P/R/F1 x100; F1 cells carry the verdict's mark against the
reference row when one exists (reports/comparisons.py)."""
from __future__ import annotations

import math

import pandas as pd

from reports.comparisons import verdict_against, verdict_caption
from reports.names import COST_PARAMS, dataset_name, file_stem, param_name
from reports.records import ReportError, StudyData
from reports.contract import GRADIENT_PREFIXES
from reports.rows import REFERENCE, planned, reference_variant, runs_of, sweep_rows, variant_order
from reports.selection import failed_notes, images_note, precision_note
from reports.table_model import Column, NumberCell, Row, ScoreCell, Table, mark_best
from reports.tidy import cell_stats

SCORE_HEADERS = (("precision", "P"), ("recall", "R"), ("f1", "F1"))


def seeds_text(data: StudyData) -> str:
    seeds = data.info.seeds
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))})"


def _spread_text(data: StudyData) -> str:
    n = len(data.info.seeds)
    if data.info.until_resolved:
        return (f"Each cell is the mean ± sample standard deviation over the seeds its row ran: {seeds_text(data)} "
                f"planned, more (up to {data.info.until_resolved}, n=k says how many) for rows whose comparison was "
                "undetermined.")
    if n == 1 and max(len(runs_of(data, t.variant, t.dataset)) for t in data.trials) > 1:
        # a parent run that names fewer seeds than its cells hold (one written before it accumulated its runs')
        ran = ", ".join(map(str, sorted({t.seed for t in data.trials})))
        return (f"Each cell is the mean ± sample standard deviation over the seeds its row ran ({ran}; n=k says how "
                "many where the study's parent run names fewer).")
    if n == 1:
        return f"Each cell is a single run (seed {data.info.seeds[0]}): no spread over seeds is available."
    return (f"Each cell is the mean ± sample standard deviation over {seeds_text(data)}; a cell with fewer seeds "
            f"says n=k/{n}, and a single seed shows its value alone.")


def score_caption(data: StudyData, subject: str) -> str:
    datasets = ", ".join(dataset_name(d) for d in data.info.datasets)
    return (f"{subject}: test precision (P), recall (R) and F1 ×100 on {datasets} (study {data.info.name}, preset "
            f"{data.info.preset}). {_spread_text(data)} Best per column in bold, second underlined.")


def study_notes(data: StudyData) -> list[str]:
    """Notes every table of the study carries: selection decisions, failed trials, runs without images, the
    precision the runs trained in, rows not run because they cannot differ from another."""
    notes = (images_note(data.trials), precision_note(data.trials))
    redundant = [f"{r.get('label')} was not run on {dataset_name(str(r.get('dataset')))}: it cannot differ from "
                 f"{r.get('same_as')} there ({r.get('why')}); --run-redundant runs it." for r in data.info.redundant
                 if not runs_of(data, r.get("label"), r.get("dataset"))]  # runs from before it was left out: shown
    return [*data.notes, *failed_notes(data.failed), *(note for note in notes if note), *redundant]


def _score_cell(stats: dict | None, score: str, n_expected: int) -> ScoreCell:
    if stats is None:
        return ScoreCell(None, None, 0, n_expected)
    std = stats[f"{score}_std"]
    return ScoreCell(100 * stats[f"{score}_mean"], None if math.isnan(std) else 100 * std, int(stats["n"]),
                     n_expected)


def _score_columns(data: StudyData, extra: list[tuple[str, bool]]) -> list[Column]:
    columns = []
    for dataset in data.info.datasets:
        columns += [Column(dataset_name(dataset), header, ranked=True) for _, header in SCORE_HEADERS]
        columns += [Column(dataset_name(dataset), name, ranked=ranked) for name, ranked in extra]
    return columns


ALIGN_SHARE = f"{GRADIENT_PREFIXES[1]}align_"  # grad_share_align_context_text, grad_share_align_context_image


def alignment_share(data: StudyData, variant: str, dataset: str) -> float | None:
    """The mean over a cell's trials of the alignment's share of the encoder's gradient, in percent (each trial's
    `grad_share_align_*` metrics summed: the context-text and, with images, the context-image term); None where its
    trials did not measure it."""
    shares = [100 * sum(v for k, v in t.metrics.items() if k.startswith(ALIGN_SHARE)) for t in data.trials
              if (t.variant, t.dataset) == (variant, dataset) and any(k.startswith(ALIGN_SHARE) for k in t.metrics)]
    return sum(shares) / len(shares) if shares else None


def measures_alignment_share(data: StudyData) -> bool:
    return any(k.startswith(ALIGN_SHARE) for t in data.trials for k in t.metrics)


SHARE_HEADER = "align. share (%)"
SHARE_CAPTION = (f" {SHARE_HEADER}: the alignment losses' share of the encoder's gradient (each weighted term's "
                 "gradient norm over the terms' summed norms, measured every 50 steps, averaged over the training and "
                 "the seeds; docs/tracking.md); a row whose alignment carries a few percent hardly trains it.")


def _score_rows(data: StudyData, agg: pd.DataFrame, variants: list[str], labels: list[str], delta: bool,
                cost: bool, rules: set[int] = frozenset(), share: bool = False) -> tuple[list[Row], list[str], bool]:
    """Rows of P/R/F1 cells per dataset (+ delta F1, + step cost, + the alignment's gradient share); also the notes
    and whether any row was judged.

    A cell the study never planned (a variant restricted to other datasets) shows a dash without an n mark."""
    reference = reference_variant(data)
    rows, notes, tested = [], [], False
    for index, (variant, label) in enumerate(zip(variants, labels)):
        cells = []
        for dataset in data.info.datasets:
            stats = cell_stats(agg, variant, dataset)
            n_expected = len(data.info.seeds) if planned(data, variant, dataset) else 0
            scores = [_score_cell(stats, score, n_expected) for score, _ in SCORE_HEADERS]
            verdict = None
            if reference and variant != reference and stats is not None:
                verdict, note = verdict_against(data, variant, reference, dataset)
                scores[2].verdict, scores[2].marker = verdict, verdict.mark if verdict else ""
                tested |= verdict is not None
                notes += [note] if note else []
            cells += scores
            if delta:  # the verdict's paired mean where there is one, so that the two never disagree
                ref = cell_stats(agg, reference, dataset)
                value = None if stats is None or ref is None else 100 * (stats["f1_mean"] - ref["f1_mean"])
                value = verdict.comparison.mean if verdict else value
                cells.append(NumberCell(None if variant == reference else value, signed=True))
            if cost:
                step = None if stats is None or math.isnan(stats["step_time_s_mean"]) else stats["step_time_s_mean"]
                cells.append(NumberCell(None if step is None else 1000 * step))
            if share:
                cells.append(NumberCell(alignment_share(data, variant, dataset)))
        rows.append(Row(label, cells, rule_before=index in rules))
    return rows, notes, tested


def _delta_caption(reference: str) -> str:
    return (f" ΔF1: F1 minus that of {reference} in points, the mean over the seeds both rows ran (the difference of "
            "the cells' means where predictions are missing).")


def _verdict_caption(data: StudyData, reference: str | None, judged: bool) -> str:
    return " " + verdict_caption(data, reference) if reference and judged else ""


def table_label(data: StudyData, name: str) -> str:
    return f"tab:{file_stem(data.info.name)}-{file_stem(name)}".replace("_", "-")


def main_table(data: StudyData, agg: pd.DataFrame) -> Table:
    variants = variant_order(data)
    rows, notes, tested = _score_rows(data, agg, variants, variants, delta=False, cost=False)
    caption = score_caption(data, "Main results") + _verdict_caption(data, reference_variant(data), tested)
    table = Table("main", "Main results", caption, table_label(data, "main"), "Method", _score_columns(data, []),
                  rows, study_notes(data) + notes)
    mark_best(table)
    return table


def ablation_table(data: StudyData, agg: pd.DataFrame) -> Table:
    reference = reference_variant(data)
    if reference is None:
        raise ReportError(f"study {data.info.name!r}: an ablation table needs the full model, a variant named "
                          f"{REFERENCE!r} or the only one whose components are all 1")
    variants, share = variant_order(data), measures_alignment_share(data)
    rows, notes, tested = _score_rows(data, agg, variants, variants, delta=True, cost=False, share=share)
    caption = (score_caption(data, "Ablation") + _delta_caption(reference)
               + _verdict_caption(data, reference, tested) + SHARE_CAPTION * share)
    table = Table("ablation", "Ablation", caption, table_label(data, "ablation"), "Variant",
                  _score_columns(data, [("ΔF1", False)] + [(SHARE_HEADER, False)] * share), rows,
                  study_notes(data) + notes)
    mark_best(table)
    return table


def sweep_table(data: StudyData, agg: pd.DataFrame, key: str) -> Table:
    """Sweep points in the key's order, then the named variants beside the sweep below a rule."""
    rows_ = sweep_rows(data, key)
    first_named = next((i for i, r in enumerate(rows_) if not r.on_grid), None)
    rules = {first_named} if first_named else set()
    cost, share = key in COST_PARAMS, measures_alignment_share(data)
    reference = reference_variant(data)
    rows, notes, tested = _score_rows(data, agg, [r.variant for r in rows_], [r.label for r in rows_],
                                      delta=reference is not None, cost=cost, rules=rules, share=share)
    name = param_name(key)
    caption = score_caption(data, f"Sweep of {name} ({key})") + _verdict_caption(data, reference, tested)
    if reference:
        caption += _delta_caption(reference)
    if first_named:
        caption += " Rows below the rule are named variants beside the sweep."
    if cost:
        caption += " step (ms): mean training time per optimisation step over the seeds."
    caption += SHARE_CAPTION * share
    table = Table(f"sweep_{file_stem(key)}", f"Sweep: {name}", caption, table_label(data, f"sweep-{key}"), name,
                  _score_columns(data, [("ΔF1", False)] * bool(reference) + [("step (ms)", False)] * cost
                                 + [(SHARE_HEADER, False)] * share), rows, study_notes(data) + notes)
    mark_best(table)
    return table
