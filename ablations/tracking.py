"""A study's runs in MLflow: one parent run per (study, preset), one child run per trial, as docs/tracking.md says.

Child runs are found again by their trial hash, so a resumed or rerun study continues a trial's run instead of
making a second one, and a finished trial is never run twice. The store itself (its URI, checks and set-up) is
ablations/store.py.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
import uuid
from importlib import metadata
from pathlib import Path

from ablations.store import TrackingError, init_store
from reports.contract import (COMMAND_TAG, COMMIT_TAG, DATASET_TAG, DATASETS_TAG, ERROR_TAG, NOTE_TAG, POINTS,
                              PRESET_TAG, ROLE_TAG, SCALE_TAG, SEED_TAG, SEEDS_TAG, STUDY_ROLE, STUDY_TAG,
                              TRIAL_HASH_TAG, TRIAL_ROLE, UNTIL_RESOLVED_TAG, VARIANT_TAG, VERSIONS_TAG, is_score)
from reports.names import DATASET_ABBREV, short_label

# Each study has an experiment of its own, "<prefix>/<study>", so that MLflow's UI opens on the study's runs; a study
# whose parent run lives in the one experiment of earlier versions (named <prefix>) stays there.
EXPERIMENT = os.environ.get("SHAPCA_EXPERIMENT", "shapca")
# the experiment kind: "model training". MLflow 3.17's UI lets its GenAI / Model training switch override it (as
# checked in a browser); reports/links.py's addresses set the switch, so they open on the runs table
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
TRIALS, PARENTS = f"tags.`{ROLE_TAG}` = '{TRIAL_ROLE}'", f"tags.`{ROLE_TAG}` = '{STUDY_ROLE}'"  # search filters
# on a trial's run: the start of the study (its token) that last opened it; only that start ends the run
DRIVER_TAG = "shapca.driver"
ENDED_BY_TAG = "shapca.ended_by"  # on a trial's run a later start ended KILLED: its own start died without ending it

def run_name(tags: dict) -> str:
    """A child run's name, short enough for MLflow's runs table: "M=16 · t17 · s1". The full label stays in the
    `variant` tag."""
    dataset = tags.get(DATASET_TAG, "")
    return (f"{short_label(tags.get(VARIANT_TAG, ''))} · {DATASET_ABBREV.get(dataset, dataset)} · "
            f"s{tags.get(SEED_TAG, '')}")


def code_version() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    versions = {}
    for pkg in ("torch", "ray", "transformers", "optuna", "mlflow"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return {COMMIT_TAG: commit or "unknown", VERSIONS_TAG: json.dumps(versions, sort_keys=True)}


def machine_text(resources: dict) -> str:
    """Where a study ran, for the results page: what Ray had for it, and the driver's CPU model and memory."""
    model = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    gpus = int(resources.get("GPU", 0))
    return (f"{int(resources.get('CPU', 0))} CPUs, {gpus or 'no'} GPU{'s' * (gpus != 1)} for the trials; driver: "
            f"{platform.system()} {platform.machine()}, {model}, {memory:.0f} GiB")


def _union(old: str, new: str) -> str:
    """Two comma-separated lists as one, in first-seen order (seeds in numeric order)."""
    items = list(dict.fromkeys(x for x in (old.split(",") + new.split(",")) if x))
    return ",".join(sorted(items, key=int) if all(x.lstrip("-").isdigit() for x in items) else items)


def _lines(old: str, new: str) -> str:
    """Each run's command on a line of its own, a repeat kept once; MLflow keeps a tag to 8,000 characters."""
    lines = list(dict.fromkeys([*old.splitlines(), new]))
    while len("\n".join(lines)) > 7000 and len(lines) > 1:
        lines.pop(0)
    return "\n".join(lines)


def _most(old: str, new: str) -> str:
    """The larger of two whole numbers (either may be empty)."""
    return str(max(int(x) for x in (old, new) if x.strip().isdigit())) if (old + new).strip() else ""


# parent tags every run adds to
ACCUMULATED = {SEEDS_TAG: _union, DATASETS_TAG: _union, COMMAND_TAG: _lines, UNTIL_RESOLVED_TAG: _most}


class StudyRuns:
    """The study's parent run and its children in one MLflow experiment."""

    def __init__(self, uri: str, study: str, preset: str, description: str = ""):
        from mlflow.tracking import MlflowClient

        init_store(uri)
        self.client, self.study, self.preset, self.uri = MlflowClient(tracking_uri=uri), study, preset, uri
        self.token = uuid.uuid4().hex  # this start of the study (ablations/lease.py)
        self.experiment_id = self._experiment_id(description)
        self._parent: str | None = None
        self._opened = False
        self._points: dict[str, bool] = {}  # run id -> whether its scores are logged x100 (reports.contract.POINTS)

    def _experiment_id(self, description: str) -> str:
        """The study's own experiment (made on first use, with the study's description); the shared one of earlier
        versions where this study's parent run already is."""
        legacy = self.client.get_experiment_by_name(EXPERIMENT)
        if legacy and self.client.search_runs([legacy.experiment_id], f"tags.{STUDY_TAG} = '{self.study}' and "
                                               f"{PARENTS}", max_results=1):
            return legacy.experiment_id
        name = f"{EXPERIMENT}/{self.study}"
        exp = self.client.get_experiment_by_name(name)
        if exp is None:
            from mlflow.exceptions import MlflowException

            try:
                exp_id = self.client.create_experiment(name, artifact_location=self._artifacts(name),
                                                        tags={EXPERIMENT_KIND[0]: EXPERIMENT_KIND[1]})
            except MlflowException:  # another run of the study created it since we looked: use that one
                exp = self.client.get_experiment_by_name(name)
                if exp is None:
                    raise
                exp_id = exp.experiment_id
        else:
            exp_id = exp.experiment_id
        if description:
            self.client.set_experiment_tag(exp_id, NOTE_TAG, f"Study `{self.study}`: {description}. One parent run "
                                           f"per preset, one run per table row under it, one per trial under that.")
        return exp_id

    def _artifacts(self, experiment: str) -> str | None:
        """Beside an SQLite store (MLflow's default is the working folder of whoever created the experiment)."""
        if self.uri.startswith("sqlite:///"):
            return str(Path(self.uri[len("sqlite:///"):]).parent / "mlruns" / experiment)
        return None

    def _search(self, where: str, max_results: int = 5000):
        base = f"tags.{STUDY_TAG} = '{self.study}' and tags.{PRESET_TAG} = '{self.preset}'"
        return self.client.search_runs([self.experiment_id], f"{base} and {where}", max_results=max_results)

    # ---- queries ------------------------------------------------------------------------------------------------
    def trial_runs(self, status: str | None = None) -> list:
        """The runs of this study's trials (of one run status, e.g. FINISHED, when given)."""
        return self._search(TRIALS + (f" and attributes.status = '{status}'" if status else ""))

    def end_orphans(self) -> int:
        """Ends KILLED the trial runs an earlier start left RUNNING (it died without ending them: killed outright, its
        machine lost). Called by the start that holds the study's lease, so no live start runs them; a later run of
        the same command reopens any it plans. Returns how many."""
        orphans = self.trial_runs("RUNNING")
        for run in orphans:
            self.client.set_tag(run.info.run_id, ENDED_BY_TAG, f"a later start of the study ({self.token}): the "
                                "start that ran it ended without ending it")
            self.client.set_terminated(run.info.run_id, status="KILLED")
        return len(orphans)

    def done_hashes(self) -> set[str]:
        return {r.data.tags[TRIAL_HASH_TAG] for r in self.trial_runs("FINISHED") if TRIAL_HASH_TAG in r.data.tags}

    def finished_count(self, dataset: str, seed: int) -> int:
        return len(self._search(f"{TRIALS} and attributes.status = 'FINISHED' and tags.{DATASET_TAG} = '{dataset}' "
                                f"and tags.{SEED_TAG} = '{seed}'"))

    def parent_metric(self, key: str, every_study: bool = False) -> list[float]:
        """Every value of a metric logged on this study's parent runs (`every_study`: on the last 50 parent runs of
        any study in the store)."""
        if every_study:
            ids = [e.experiment_id for e in self.client.search_experiments(
                filter_string=f"name LIKE '{EXPERIMENT}%'", max_results=1000)]
            parents = self.client.search_runs(ids, PARENTS, max_results=50, order_by=["attributes.start_time DESC"])
        else:
            parents = self._search(PARENTS)
        return [m.value for p in parents for m in self.client.get_metric_history(p.info.run_id, key)]

    def find_child(self, trial_hash: str) -> str:
        """The run id of the trial's run (which exists: it was created by an earlier `child`)."""
        found = self._search(f"{TRIALS} and tags.{TRIAL_HASH_TAG} = '{trial_hash}'")
        if not found:
            raise TrackingError(f"no MLflow run of trial {trial_hash} in study {self.study} ({self.preset})")
        return found[0].info.run_id

    # ---- writes -------------------------------------------------------------------------------------------------
    def parents(self) -> list:
        """The study's parent runs (one, unless two first starts raced), newest first as the reports read them."""
        return sorted(self._search(PARENTS), key=lambda r: (-(r.info.start_time or 0), r.info.run_id))

    def create_parent(self) -> str:
        run = self.client.create_run(self.experiment_id, run_name=f"{self.study} ({self.preset})",
                                     tags={ROLE_TAG: STUDY_ROLE, STUDY_TAG: self.study, PRESET_TAG: self.preset})
        return run.info.run_id

    @property
    def opened(self) -> bool:
        """This start has opened the study's run (and so must end it)."""
        return self._opened

    def use_parent(self, run_id: str) -> None:
        """The parent this start holds the lease of (ablations/lease.py)."""
        self._parent = run_id

    def parent(self, tags: dict, study_file: Path | None = None) -> str:
        """Opens the study's run for this start: RUNNING, with this start's tags and study file. What each start
        adds accumulates (ACCUMULATED: its seeds, datasets and command join the earlier ones), so the tables'
        captions and the results page speak of every start, not of the last."""
        if self._opened:
            return self._parent
        if not self._parent:
            found = self.parents()
            self._parent = found[0].info.run_id if found else self.create_parent()
        self.client.update_run(self._parent, status="RUNNING")
        before = self.client.get_run(self._parent).data.tags
        for k, v in tags.items():
            merge = ACCUMULATED.get(k)
            self.client.set_tag(self._parent, k, merge(before.get(k, ""), v) if merge else v)
        if study_file is not None:
            self.client.log_artifact(self._parent, str(study_file))
        self._opened = True
        return self._parent

    def close_parent(self, status: str = "FINISHED") -> None:
        """The study's run ends FINISHED once its trials have run (KILLED interrupted, FAILED stopped on an error);
        a rerun opens it again."""
        if self._opened:
            self.client.set_terminated(self._parent, status=status)

    def child(self, trial_hash: str, tags: dict, params: dict) -> tuple[str, set[int]]:
        """The trial's run (reused if this trial ran before) and the epochs it has already logged."""
        found = self._search(f"{TRIALS} and tags.{TRIAL_HASH_TAG} = '{trial_hash}'")
        if found:
            run_id = found[0].info.run_id
            self.client.set_tag(run_id, DRIVER_TAG, self.token)
            # a run begun before scores were logged in points goes on in fractions: one scale within a run
            self._points[run_id] = found[0].data.tags.get(SCALE_TAG) == POINTS
            self.client.update_run(run_id, status="RUNNING")
            if ERROR_TAG in found[0].data.tags:
                self.client.delete_tag(run_id, ERROR_TAG)
            logged = {m.step for m in self.client.get_metric_history(run_id, "epoch_dev_f1")}
            return run_id, logged
        from mlflow.entities import Param
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        run = self.client.create_run(self.experiment_id, run_name=run_name(tags),
                                     tags={MLFLOW_PARENT_RUN_ID: self._parent, ROLE_TAG: TRIAL_ROLE,
                                           STUDY_TAG: self.study, PRESET_TAG: self.preset, TRIAL_HASH_TAG: trial_hash,
                                           DRIVER_TAG: self.token, SCALE_TAG: POINTS, **tags})
        self._points[run.info.run_id] = True
        items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
        for i in range(0, len(items), 100):
            self.client.log_batch(run.info.run_id, params=items[i: i + 100])
        return run.info.run_id, set()

    def log_metrics(self, run_id: str, values: dict, step: int | None = None) -> None:
        from mlflow.entities import Metric

        if any(is_score(k) for k in values) and self._in_points(run_id):
            values = {k: 100 * v if is_score(k) else v for k, v in values.items()}
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step or 0) for k, v in values.items() if isinstance(v, (int, float))]
        if batch:
            self.client.log_batch(run_id, metrics=batch)

    def _in_points(self, run_id: str) -> bool:
        if run_id not in self._points:
            self._points[run_id] = self.client.get_run(run_id).data.tags.get(SCALE_TAG) == POINTS
        return self._points[run_id]

    def finish(self, run_id: str, status: str, error: str = "") -> None:
        """Ends a run FINISHED, KILLED or FAILED (with the error's text) if this start opened it last; KILLED only
        while it runs: a start stopped never ends a run another start reopened, or one that ended."""
        run = self.client.get_run(run_id)
        if run.data.tags.get(DRIVER_TAG, self.token) != self.token or (status == "KILLED" and
                                                                        run.info.status != "RUNNING"):
            print(f"tracking: run {run_id} ({run.data.tags.get(VARIANT_TAG)}) was opened by another start of the "
                  f"study since, or has ended; left {run.info.status}", flush=True)
            return
        if status == "FAILED":
            self.client.set_tag(run_id, ERROR_TAG, error[:4000] or "unknown error")
        self.client.set_terminated(run_id, status=status)
