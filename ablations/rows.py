"""A grid study's rows on each dataset: made for the plan, or only counted, so that a plan's size is known (and a
plan too large refused) before any config is resolved.

Rows per dataset: every point of the sweep grid (the product of its keys' values, in file order), then every named
variant that applies to the dataset; a study with neither has one row, `base` (docs/studies.md).
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

from ablations.schema import BASE_LABEL, Study, StudyError
from shapca.config import ConfigError, format_assignments, parse_assignments


@dataclass(frozen=True)
class Row:
    """A row of a study's tables: one point of the sweep grid, or one named variant, and the datasets it runs on."""
    label: str
    overrides: dict
    components: dict | None = None  # ablation and factorial studies: component -> 0/1
    swept: dict = dataclasses.field(default_factory=dict)  # the grid point's values (empty for a named variant)
    datasets: tuple = ()


def rows(study: Study, dataset: str) -> list[Row]:
    """A grid study's rows on one dataset: each point of the sweep grid, then each named variant that applies."""
    out = []
    if study.sweep:
        keys = list(study.sweep)
        for values in itertools.product(*(study.sweep[k].values for k in keys)):
            point = dict(zip(keys, values))
            out.append(Row(format_assignments(point), dict(point), swept=dict(point)))
    for v in study.variants:
        if v.datasets is None or dataset in v.datasets:
            out.append(Row(v.name, dict(v.overrides), v.components))
    if not study.sweep and not study.variants:
        out.append(Row(BASE_LABEL, {}))
    return out


def grid_point(label: str, sweep: dict) -> dict | None:
    """The point of the sweep grid whose row is labelled `label` ("align.tau=0.1"), keys in the sweep's order; None
    where the label names no point of it. Read without making the grid: a key's values are looked up."""
    if not sweep or not isinstance(label, str):
        return None
    try:
        point = parse_assignments([part for part in label.split(", ") if part])
    except ConfigError:
        return None
    if set(point) != set(sweep) or any(sweep[k].kind != "grid" or point[k] not in sweep[k].values for k in sweep):
        return None
    return {k: point[k] for k in sweep}


def row_count(study: Study, dataset: str) -> int:
    """len(rows(study, dataset)), counted without making a row: a grid of a million points is counted at once."""
    grid = math.prod(len(d.values) for d in study.sweep.values()) if study.sweep else 0
    named = sum(v.datasets is None or dataset in v.datasets for v in study.variants)
    return grid + named + (0 if study.sweep or study.variants else 1)


def check_size(study: Study, extra_seeds: dict, bound: int) -> None:
    """Refuses a plan of more than `bound` trials (--max-trials; docs/studies.md, "Plan size", says why), with the
    count and what makes it, from the cut study alone."""
    seeds = len(study.seeds)
    if study.search["algorithm"] == "grid":
        per = {d: row_count(study, d) for d in study.datasets}
        size = sum(per.values()) * seeds + sum(len(s) for s in extra_seeds.values())
        how = (f"rows per dataset ({', '.join(f'{d} {n:,}' for d, n in per.items())}) x {seeds} seed(s)"
               + (" + extra seeds" if extra_seeds else ""))
    else:
        size = study.search["num_samples"] * len(study.datasets) * seeds
        how = f"num_samples {study.search['num_samples']:,} x {len(study.datasets)} dataset(s) x {seeds} seed(s)"
    if size > bound:
        raise StudyError(f"{study.path}: the plan has {size:,} trials = {how}, more than --max-trials {bound:,}; a "
                         f"plan this size is usually a grid with more values than meant: cut it (--preset, --datasets, "
                         f"--seeds, --variants, fewer grid values), or raise the bound with --max-trials N")
