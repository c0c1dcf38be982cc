"""Rows that cannot differ from another row in this setting (a part the data cannot switch on) are named by the dry
run, skipped by the runner unless --run-redundant, recorded in plan.json and noted under the tables."""
import yaml

from ablations.describe import describe
from ablations.options import Options
from ablations.plan import make_plan
from ablations.plan_record import plan_record
from ablations.study_file import load_study

ROW = "w/o context-image alignment"


def test_without_images_the_context_image_row_is_the_full_model_and_is_skipped():
    made = make_plan(load_study("ablation"), Options(study="ablation", preset="cpu"))
    (unit,) = made.units
    ((label, dataset, same_as, why),) = [(r.label, r.dataset, r.same_as, r.why) for r in unit.redundant]
    assert (label, dataset, same_as) == (ROW, "twitter2017", "full")
    assert why.startswith("align.context_image=0.0 has no effect: no images here (data.image=none)")
    assert made.size == 10 and ROW not in {t.label for t in unit.trials}  # 5 rows x 2 seeds, not 6
    text = describe(made)
    assert "redundant  1 row(s) cannot differ from another row here: not run" in text
    assert f"    redundant: {ROW} on twitter2017: same as full here (align.context_image=0.0" in text
    assert plan_record(made)["redundant"] == [{"label": ROW, "dataset": "twitter2017", "same_as": "full",
                                               "why": why}]
    assert ROW not in [r["label"] for r in plan_record(made)["rows"]]  # the rows planned, as the tables read them


def test_run_redundant_runs_them_and_says_so():
    made = make_plan(load_study("ablation"), Options(study="ablation", preset="cpu", run_redundant=True))
    assert made.size == 12 and ROW in {t.label for t in made.units[0].trials}
    assert "cannot differ from another row here: run (--run-redundant)" in describe(made)
    assert plan_record(made)["redundant"] == []  # nothing left out of the tables


def test_with_images_the_row_differs(tmp_path):
    study = yaml.safe_load((load_study("ablation").path).read_text())
    features = tmp_path / "mnre_vit.npz"  # planned files must exist (their content is pinned): any bytes do here
    features.write_bytes(b"features")
    study["base"]["data.image"] = f"features:{features}"
    path = tmp_path / "ablation.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    made = make_plan(load_study(str(path)), Options(study=str(path), preset="cpu"))
    assert made.units[0].redundant == () and made.size == 12
