"""A study run one seed at a time (`--seeds 1`, then `--seeds 2`, then `--seeds 3`) reads as one study of three seeds:
the parent run accumulates them, so the caption speaks of every run, never of the last one alone; a parent run that
names fewer seeds than its cells hold (written before it accumulated) does not make the caption say "single run"."""
import json

from mlflow.tracking import MlflowClient

from ablations.tracking import StudyRuns
from reports.build import build_study
from reports.contract import COMMAND_TAG, DATASETS_TAG, REPORT_KIND_TAG, REPORT_PARAMS_TAG, SEEDS_TAG

ROWS = {"rows": [{"label": v, "overrides": {}, "swept": {}, "components": None, "datasets": ["twitter2017"]}
                 for v in ("full", "w/o context")], "report": {"kind": "ablation"}}


def _run_with_seed(uri: str, seed: int) -> str:
    """What one run of the command logs: the parent (reopened) with its seed, and a trial per row."""
    runs = StudyRuns(uri, "ablation", "smoke", "ablation in parts")
    parent = runs.parent({REPORT_KIND_TAG: "ablation", REPORT_PARAMS_TAG: "", SEEDS_TAG: str(seed),
                          DATASETS_TAG: "twitter2017", COMMAND_TAG: f"python ablations/run.py --seeds {seed}"})
    runs.client.log_dict(parent, ROWS, "plan.json")
    for variant, quality in (("full", 0.8), ("w/o context", 0.6)):
        tags = {"variant": variant, "dataset": "twitter2017", "seed": str(seed), "config_hash": variant}
        run_id, _ = runs.child(f"{variant}-{seed}", tags, {})
        hits = [int((3 * i + seed) % 10 < 10 * quality) for i in range(40)]
        runs.client.log_text(run_id, "".join(json.dumps({"id": str(i), "tp": h, "fp": 1 - h, "fn": 1 - h}) + "\n"
                                             for i, h in enumerate(hits)), "predictions/test.jsonl")
        f1 = sum(hits) / 40
        runs.log_metrics(run_id, {f"{s}_{m}": f1 for s in ("dev", "test") for m in ("precision", "recall", "f1")})
        runs.finish(run_id, "FINISHED")
    runs.close_parent()
    return parent


def test_three_partial_runs_make_one_study_of_three_seeds(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    parents = {_run_with_seed(uri, seed) for seed in (1, 2, 3)}
    assert len(parents) == 1  # every run reopened the one parent run
    tags = MlflowClient(uri).get_run(parents.pop()).data.tags
    assert tags[SEEDS_TAG] == "1,2,3" and len(tags[COMMAND_TAG].splitlines()) == 3
    build_study("ablation", uri, out_dir=tmp_path / "report")
    table = (tmp_path / "report" / "ablation.md").read_text()
    assert "single run" not in table
    assert "mean ± sample standard deviation over 3 seeds (1, 2, 3)" in table
    assert "n=" not in table.split("|:---|")[1]  # every cell has the 3 seeds the caption says
    csv = (tmp_path / "report" / "ablation.csv").read_text()
    assert ",3," in csv.splitlines()[1]


def test_a_parent_that_names_one_seed_does_not_call_three_seeds_a_single_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    for seed in (1, 2, 3):
        parent = _run_with_seed(uri, seed)
    MlflowClient(uri).set_tag(parent, SEEDS_TAG, "3")  # as the last partial run left it before parents accumulated
    build_study("ablation", uri, out_dir=tmp_path / "report")
    table = (tmp_path / "report" / "ablation.md").read_text()
    assert "single run" not in table and "over the seeds its row ran (1, 2, 3" in table
