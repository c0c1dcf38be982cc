"""--until-resolved through the real runner: the seeds a look asks for become ordinary trials of the rows asked for,
the parent keeps the planned seeds, and a rerun of the same command trains nothing again."""
import types
from pathlib import Path

from ablations import run
from reports import comparisons
from reports.contract import SEEDS_TAG
from study_runs import children

STUDY = Path(__file__).resolve().parent / "studies" / "e2e_adaptive.yaml"
ASKED = {("w/o context", "twitter2017"): (3,), ("full", "twitter2017"): (3,)}


def test_added_seeds_are_trials_of_the_rows_a_look_asks_for(ray_local, tmp_path, monkeypatch, capsys):
    seen = []

    def look(data, cap):  # the first look asks for seed 3 of both rows; the next finds them and asks for nothing
        seen.append(sorted((t.variant, t.seed) for t in data.trials))
        runs = ASKED if len(seen) == 1 else {}
        return types.SimpleNamespace(runs=runs, done=not runs, looks=(2, 4), levels=(0.017, 0.033),
                                     lines=lambda: [f"asked {runs}"])

    monkeypatch.setattr(comparisons, "study_round", look)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = ["--study", str(STUDY), "--tracking-uri", uri, "--storage", str(tmp_path / "runs"), "--no-report",
            "--preset", "full", "--until-resolved", "4"]
    assert run.main(argv) == 0
    _, parents, kids = children(uri, "e2e_adaptive")
    assert sorted((k.data.tags["variant"], int(k.data.tags["seed"])) for k in kids) == [
        ("full", 1), ("full", 2), ("full", 3), ("w/o context", 1), ("w/o context", 2), ("w/o context", 3)]
    assert all(k.info.status == "FINISHED" for k in kids)
    assert seen[0] == [("full", 1), ("full", 2), ("w/o context", 1), ("w/o context", 2)] and len(seen[1]) == 6
    assert parents[0].data.tags[SEEDS_TAG] == "1,2"  # the planned seeds: the looks' schedule starts from them
    out = capsys.readouterr().out
    assert out.count("until-resolved: a look at") == 2

    seen.clear()
    assert run.main(argv) == 0  # the same command again: every trial is there, the first look asks for seed 3 again
    assert "4 planned, 4 already finished, 0 to run" in capsys.readouterr().out
    assert len(children(uri, "e2e_adaptive")[2]) == 6  # and finds it: nothing trained twice
