"""The runner's command line becomes one typed Options: lists as tuples, numbers as numbers, a local storage folder
made absolute, environment defaults where an option is left out, and the command as typed for the resume hint."""
import pytest

from ablations.options import Options


def test_the_command_line_is_typed_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    options = Options.parse(["--study", "temperature", "--seeds", "1", "2", "--datasets", "mnre", "--set",
                             "train.lr=3e-5", "--max-failures", "2", "--tracking-wait", "5", "--storage", "out",
                             "--dry-run"])
    assert (options.study, options.preset, options.dry_run, options.status) == ("temperature", None, True, False)
    assert options.seeds == (1, 2) and options.datasets == ("mnre",) and options.variants is None
    assert options.set == ("train.lr=3e-5",) and options.max_failures == 2 and options.tracking_wait == 5.0
    assert options.storage == str(tmp_path / "out") and options.address == "ray://head:10001"
    assert Options.parse(["--study", "s", "--storage", "s3://bucket/runs"]).storage == "s3://bucket/runs"


def test_the_command_is_kept_as_typed_for_the_parent_run_and_the_resume_hint():
    options = Options.parse(["--study", "ablation", "--variants", "full", "w/o context"])
    assert options.command() == "python ablations/run.py --study ablation --variants full 'w/o context'"
    assert options.resume_command() == options.command() + " --resume"
    resumed = Options.parse(["--study", "hpo", "--resume"])
    assert resumed.resume_command() == resumed.command()


def test_a_missing_study_or_a_wrong_backend_is_refused(capsys):
    with pytest.raises(SystemExit):
        Options.parse([])
    with pytest.raises(SystemExit):
        Options.parse(["--study", "s", "--backend", "mpi"])
    assert "invalid choice: 'mpi'" in capsys.readouterr().err
