"""Where a study's runs live in MLflow: an experiment of its own (model training, with the study's description), and
a parent run that every run of the command adds to."""
from mlflow.tracking import MlflowClient

from ablations import tracking
from ablations.tracking import EXPERIMENT_KIND, NOTE_TAG, StudyRuns
from reports.contract import COMMAND_TAG, DATASETS_TAG, SEEDS_TAG, UNTIL_RESOLVED_TAG


def test_each_study_has_its_own_experiment_that_opens_on_its_runs(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    a = StudyRuns(uri, "ablation", "smoke", "full Shap-CA, then without each component")
    b = StudyRuns(uri, "temperature", "smoke")
    assert a.experiment_id != b.experiment_id
    exp = MlflowClient(uri).get_experiment(a.experiment_id)
    assert exp.name == "shapca/ablation"
    assert exp.tags[EXPERIMENT_KIND[0]] == EXPERIMENT_KIND[1]  # MLflow's UI opens it on "Model training"
    assert "full Shap-CA, then without each component" in exp.tags[NOTE_TAG]
    assert StudyRuns(uri, "ablation", "compare").experiment_id == a.experiment_id  # presets share it


def test_a_study_begun_in_the_one_experiment_of_earlier_versions_stays_there(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    client = MlflowClient(uri)
    StudyRuns(uri, "other", "smoke")  # the store exists
    legacy = client.create_experiment(tracking.EXPERIMENT)
    client.create_run(legacy, tags={"shapca.role": "study", "study": "ablation", "preset": "compare"})
    assert StudyRuns(uri, "ablation", "smoke").experiment_id == legacy
    assert StudyRuns(uri, "temperature", "smoke").experiment_id != legacy


def test_the_parent_run_accumulates_seeds_datasets_and_commands(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    first = StudyRuns(uri, "ablation", "smoke").parent(
        {SEEDS_TAG: "2", DATASETS_TAG: "twitter2017", COMMAND_TAG: "python ablations/run.py --seeds 2"})
    for seeds, command in (("1", "--seeds 1"), ("3,1", "--seeds 3 1"), ("1", "--seeds 1")):
        again = StudyRuns(uri, "ablation", "smoke").parent(
            {SEEDS_TAG: seeds, DATASETS_TAG: "twitter2017", COMMAND_TAG: f"python ablations/run.py {command}"})
        assert again == first
    tags = MlflowClient(uri).get_run(first).data.tags
    assert tags[SEEDS_TAG] == "1,2,3" and tags[DATASETS_TAG] == "twitter2017"
    assert tags[COMMAND_TAG].splitlines() == ["python ablations/run.py --seeds 2", "python ablations/run.py --seeds 1",
                                              "python ablations/run.py --seeds 3 1"]


def test_the_largest_seed_cap_of_any_start_stays_on_the_parent_and_the_reports_read_it(tmp_path):
    from reports.assemble import study_info
    from reports.records import ParentRecord

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    first = StudyRuns(uri, "ablation", "compare").parent({UNTIL_RESOLVED_TAG: "12"})  # --until-resolved 12
    StudyRuns(uri, "ablation", "compare").parent({UNTIL_RESOLVED_TAG: ""})  # a later start on another dataset
    tags = MlflowClient(uri).get_run(first).data.tags
    assert tags[UNTIL_RESOLVED_TAG] == "12"
    tags = {"shapca.role": "study", "study": "ablation", "preset": "compare", "report_kind": "ablation",
            "seeds": "1,2,3", "datasets": "twitter2017,mnre", UNTIL_RESOLVED_TAG: "12"}
    plan = {"rows": [], "report": {"kind": "ablation"}}  # the last start's plan: no cap
    parent = ParentRecord(run_id=first, experiment_id="1", start_time=0, tags=tags, plan=plan)
    assert study_info(parent).until_resolved == 12  # its rows are read at the levels of the looks they went through



def test_a_start_cut_to_one_dataset_leaves_the_other_datasets_planned_for_its_rows():
    from reports.assemble import study_info
    from reports.records import ParentRecord, StudyData
    from reports.rows import planned

    tags = {"shapca.role": "study", "study": "main", "preset": "full", "report_kind": "main", "seeds": "1,2,3",
            "datasets": "twitter2017,mnre"}

    def planned_cells(start: list[str], rows: dict[str, list[str]]) -> set[tuple[str, str]]:
        plan = {"datasets": start, "report": {"kind": "main"},
                "rows": [{"label": label, "swept": {}, "datasets": datasets} for label, datasets in rows.items()]}
        info = study_info(ParentRecord(run_id="p", experiment_id="1", start_time=0, tags=tags, plan=plan))
        data = StudyData(info=info, trials=[], failed=[], notes=[])
        return {(v, d) for v in rows for d in ("twitter2017", "mnre") if planned(data, v, d)}

    everything = {(v, d) for v in ("Shap-CA", "text only") for d in ("twitter2017", "mnre")}
    # the last start ran --datasets mnre: its plan lists mnre alone on every row, the Twitter-2017 cells stay planned
    assert planned_cells(["mnre"], {"Shap-CA": ["mnre"], "text only": ["mnre"]}) == everything
    # a row the study file keeps to MNRE, in a start on both datasets
    assert planned_cells(["twitter2017", "mnre"], {"Shap-CA": ["twitter2017", "mnre"], "text only": ["mnre"]}) == \
        everything - {("text only", "twitter2017")}
