"""The resolved plan of a study, as its parent run keeps it (artifact plan.json, reports.contract.PLAN_ARTIFACT).

Logged once by the runner when the study starts (and again on a rerun, which reuses the parent run), so that
reports/ reads the rows, their order, the datasets each is planned on and their swept values from what was run,
never by re-reading the study file or parsing row labels. docs/tracking.md lists the fields.
"""
from __future__ import annotations

from ablations.plan import plan, resolve_sampled
from ablations.schema import Study, format_value
from ablations.study import rows

LIMIT_KEYS = ("data.limit_train", "data.limit_eval")


def plan_record(study: Study) -> dict:
    """The plan of a study already cut to its preset (apply_preset) and given its --set overrides."""
    if study.is_grid:
        specs = plan(study)
        first = {}
        for spec in specs:
            first.setdefault(spec.dataset, spec.config)
    else:
        first = {d: resolve_sampled(study, None, d, study.seeds[0], {}).config for d in study.datasets}
    by_label: dict[str, dict] = {}
    if study.is_grid:
        for dataset in study.datasets:
            for row in rows(study, dataset):
                entry = by_label.setdefault(row.label, {
                    "label": row.label, "overrides": dict(row.overrides),
                    "swept": {k: format_value(v) for k, v in row.swept.items()},  # as the row label writes them
                    "components": row.components, "datasets": []})
                entry["datasets"].append(dataset)
    return {"study": study.name, "preset": study.preset, "search": study.search["algorithm"],
            "swept": list(study.sweep), "datasets": list(study.datasets), "seeds": list(study.seeds),
            "report": dict(study.report), "cli_overrides": dict(study.cli_overrides),
            "data_limits": {d: {k: cfg.flat()[k] for k in LIMIT_KEYS} for d, cfg in first.items()},
            "space": {k: d.describe() for k, d in study.sweep.items()}, "rows": list(by_label.values())}
