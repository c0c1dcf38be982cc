"""From a study as read (StudySource: from MLflow, reports/mlflow_source.py, or from an export, reports/export.py) to
the StudyData every table is built from. One path for both sources, so that a table rebuilt from an export is the
table built from the store."""
from __future__ import annotations

import math
from collections import Counter

from reports.contract import (COMMAND_TAG, DATASETS_TAG, MACHINE_TAG, PLAN_ARTIFACT, PRESET_TAG, REPORT_KIND_TAG,
                              REPORT_KINDS, REPORT_PARAMS_TAG, SEEDS_TAG, STUDY_TAG, UNTIL_RESOLVED_TAG)
from reports.records import ParentRecord, ReportError, StudyData, StudyInfo, StudySource
from reports.failure import error_summary
from reports.selection import select_trials

# the per-epoch metrics the figures draw, and the epochs' times the results page sums
HISTORY_KEYS = ("epoch_train_loss", "epoch_dev_f1", "epoch_epoch_time_s")


def _tag(parent: ParentRecord, key: str) -> str:
    value = parent.tags.get(key)
    if not value:
        raise ReportError(f"parent run {parent.run_id} lacks tag {key!r} (see docs/tracking.md)")
    return value


def _split_list(parent: ParentRecord, key: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in _tag(parent, key).split(",") if part.strip())


def _report_number(parent: ParentRecord, report: dict, key: str, kind: type):
    """report.<key> of plan.json as a positive number of the kind, or None when absent."""
    value = report.get(key)
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not math.isfinite(number) or number <= 0 or number != value:
        raise ReportError(f"{PLAN_ARTIFACT} of parent run {parent.run_id}: report.{key} must be a positive "
                          f"{kind.__name__}, got {value!r}")
    return number


def _until_resolved(parent: ParentRecord, report: dict) -> int | None:
    """The seed cap the study's rows were read at: the largest of any start's (the parent's tag accumulates them;
    plan.json holds the last start's only, which may have added no seeds)."""
    tagged = (parent.tags.get(UNTIL_RESOLVED_TAG) or "").strip()
    caps = [c for c in (_report_number(parent, report, "until_resolved", int),
                        int(tagged) if tagged.isdigit() and int(tagged) > 0 else None) if c]
    return max(caps) if caps else None


def _restricted_rows(plan: dict) -> dict[str, tuple[str, ...]]:
    """The rows the study file keeps to some datasets, with those datasets. plan.json is the last start's, and a
    start cut to some datasets (--datasets mnre) lists only those on every row: a row that lists all of the start's
    datasets is planned on every dataset of the study (the earlier starts' too), and only a row that lists fewer is
    restricted. Read the other way, the cells of the earlier datasets looked unplanned and lost their n=k/3 mark."""
    cut = set(plan.get("datasets") or ())
    return {r["label"]: tuple(r["datasets"]) for r in plan.get("rows", [])
            if not (cut and set(r["datasets"]) >= cut)}


def study_info(parent: ParentRecord) -> StudyInfo:
    """What the parent run's tags and plan.json say about the study."""
    run_id = parent.run_id
    kind = _tag(parent, REPORT_KIND_TAG)
    if kind not in REPORT_KINDS:
        raise ReportError(f"parent run {run_id}: tag '{REPORT_KIND_TAG}' is {kind!r}, expected one of {REPORT_KINDS}")
    try:
        seeds = tuple(int(s) for s in _split_list(parent, SEEDS_TAG))
    except ValueError:
        raise ReportError(f"parent run {run_id}: tag '{SEEDS_TAG}' must be comma-separated integers, "
                          f"got {_tag(parent, SEEDS_TAG)!r}") from None
    params = tuple(p.strip() for p in (parent.tags.get(REPORT_PARAMS_TAG) or "").split(",") if p.strip())
    plan = parent.plan
    if not isinstance(plan, dict) or not isinstance(plan.get("rows", []), list):
        raise ReportError(f"{PLAN_ARTIFACT} of parent run {run_id}: expected an object with a list 'rows'")
    rows = plan.get("rows", [])
    report = plan.get("report") or {}
    return StudyInfo(name=_tag(parent, STUDY_TAG), preset=_tag(parent, PRESET_TAG), parent_run_id=run_id, kind=kind,
                     params=params, seeds=seeds, datasets=_split_list(parent, DATASETS_TAG),
                     variant_order=tuple(r["label"] for r in rows if not r["swept"]),
                     variant_datasets=_restricted_rows(plan),
                     sweep_points={r["label"]: dict(r["swept"]) for r in rows if r["swept"]},
                     search=str(plan.get("search", "grid")), swept=tuple(plan.get("swept", ())),
                     # a distribution as the plan describes it, "loguniform(1e-05, 0.0001)": its kind comes first
                     log_scaled=tuple(k for k, d in (plan.get("space") or {}).items() if str(d).startswith("log")),
                     experiment_id=parent.experiment_id, reference=report.get("reference"),
                     margin=_report_number(parent, report, "margin", float),
                     until_resolved=_until_resolved(parent, report),
                     redundant=tuple(r for r in plan.get("redundant", ()) if isinstance(r, dict)),
                     command=parent.tags.get(COMMAND_TAG), machine=parent.tags.get(MACHINE_TAG), walls=parent.walls)


def assemble(source: StudySource) -> StudyData:
    """The study ready to report: counted trials with their predictions and learning curves, and the notes."""
    info = study_info(source.parent)
    counted, failed, notes = select_trials(source.trials)
    if not counted:
        states = ", ".join(f"{n} {s}" for s, n in sorted(Counter(t.status for t in source.trials).items()))
        first = f"; first failure: {error_summary(failed[0].error)}" if failed else ""
        raise ReportError(f"study {source.study!r} preset {source.preset!r}: no FINISHED trial runs to tabulate "
                          f"({states}){first}")
    if source.parents > 1:
        notes.append(f"{source.parents} parent runs for this study and preset; seeds and datasets are read from the "
                     f"newest, {source.parent.run_id}.")
    data = StudyData(info=info, trials=counted, failed=failed, notes=notes)
    for trial in counted:
        data.predictions[trial.run_id] = source.predictions.get(trial.run_id)
        history = source.histories.get(trial.run_id, {})
        data.histories[trial.run_id] = {key: list(history.get(key, [])) for key in HISTORY_KEYS}
    return data
