"""The resolved plan of a study, as its parent run keeps it (artifact plan.json, reports.contract.PLAN_ARTIFACT).

Logged once by the runner when the study starts (and again on a rerun, which reuses the parent run), so that
reports/ reads the rows, their order, the datasets each is planned on and their swept values from what was run,
never by re-reading the study file or parsing row labels. docs/tracking.md lists the fields.
"""
from __future__ import annotations

from ablations.plan import Plan
from shapca.config import format_value

LIMIT_KEYS = ("data.limit_train", "data.limit_eval")


def plan_record(plan: Plan) -> dict:
    study, first = plan.study, {}
    for trial in plan.planned:  # each dataset's data limits, as its first planned config has them
        first.setdefault(trial.dataset, trial.config)
    left_out = [r for u in plan.units if getattr(u, "skipped", False) for r in u.redundant]  # not run: same as
    skipped = {(r.label, r.dataset) for r in left_out}                                     # another row here
    rows = [{"label": row.label, "overrides": dict(row.overrides),
             "swept": {k: format_value(v) for k, v in row.swept.items()},  # as the row label writes them
             "components": row.components, "datasets": [d for d in row.datasets if (row.label, d) not in skipped]}
            for row in plan.rows]
    return {"study": study.name, "preset": plan.preset.name, "search": study.search["algorithm"],
            "swept": list(study.sweep), "datasets": list(study.datasets), "seeds": list(study.seeds),
            "report": dict(study.report), "cli_overrides": dict(plan.cli_overrides),
            "data_limits": {d: {k: cfg.flat()[k] for k in LIMIT_KEYS} for d, cfg in first.items()},
            "space": {k: d.describe() for k, d in study.sweep.items()}, "rows": [r for r in rows if r["datasets"]],
            "redundant": [r.record() for r in left_out]}  # the tables say which row each equals
