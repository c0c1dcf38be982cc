"""Read one study from MLflow into typed records: runs found by tags (never by name), per docs/tracking.md."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
from mlflow.entities import Run
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient

from reports.assemble import HISTORY_KEYS, assemble
from reports.assemble import study_info as assembled_info
from reports.contract import (COMMIT_TAG, COMPONENTS_TAG, CONFIG_HASH_TAG, DATASET_TAG, ERROR_TAG, IMAGES_TAG,
                              OPTUNA_TRIAL_TAG, PARENT_TAGS, PLAN_ARTIFACT, POINTS, PREDICTIONS_ARTIFACT, PRESET_TAG,
                              ROLE_TAG, SCALE_TAG, SEED_TAG, STOPPED_EARLY_TAG, STUDY_ROLE, STUDY_TAG, TRIAL_HASH_TAG,
                              TRIAL_ROLE, VARIANT_TAG, WALL_METRIC, is_score)
from reports.records import ParentRecord, Predictions, ReportError, StudyData, StudyInfo, StudySource, Trial
from reports.selection import choose_preset, select_trials

# Progress bars per downloaded artifact would flood the log of a study with many trials.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _experiment_ids(client: MlflowClient) -> list[str]:
    ids, token = [], None
    while True:
        page = client.search_experiments(max_results=1000, page_token=token)
        ids += [e.experiment_id for e in page]
        token = page.token
        if not token:
            return ids


def _find_runs(client: MlflowClient, filter_string: str) -> list[Run]:
    """Runs of every active experiment matching the filter (a study may be logged to any experiment)."""
    experiment_ids = _experiment_ids(client)
    runs: list[Run] = []
    token = None
    while experiment_ids:
        page = client.search_runs(experiment_ids, filter_string, max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs


def _tag(run: Run, key: str, required: bool = True) -> str | None:
    value = run.data.tags.get(key)
    if required and not value:
        raise ReportError(f"run {run.info.run_id} lacks tag {key!r} (see docs/tracking.md)")
    return value


def trial_from_run(run: Run) -> Trial:
    """A Trial from a child run; a FAILED run may lack tags (it can have failed before they were set)."""
    strict = run.info.status == "FINISHED"
    seed_text = _tag(run, SEED_TAG, strict)
    try:
        seed = int(seed_text) if seed_text else None
    except ValueError:
        raise ReportError(f"run {run.info.run_id}: tag '{SEED_TAG}' is not an integer: {seed_text!r}") from None
    components = None
    components_text = _tag(run, COMPONENTS_TAG, required=False)
    if components_text:
        try:
            components = {str(k): int(v) for k, v in json.loads(components_text).items()}
        except (ValueError, AttributeError, TypeError):
            raise ReportError(f"run {run.info.run_id}: tag '{COMPONENTS_TAG}' is not a JSON object of 0/1 values: "
                              f"{components_text!r}") from None
        if set(components.values()) - {0, 1}:
            raise ReportError(f"run {run.info.run_id}: tag '{COMPONENTS_TAG}' values must be 0 or 1: "
                              f"{components_text!r}")
    return Trial(
        run_id=run.info.run_id, status=run.info.status, start_time=run.info.start_time or 0,
        variant=_tag(run, VARIANT_TAG, strict) or "?", dataset=_tag(run, DATASET_TAG, strict) or "?", seed=seed,
        preset=_tag(run, PRESET_TAG) or "", config_hash=_tag(run, CONFIG_HASH_TAG, strict) or "?",
        trial_hash=_tag(run, TRIAL_HASH_TAG, strict) or run.info.run_id, components=components,
        params=dict(run.data.params), metrics=_fractions(run, run.data.metrics),
        images=_tag(run, IMAGES_TAG, required=False), error=_tag(run, ERROR_TAG, required=False),
        artifact_uri=run.info.artifact_uri or "", experiment_id=str(run.info.experiment_id or ""),
        commit=_tag(run, COMMIT_TAG, required=False), stopped_early=_tag(run, STOPPED_EARLY_TAG, required=False),
        optuna_trial=_number(run, OPTUNA_TRIAL_TAG))


def _number(run: Run, key: str) -> int | None:
    text = _tag(run, key, required=False)
    try:
        return None if text is None else int(text)
    except ValueError:
        raise ReportError(f"run {run.info.run_id}: tag '{key}' is not an integer: {text!r}") from None


def _fractions(run: Run, metrics: dict) -> dict:
    """The run's scores in [0, 1], as everything past this reader takes them: a run logged in points (its
    SCALE_TAG, reports.contract) has them divided by 100."""
    if run.data.tags.get(SCALE_TAG) != POINTS:
        return dict(metrics)
    return {k: v / 100 if is_score(k) else v for k, v in metrics.items()}


def _artifact_text(artifact_uri: str, path: str, tracking_uri: str | None = None) -> str | None:
    """One artifact's text, or None when it is missing. Reads through the artifact repository of the run's URI
    directly: ten times faster than MlflowClient.download_artifacts, which looks the run up again each time.
    `tracking_uri`: the server an `mlflow-artifacts:` URI is served by (else MLflow's current tracking URI, which
    names no server when only --tracking-uri did)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = get_artifact_repository(artifact_uri, tracking_uri).download_artifacts(path, tmp)
        except Exception:  # noqa: BLE001 - stores raise various types for a missing file; the caller reports it
            return None
        return Path(local).read_text(encoding="utf-8")


def _plan(parent: Run, tracking_uri: str | None = None) -> dict:
    """The parent's plan.json as the runner logged it (ablations/plan_record.py); {} when absent (older runs: the
    rows then keep their names, in alphabetical order, and a rerun of the study logs the plan)."""
    text = _artifact_text(parent.info.artifact_uri, PLAN_ARTIFACT, tracking_uri)
    if text is None:
        return {}
    try:
        return json.loads(text)
    except ValueError as err:
        raise ReportError(f"{PLAN_ARTIFACT} of parent run {parent.info.run_id} is not valid JSON: {err}") from None


def parent_record(parent: Run, walls: tuple[float, ...] = (), tracking_uri: str | None = None) -> ParentRecord:
    return ParentRecord(run_id=parent.info.run_id, experiment_id=str(parent.info.experiment_id or ""),
                        start_time=parent.info.start_time or 0,
                        tags={k: v for k, v in parent.data.tags.items() if k in PARENT_TAGS},
                        plan=_plan(parent, tracking_uri), walls=walls)


def study_info(parent: Run) -> StudyInfo:
    """What a parent run says about its study (its wall times aside, which take a metric history)."""
    return assembled_info(parent_record(parent))


def parse_predictions(text: str, source: str) -> Predictions:
    """Parse a run's PREDICTIONS_ARTIFACT; `source` names the run for error messages (file and line)."""
    ids, rows, labels = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            counts = [int(record[key]) for key in ("tp", "fp", "fn")]
            example_id = str(record["id"])
        except (ValueError, KeyError, TypeError) as err:
            raise ReportError(f"{source}:{number}: not a prediction record with id, tp, fp, fn ({err})") from None
        if min(counts) < 0:
            raise ReportError(f"{source}:{number}: negative count in {counts}")
        ids.append(example_id)
        rows.append(counts)
        labels.append((record.get("gold"), record.get("pred")))  # for the per-type breakdown (reports/breakdown.py)
    if len(set(ids)) != len(ids):
        raise ReportError(f"{source}: repeated example ids")
    return Predictions(ids=tuple(ids), counts=np.asarray(rows, dtype=np.int64).reshape(-1, 3), labels=tuple(labels))


def _predictions(trial: Trial, tracking_uri: str | None = None) -> Predictions | None:
    # a missing file is stated in the notes
    text = _artifact_text(trial.artifact_uri, PREDICTIONS_ARTIFACT, tracking_uri)
    return None if text is None else parse_predictions(text, f"run {trial.run_id} {PREDICTIONS_ARTIFACT}")


def _history(client: MlflowClient, run: Run, keys) -> dict[str, list[tuple[int, float]]]:
    """Each key's values by step, scores in [0, 1] (as _fractions)."""
    divide = 100 if run.data.tags.get(SCALE_TAG) == POINTS else 1
    return {key: sorted((m.step, m.value / divide if is_score(key) else m.value)
                        for m in client.get_metric_history(run.info.run_id, key)) for key in keys}


def _quote(value: str) -> str:
    if "'" in value:
        raise ReportError(f"names with a quote cannot be searched in MLflow: {value!r}")
    return f"'{value}'"


def read_source(client: MlflowClient, study: str, preset: str | None = None,
                every_epoch_metric: bool = False) -> StudySource:
    """The study and preset as the store holds them: the newest parent, every trial run of the preset, and the test
    predictions and learning curves of the runs that count (of every per-epoch metric with every_epoch_metric,
    as an export keeps them; else of those the figures draw)."""
    base = f"tags.{STUDY_TAG} = {_quote(study)}"
    trial_runs = _find_runs(client, f"{base} AND tags.`{ROLE_TAG}` = '{TRIAL_ROLE}'")
    parents = _find_runs(client, f"{base} AND tags.`{ROLE_TAG}` = '{STUDY_ROLE}'")
    trials = [trial_from_run(run) for run in trial_runs]
    runs = {run.info.run_id: run for run in trial_runs}
    chosen = choose_preset(study, [t.preset for t in trials], preset)
    trials = [t for t in trials if t.preset == chosen]
    parents = [p for p in parents if p.data.tags.get(PRESET_TAG) == chosen]
    if not parents:
        raise ReportError(f"study {study!r} preset {chosen!r}: no parent run (tags {ROLE_TAG}={STUDY_ROLE}, "
                          f"{STUDY_TAG}={study}, {PRESET_TAG}={chosen}) to read seeds and datasets from")
    parent = max(parents, key=lambda r: (r.info.start_time or 0, r.info.run_id))
    walls = tuple(m.value for m in sorted(client.get_metric_history(parent.info.run_id, WALL_METRIC),
                                          key=lambda m: (m.step, m.timestamp)))
    uri = client.tracking_uri  # where an mlflow-artifacts: URI is served from
    source = StudySource(study, chosen, parent_record(parent, walls, uri), len(parents), trials)
    counted, _, _ = select_trials(trials)
    for trial in counted:
        source.predictions[trial.run_id] = _predictions(trial, uri)
        keys = sorted(k for k in trial.metrics if k.startswith("epoch_")) if every_epoch_metric else HISTORY_KEYS
        source.histories[trial.run_id] = _history(client, runs[trial.run_id], keys)
    return source


def load_study(client: MlflowClient, study: str, preset: str | None = None) -> StudyData:
    """All a report needs: the parent's info, the counted trials with predictions and histories, the notes."""
    return assemble(read_source(client, study, preset))


def finished_studies(client: MlflowClient, preset: str) -> list[StudyData]:
    """Every study with a parent run of the preset, as its tables read it (a study they refuse is left out): the
    history the power lines of a dry run are computed from (reports/power.py)."""
    parents = _find_runs(client, f"tags.`{ROLE_TAG}` = '{STUDY_ROLE}' AND tags.{PRESET_TAG} = {_quote(preset)}")
    studies = []
    for name in sorted({p.data.tags.get(STUDY_TAG) for p in parents} - {None}):
        try:
            studies.append(load_study(client, name, preset))
        except ReportError:
            continue
    return studies
