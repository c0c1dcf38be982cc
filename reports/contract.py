"""What the runner logs to MLflow for the reports to read (docs/tracking.md): one home for each tag, metric and
artifact name.

The runner (ablations/) writes by these names; reports/ reads by them. A leaf: it imports nothing of the project.
"""
from __future__ import annotations

import re

REPORT_KINDS = ("main", "ablation", "sweep", "factorial")  # a study's `report.kind`: the tables reports/ build

# on every run of a study: whose it is, and whether it is the study's parent run or a trial's run; the table
# builder adds a run per table row and dataset between them (reports/table_runs.py)
ROLE_TAG, STUDY_ROLE, TRIAL_ROLE, ROW_ROLE = "shapca.role", "study", "trial", "row"
STUDY_TAG, PRESET_TAG = "study", "preset"

# on the parent run: what the tables are, and the study's seeds and datasets (comma-separated)
REPORT_KIND_TAG, REPORT_PARAMS_TAG, SEEDS_TAG, DATASETS_TAG = "report_kind", "report_params", "seeds", "datasets"
PLAN_ARTIFACT = "plan.json"  # the resolved plan (ablations/plan_record.py writes it)
REPORTS_ARTIFACTS = "reports"  # the folder of the parent run's artifacts that holds the tables and report.html
# for the results page (reports/publish.py): the command that ran the study, the machine it ran on, and each run's
# wall time (a metric with one value per run of the command)
COMMAND_TAG, MACHINE_TAG, WALL_METRIC = "command", "machine", "study_wall_s"
# the largest seed cap (--until-resolved) of any start of the study: its rows' verdicts are read at the levels of
# those looks, also after a later start without it (plan.json holds the last start's plan only)
UNTIL_RESOLVED_TAG = "until_resolved"
OVERHEAD_METRIC = "study_overhead_s"  # each run's wall time beyond its trials: what the next dry run adds

# on each trial's run: its row, dataset and seed; its identity (the whole config's hash) and its table cell (the
# hash without the seed); for ablation and factorial studies its components (JSON, name -> 0/1); its data.image
VARIANT_TAG, DATASET_TAG, SEED_TAG = "variant", "dataset", "seed"
TRIAL_HASH_TAG, CONFIG_HASH_TAG = "trial_hash", "config_hash"
COMPONENTS_TAG, IMAGES_TAG = "components", "images"
COMMIT_TAG, VERSIONS_TAG = "git_commit", "versions"  # the commit of the code that trained it; its packages' versions
ERROR_TAG = "error"  # a failed trial's error: what went wrong in one line (reports/failure.py), then the traceback
CHECKPOINT_SET_ASIDE_TAG = "checkpoint_set_aside"  # where a state the trial could not read was moved; it restarted
OPTUNA_TRIAL_TAG = "optuna_trial"  # a search's trial: its number in the Optuna study (optuna-dashboard's #k)
STOPPED_EARLY_TAG = "stopped_early"  # "epoch E/N" when the scheduler stopped the trial
NOTE_TAG = "mlflow.note.content"  # a run's or experiment's description, as MLflow's UI shows it
# Scores (precision, recall, F1 of dev and test, per epoch too) are logged x100, in points, as the tables, the paper
# and the margins of docs/statistics.md write them: one scale wherever a person reads a score. A run says so with
# this tag; runs logged before it hold fractions in [0, 1] and lack it. Readers (reports/mlflow_source.py) divide
# by 100 where it is set, so everything past the reader works in fractions, whichever the run holds.
SCALE_TAG, POINTS = "score_scale", "points"
_SCORE = re.compile(r"(epoch_)?(dev|test)_(precision|recall|f1)")


def is_score(metric: str) -> bool:
    """Whether a metric of a trial's run is a score (logged in points where the run has SCALE_TAG)."""
    return _SCORE.fullmatch(metric) is not None


CONFIG_ARTIFACT = "config.yaml"  # the resolved config
PREDICTIONS_ARTIFACT = "predictions/test.jsonl"  # one line per test example at the best epoch
PREDICTIONS_VIEW_ARTIFACT = "predictions/test.html"  # the same, as a page a person reads (reports/predictions_view.py)
# each loss term's encoder gradient norm and its share of the terms' summed norms (shapca/trainer.py): per epoch as
# epoch_<name>, and their mean over the epochs as the trial's own metric
GRADIENT_PREFIXES = ("grad_norm_", "grad_share_")
# the runner's options in that command that say where the machine keeps a study's runs, not what the study is: the
# results page leaves them out (a reader reruns with their own), an export keeps their names only
MACHINE_OPTIONS = ("--tracking-uri", "--storage", "--address")
# the parent run's tags the reports read (docs/tracking.md): an export keeps these and no others
PARENT_TAGS = (ROLE_TAG, STUDY_TAG, PRESET_TAG, REPORT_KIND_TAG, REPORT_PARAMS_TAG, SEEDS_TAG, DATASETS_TAG,
               COMMAND_TAG, MACHINE_TAG, UNTIL_RESOLVED_TAG)
