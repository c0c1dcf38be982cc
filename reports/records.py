"""Typed records of one study as the runner wrote it to MLflow (see docs/tracking.md), free of MLflow types.

Everything downstream (selection, tables, plots) works on these records, so it can be tested without a tracking store.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class ReportError(Exception):
    """Bad input for a report: the message names the run, tag or file at fault. Nothing has been written."""


SCORES = ("precision", "recall", "f1")
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class Trial:
    """One child run of a study: one (variant, dataset, seed) training."""

    run_id: str
    status: str  # MLflow run status: FINISHED, FAILED, RUNNING, KILLED, SCHEDULED
    start_time: int  # ms since epoch; decides which of two runs is the newer
    variant: str
    dataset: str
    seed: int | None  # None only on a failed run that lacks the tag
    preset: str
    config_hash: str
    trial_hash: str
    components: dict[str, int] | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    images: str | None = None
    error: str | None = None
    artifact_uri: str = ""  # where the run's artifacts (reports.contract.PREDICTIONS_ARTIFACT) live; "" in an export
    experiment_id: str = ""  # for links to the run in the MLflow UI
    commit: str | None = None  # the code that trained it (reports.contract.COMMIT_TAG)
    stopped_early: str | None = None  # "epoch E/N" when the scheduler stopped it (reports.contract.STOPPED_EARLY_TAG)
    optuna_trial: int | None = None  # a search's trial: its number in its Optuna study (OPTUNA_TRIAL_TAG)

    @property
    def cell(self) -> tuple[str, str]:
        return (self.variant, self.dataset)

    def describe(self) -> str:
        """Human-readable identity for notes and error messages."""
        seed = "?" if self.seed is None else self.seed
        return f"run {self.run_id} ({self.variant} / {self.dataset} / seed {seed})"


@dataclass(frozen=True)
class StudyInfo:
    """What the study's parent run says about the study (tags of docs/tracking.md)."""

    name: str
    preset: str
    parent_run_id: str
    kind: str  # one of reports.contract.REPORT_KINDS
    params: tuple[str, ...]  # swept keys the tables are about
    seeds: tuple[int, ...]  # seeds the study asks for: the n of "n=2/3"
    datasets: tuple[str, ...]  # column order of the tables
    # from the parent's plan.json (reports.contract.PLAN_ARTIFACT), as the runner resolved the study:
    variant_order: tuple[str, ...] = ()  # named variants (rows without swept values) in study-file order
    variant_datasets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # row -> the datasets it is planned on
    sweep_points: dict[str, dict[str, str]] = field(default_factory=dict)  # grid row -> its swept values, as labelled
    search: str = "grid"  # the study's search.algorithm: grid | optuna
    swept: tuple[str, ...] = ()  # the study's sweep keys, in file order
    log_scaled: tuple[str, ...] = ()  # swept keys sampled on a log scale (plan.json's space: loguniform, logint)
    experiment_id: str = ""  # the parent run's experiment, for links to it
    reference: str | None = None  # the study file's report.reference: the row the others are compared with
    margin: float | None = None  # report.margin: the smallest F1 difference that matters, in points (None: default)
    until_resolved: int | None = None  # report.until_resolved: the seed cap of a study that adds seeds (looks.py)
    redundant: tuple[dict, ...] = ()  # rows not run: they cannot differ from another row here (ablations/redundant.py)
    # what the runner recorded on the parent run, for the results page (reports.contract):
    command: str | None = None
    machine: str | None = None
    walls: tuple[float, ...] = ()  # wall time of each run of the command, seconds

    @property
    def is_hpo(self) -> bool:
        """A joint search (Optuna): reported as a search, not as one-parameter sweeps."""
        return self.search == "optuna"


@dataclass(frozen=True)
class Predictions:
    """Per-example counts on the test set of one run: ids in file order and an (n, 3) array of tp, fp, fn."""

    ids: tuple[str, ...]
    counts: np.ndarray
    labels: tuple = ()  # (gold, pred) per example as the task wrote them (tags, a relation, tuples); may be empty

    def aligned_to(self, ids: tuple[str, ...]) -> np.ndarray:
        """Counts reordered to the given ids; the two runs must have predicted the same test examples."""
        if ids == self.ids:
            return self.counts
        index = {example_id: row for row, example_id in enumerate(self.ids)}
        if set(index) != set(ids):
            raise ValueError("the runs' prediction files cover different test examples")
        return self.counts[[index[example_id] for example_id in ids]]


@dataclass(frozen=True)
class ParentRecord:
    """The study's parent run as read, before it is interpreted: what an export keeps of it."""

    run_id: str
    experiment_id: str
    start_time: int
    tags: dict[str, str]  # the tags the reports read (reports.contract.PARENT_TAGS)
    plan: dict  # plan.json ({} when absent)
    walls: tuple[float, ...] = ()


@dataclass
class StudySource:
    """One study and preset as read from a store or an export, before selection: what reports.assemble turns into
    StudyData, and what reports/export.py writes."""

    study: str
    preset: str
    parent: ParentRecord  # the newest parent run of the study and preset
    parents: int  # how many parent runs the study and preset have
    trials: list[Trial]  # every trial run of the preset, whatever its status
    predictions: dict[str, Predictions | None] = field(default_factory=dict)  # counted run id -> test predictions
    histories: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)  # run id -> key -> steps


@dataclass
class StudyData:
    """A study ready to report: the trials that count, plus what the notes must say about the rest."""

    info: StudyInfo
    trials: list[Trial]  # FINISHED, one per (variant, dataset, seed), one config hash per cell
    failed: list[Trial]  # FAILED for good: no FINISHED run of the same trial_hash
    notes: list[str]  # selection notes (ignored hashes, duplicates, skipped running trials)
    predictions: dict[str, Predictions | None] = field(default_factory=dict)  # run id -> test predictions
    histories: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)  # run id -> key -> steps

    def param_value(self, variant: str, key: str) -> str | None:
        """The swept parameter's value for a variant, as logged in the runs' flattened params."""
        values = {t.params.get(key) for t in self.trials if t.variant == variant}
        values.discard(None)
        if len(values) > 1:
            raise ReportError(f"variant {variant!r} has several values of param {key!r}: {sorted(values)}")
        return values.pop() if values else None
