"""What the runner logs to MLflow for the reports to read, beside the tags of docs/tracking.md: one home for each name.

The runner (ablations/) imports these; reports/ reads by them. A leaf: it imports nothing of the project.
"""
from __future__ import annotations

REPORT_KINDS = ("main", "ablation", "sweep", "factorial")  # a study's `report.kind`: the tables reports/ build
PLAN_ARTIFACT = "plan.json"  # on the parent run: the resolved plan (ablations/plan_record.py writes it)
PREDICTIONS_ARTIFACT = "predictions/test.jsonl"  # on each trial's run: one line per test example at the best epoch
# on the parent run, for the results page (reports/publish.py): the command that ran the study, the machine it ran
# on, and each run's wall time (a metric with one value per run of the command)
COMMAND_TAG, MACHINE_TAG, WALL_METRIC = "command", "machine", "study_wall_s"
# the runner's options in that command that say where the machine keeps a study's runs, not what the study is: the
# results page leaves them out (a reader reruns with their own), an export keeps their names only
MACHINE_OPTIONS = ("--tracking-uri", "--storage", "--address")
# the parent run's tags the reports read (docs/tracking.md): an export keeps these and no others
PARENT_TAGS = ("shapca.role", "study", "preset", "report_kind", "report_params", "seeds", "datasets", COMMAND_TAG,
               MACHINE_TAG)
COMMIT_TAG = "git_commit"  # on each trial's run: the commit of the code that trained it
