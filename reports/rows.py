"""Which rows a study's tables and plots have, in which order, and which cells were planned at all.

Row labels are the runs' `variant` tags: a named variant of the study file (`full`, `closed form`) or a point of the
sweep, labelled "key=value, key2=value2" by the runner. Which is which, their order, their datasets and the swept
values come from the plan the runner logged (StudyInfo, read from plan.json), never from parsing a label.
"""
from __future__ import annotations

from dataclasses import dataclass

from reports.names import sort_key
from reports.records import StudyData, Trial

REFERENCE = "full"


def reference_variant(data: StudyData) -> str | None:
    """The row the study file names (report.reference), else the full model: the variant named 'full', else the
    only one with every component switched on."""
    variants = {t.variant for t in data.trials}
    if data.info.reference in variants:
        return data.info.reference
    if REFERENCE in variants:
        return REFERENCE
    complete = {t.variant for t in data.trials if t.components and all(t.components.values())}
    return complete.pop() if len(complete) == 1 else None


def variant_order(data: StudyData) -> list[str]:
    """The full model first, then named variants in study-file order, then the rest alphabetically."""
    present = sorted({t.variant for t in data.trials})
    ordered = [v for v in data.info.variant_order if v in present]
    ordered += [v for v in present if v not in ordered]
    reference = reference_variant(data)
    return ([reference] if reference else []) + [v for v in ordered if v != reference]


def planned(data: StudyData, variant: str, dataset: str) -> bool:
    """False for a cell the study never meant to run (a variant restricted to other datasets)."""
    datasets = data.info.variant_datasets.get(variant)
    return datasets is None or dataset in datasets


def runs_of(data: StudyData, variant: str, dataset: str) -> dict[int, Trial]:
    """The counted runs of one cell by seed."""
    return {t.seed: t for t in data.trials if t.variant == variant and t.dataset == dataset}


@dataclass(frozen=True)
class SweepRow:
    variant: str  # the runs' variant tag
    label: str  # what the table shows: the value alone when it is the only swept key, else the tag
    value: str | None  # the swept key's value (named variants: as their runs' params say, may be None)
    on_grid: bool  # a point of the sweep (True) or a named variant beside it (False)


def sweep_rows(data: StudyData, key: str) -> list[SweepRow]:
    """Sweep points in the key's order (numbers numerically), then the named variants beside the sweep."""
    grid, named = [], []
    for variant in variant_order(data):
        point = data.info.sweep_points.get(variant)
        if point is not None and key in point:
            grid.append(SweepRow(variant, point[key] if len(point) == 1 else variant, point[key], True))
        else:
            named.append(SweepRow(variant, variant, data.param_value(variant, key), False))
    grid.sort(key=lambda row: (sort_key(row.value), row.variant))
    return grid + named
