"""A study's comparisons: each row against the reference on each dataset, its margin, its level, its verdict.

The margin (the smallest F1 difference that matters, in points) is the study file's report.margin; without one, the
default of the dataset's task below (docs/statistics.md gives the reasons). The level is 0.05, divided by the number
of looks a study that adds seeds declared (reports/looks.py), so the tables read its rows as its runner did.
"""
from __future__ import annotations

from shapca.data.types import TASK_OF

from reports.intervals import Comparison, compare
from reports.looks import Key, Round, look_levels, plan_round, schedule, study_level
from reports.names import dataset_name
from reports.records import ReportError, StudyData, StudyInfo
from reports.rows import reference_variant, runs_of, variant_order
from reports.verdicts import ALPHA, Verdict, judge, level_text

DEFAULT_MARGINS = {"ner": 0.5, "re": 1.0, "jmere": 1.0}  # F1 points, per task; docs/statistics.md
UNKNOWN_TASK_MARGIN = 1.0  # a dataset this list does not know


def margin_for(dataset: str, declared: float | None = None) -> float:
    """The margin of a comparison on the dataset: the declared one, else the default of the dataset's task."""
    if declared is not None:
        return declared
    return DEFAULT_MARGINS.get(TASK_OF.get(dataset, ""), UNKNOWN_TASK_MARGIN)


def margin(info: StudyInfo, dataset: str) -> float:
    return margin_for(dataset, info.margin)


def margin_text(info: StudyInfo) -> str:
    """δ as a caption says it: the declared margin, or the default of each dataset's task."""
    if info.margin is not None:
        return f"δ = {info.margin:g} F1 points (the study's report.margin)"
    parts = [f"{margin(info, d):g} on {dataset_name(d)}" for d in info.datasets]
    tasks = sorted({TASK_OF.get(d, "") for d in info.datasets})
    defaults = ", ".join(f"{t.upper() or 'a task this list does not know'} "
                         f"{DEFAULT_MARGINS.get(t, UNKNOWN_TASK_MARGIN):g}" for t in tasks)
    return (f"δ in F1 points = {', '.join(parts)} (each task's default: {defaults}; a study declares its own "
            "with report.margin)")


def comparison_against(data: StudyData, variant: str, reference: str, dataset: str) -> tuple[Comparison | None, str]:
    """The paired comparison over the seeds both rows ran, or None and the note that says why not."""
    ours, theirs = runs_of(data, variant, dataset), runs_of(data, reference, dataset)
    seeds = sorted(set(ours) & set(theirs))
    if not seeds:
        return None, f"{variant} / {dataset}: no seed shared with {reference}; no verdict."
    missing = [t.run_id for s in seeds for t in (ours[s], theirs[s]) if data.predictions.get(t.run_id) is None]
    if missing:
        return None, f"{variant} / {dataset}: no predictions/test.jsonl in run(s) {', '.join(missing)}; no verdict."
    ids = data.predictions[theirs[seeds[0]].run_id].ids  # one order of the test examples for every seed and row
    a, b = [], []
    for seed in seeds:
        try:
            a.append(data.predictions[ours[seed].run_id].aligned_to(ids))
            b.append(data.predictions[theirs[seed].run_id].aligned_to(ids))
        except ValueError:
            return None, f"{variant} / {dataset} seed {seed}: predictions cover other test examples than {reference}."
    return compare(a, b, tuple(seeds)), ""


def verdict_against(data: StudyData, variant: str, reference: str, dataset: str) -> tuple[Verdict | None, str]:
    """The row's verdict against the reference at the study's level and margin, or None and the note why not."""
    comparison, note = comparison_against(data, variant, reference, dataset)
    if comparison is None:
        return None, note
    return judge(comparison, margin(data.info, dataset), study_level(data.info, comparison.n)), ""


def verdict_caption(data: StudyData, reference: str) -> str:
    """What a table's marks mean, at the study's level, with its margins."""
    info = data.info
    if info.until_resolved:
        counts = schedule(len(info.seeds), max(info.until_resolved, len(info.seeds)))
        levels = look_levels(len(info.seeds), info.until_resolved)
        spent = ", ".join(f"{level:.4f} at {count}" for count, level in zip(counts, levels))
        level = (f"the 1 − 2a interval lies inside ±δ: two one-sided tests), ? undetermined, at the level a of the "
                 f"last look a row reached (the study added seeds to undetermined rows and spent α = {ALPHA:g} over "
                 f"looks at {', '.join(map(str, counts))} shared seeds: {spent})")
        bounds = "1 − a"
    else:
        level, bounds = (f"the {level_text(2 * ALPHA)} interval lies inside ±δ: two one-sided tests), ? "
                         "undetermined"), level_text(ALPHA)
    return (f"Marks against {reference}, from the F1 difference paired over the seeds both rows ran, with an interval "
            f"that counts seed-to-seed and test-set variance (docs/statistics.md): ↑ higher, ↓ lower (the {bounds} "
            f"interval lies above, below 0), ≈ equivalent within ±δ ({level}; {margin_text(info)}. Intervals, "
            "p-values and seeds in the CSV.")


def study_comparisons(data: StudyData) -> dict[Key, tuple[Comparison | None, str]]:
    """Every row that ran on a dataset against the reference there, in table order."""
    reference = reference_variant(data)
    if reference is None:
        raise ReportError(f"study {data.info.name!r}: no reference row to compare with (report.reference, or a row "
                          "named full)")
    return {(v, d): comparison_against(data, v, reference, d) for v in variant_order(data) if v != reference
            for d in data.info.datasets if runs_of(data, v, d)}


def study_round(data: StudyData, cap: int) -> Round:
    """After a look at a study that adds seeds until resolved (cap: MAX shared seeds per row): each row's verdict and
    the seeds to train next (reports/looks.py)."""
    comparisons = study_comparisons(data)
    have = {(v, d): set(runs_of(data, v, d)) for v in variant_order(data) for d in data.info.datasets}
    margins = {d: margin(data.info, d) for d in data.info.datasets}
    return plan_round(comparisons, have, reference_variant(data), margins, data.info.seeds, cap)
