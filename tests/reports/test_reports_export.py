"""A study's export rebuilds its tables and its results-page section byte for byte; bad exports are refused by line."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from golden_studies import STUDIES
from mlflow.tracking import MlflowClient

from reports import build, export, publish
from reports.contract import COMMAND_TAG, MACHINE_TAG, WALL_METRIC
from reports.mlflow_source import load_study, read_source
from reports.records import ReportError


@pytest.fixture(scope="module")
def exports(fixture_store, tmp_path_factory):
    """Every golden study exported once: study -> path. The main study also has a command, machine and wall time,
    as the runner records them (the command with its machine's store in it)."""
    client = MlflowClient(fixture_store.uri)
    parent = fixture_store.parents["main/cpu"]
    client.set_tag(parent, COMMAND_TAG, "python ablations/run.py --study main --preset cpu --tracking-uri "
                                        "sqlite:////srv/lab/mlflow.db --storage=/srv/lab/runs")
    client.set_tag(parent, MACHINE_TAG, "2 CPUs, no GPUs for the trials")
    client.log_metric(parent, WALL_METRIC, 300.0)
    root = tmp_path_factory.mktemp("exports")
    for study in STUDIES:
        assert export.main(["--study", study, "--tracking-uri", fixture_store.uri,
                            "--out", str(root / f"{study}.jsonl.gz")]) == 0
    return {study: root / f"{study}.jsonl.gz" for study in STUDIES}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".md", ".tex", ".csv", ".html")}


@pytest.mark.parametrize("study", STUDIES)
def test_tables_from_the_export_are_the_tables_from_the_store(study, exports, built, tmp_path):
    folder, from_store = built[study]  # built from the store (conftest)
    assert build.main(["--from", str(exports[study]), "--out", str(tmp_path / "export")]) == 0
    store, exported = _files(folder), _files(tmp_path / "export")
    assert len(store) >= 4 and sorted(store) == sorted(exported)  # tables, tidy.csv, report.md, report.html
    for name in store:
        assert exported[name] == store[name], f"{study}/{name} differs when rebuilt from the export"
    assert sorted(p.name for p in from_store) == sorted(p.name for p in (tmp_path / "export").iterdir())


def test_the_section_from_the_export_is_the_section_from_the_store(exports, fixture_store, tmp_path):
    store_page, export_page = tmp_path / "a.md", tmp_path / "b.md"
    for study in ("main", "factorial"):
        assert publish.main(["--study", study, "--preset", "cpu", "--tracking-uri", fixture_store.uri,
                             "--page", str(store_page)]) == 0
        assert publish.main(["--from", str(exports[study]), "--page", str(export_page)]) == 0
    text = export_page.read_text()
    assert text == store_page.read_text()
    assert ("- Command: `python ablations/run.py --study main --preset cpu` (--tracking-uri, --storage of the "
            "machine that ran it left out)") in text
    assert "- Wall time: 5.0 min over 1 run(s)" in text and "- Machine: 2 CPUs, no GPUs for the trials" in text


def test_the_export_keeps_the_records_and_no_machine_path(exports, fixture_store):
    lines = [json.loads(line) for line in gzip.open(exports["main"], "rt", encoding="utf-8")]
    header, trials = lines[0], lines[1:]
    assert header["format"] == export.FORMAT and header["study"] == "main" and header["preset"] == "cpu"
    assert [r["label"] for r in header["parent"]["plan"]["rows"]] == ["full", "baseline"]
    assert "/srv/lab" not in json.dumps(lines)
    assert header["parent"]["tags"][COMMAND_TAG].endswith("--tracking-uri '<machine>' '--storage=<machine>'")
    source = read_source(MlflowClient(fixture_store.uri), "main", "cpu")
    assert len(trials) == len(source.trials)
    first = trials[0]
    assert {"trial_hash", "config_hash", "seed", "variant", "dataset", "status", "params", "metrics"} <= set(
        first["trial"]) and "artifact_uri" not in first["trial"]
    assert first["history"]["epoch_dev_f1"] and len(first["predictions"]["counts"]) == len(first["predictions"]["ids"])


def test_exporting_twice_gives_the_same_bytes(exports, fixture_store, tmp_path):
    again = tmp_path / "again.jsonl.gz"
    assert export.main(["--study", "main", "--tracking-uri", fixture_store.uri, "--out", str(again)]) == 0
    assert again.read_bytes() == exports["main"].read_bytes()


def test_the_export_reads_back_as_the_store_gives_the_study(exports, fixture_store):
    from_store = load_study(MlflowClient(fixture_store.uri), "factorial")
    from_export = export.load_export(exports["factorial"])
    assert from_export.info == from_store.info
    assert [t.run_id for t in from_export.trials] == [t.run_id for t in from_store.trials]
    assert from_export.notes == from_store.notes and from_export.histories == from_store.histories


def _write(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def test_bad_exports_are_refused_naming_the_file_and_the_line(exports, tmp_path):
    good = gzip.open(exports["main"], "rt", encoding="utf-8").read().splitlines()
    header, trial = good[0], good[1]
    cases = {
        "plain.jsonl.gz": (None, r"plain\.jsonl\.gz:1: not a readable gzip file"),
        "json.jsonl.gz": ([header, trial, "{not json"], r"json\.jsonl\.gz:3: not a JSON line"),
        "format.jsonl.gz": (['{"format": "other"}', trial], r"format\.jsonl\.gz:1: not a study export"),
        "version.jsonl.gz": ([header.replace('"version": 1', '"version": 9'), trial], r":1: export version 9"),
        "field.jsonl.gz": ([header, trial.replace('"seed"', '"sed"')], r"field\.jsonl\.gz:2: not a trial record"),
        "type.jsonl.gz": ([header, trial.replace('"seed": 1', '"seed": "one"')], r"type\.jsonl\.gz:2: trial "
                                                                                  "record with a field of the wrong"),
        "twice.jsonl.gz": ([header, trial, trial], r"twice\.jsonl\.gz:3: run \S+ appears twice"),
        "counts.jsonl.gz": ([header, trial.replace('"counts": [[', '"counts": [[-1, ')], r":2: predictions need"),
        "empty.jsonl.gz": ([header], r"empty\.jsonl\.gz: no trial records"),
    }
    for name, (lines, message) in cases.items():
        path = tmp_path / name
        if lines is None:
            path.write_text("id,tp\n1,2\n")
        else:
            _write(path, lines)
        with pytest.raises(ReportError, match=message):
            export.load_export(path)
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(exports["main"].read_bytes()[:-40])
    with pytest.raises(ReportError, match=r"cut\.jsonl\.gz:\d+: not a readable gzip file"):
        export.load_export(truncated)


def test_cli_errors_exit_2_and_say_why(tmp_path, capsys):
    assert build.main(["--from", str(tmp_path / "absent.jsonl.gz")]) == 2
    assert "absent.jsonl.gz: no such export" in capsys.readouterr().err
    assert publish.main(["--from", str(tmp_path / "absent.jsonl.gz"), "--page", str(tmp_path / "p.md")]) == 2
    assert not (tmp_path / "p.md").exists()


def test_a_command_of_several_runs_keeps_one_line_per_run():
    from reports.export import redacted_command

    command = ("python ablations/run.py --study ablation --until-resolved 12 --tracking-uri sqlite:////a/m.db\n"
               "python ablations/run.py --study ablation --datasets mnre --storage=/a/runs")
    assert redacted_command(command).splitlines() == [
        "python ablations/run.py --study ablation --until-resolved 12 --tracking-uri '<machine>'",
        "python ablations/run.py --study ablation --datasets mnre '--storage=<machine>'"]
