"""End to end on fixture studies in a sqlite MLflow store: golden tables, figures, artifacts, bad input, CLI.

Golden files live in tests/reports/golden/<study>/. After an intended change of the output, regenerate them with
    SHAPCA_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/reports -q
and review the diff (git diff tests/reports/golden) before committing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from golden_studies import STUDIES
from latex_check import latex_problems
from mlflow.tracking import MlflowClient

from reports import build
from reports.build import build_study, main
from reports.records import ReportError

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parents[2]
FIGURES = {"factorial": ["fig_curves_twitter2017", "fig_curves_mnre"],
           "samples": ["fig_sweep_shapley_samples", "fig_curves_twitter2017"],
           "context": ["fig_sweep_data_context", "fig_curves_twitter2015", "fig_curves_twitter2017"],
           "main": ["fig_curves_twitter2017"], "tiny": ["fig_curves_twitter2017"],
           "verdicts": ["fig_curves_twitter2017"],
           "search": ["fig_parallel_twitter2017", "fig_parallel_mnre", "fig_curves_twitter2017", "fig_curves_mnre"]}
UPDATE = os.environ.get("SHAPCA_UPDATE_GOLDEN") == "1"


def _text_outputs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".md", ".tex", ".csv"))


@pytest.mark.parametrize("study", STUDIES)
def test_outputs_match_golden_files(study, built, fixture_store):
    folder, paths = built[study]
    assert sorted(paths) == sorted(folder.iterdir())  # returns exactly what it wrote, nothing else is there
    golden = GOLDEN / study
    produced = {p.name: fixture_store.stable(p.read_text(encoding="utf-8")) for p in _text_outputs(folder)}
    if UPDATE:
        shutil.rmtree(golden, ignore_errors=True)
        golden.mkdir(parents=True)
        for name, text in produced.items():
            (golden / name).write_text(text, encoding="utf-8")
    expected = {p.name: p.read_text(encoding="utf-8") for p in sorted(golden.iterdir())}
    assert sorted(produced) == sorted(expected)
    for name, text in produced.items():
        assert text == expected[name], f"{study}/{name} differs from golden (see module docstring to regenerate)"


@pytest.mark.parametrize("study", STUDIES)
def test_figures_are_png_and_pdf(study, built):
    folder, _ = built[study]
    for stem in FIGURES[study]:
        png, pdf = folder / f"{stem}.png", folder / f"{stem}.pdf"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000
    assert sorted(p.stem for p in folder.glob("fig_*.png")) == sorted(FIGURES[study])


def test_tables_say_what_the_fixture_holds(built):
    ablation = (built["factorial"][0] / "ablation.md").read_text()
    assert [line.split(" | ")[0] for line in ablation.splitlines() if line.startswith("| ")][1:] == [
        "| full", "| w/o shapley", "| w/o fusion", "| w/o context", "| w/o fusion, shapley", "| w/o context, shapley",
        "| w/o context, fusion", "| w/o context, fusion, shapley"]  # the full model first, then study-file order
    assert "| w/o fusion |" in ablation and "(n=1/2)" in ablation  # MNRE lost seed 2 of w/o fusion
    assert "FAILED: run" in ablation and "CUDA out of memory" in ablation
    assert "older config hash(es) h-old left out" in ablation
    attribution = (built["factorial"][0] / "attribution.md").read_text()
    assert "MNRE: missing coalitions ∅, {context}, {fusion}, {shapley} (4 of 8); no attribution." in attribution
    context = (built["context"][0] / "sweep_data_context.md").read_text()
    assert "All runs were trained without images (images=none)." in context
    llava = next(line for line in context.splitlines() if line.startswith("| llava |"))
    assert llava.startswith("| llava | – | – | – | ") and "n=0" not in llava  # never planned on Twitter-2015
    samples = (built["samples"][0] / "sweep_shapley_samples.md").read_text()
    assert "step (ms)" in samples
    assert [line.split(" | ")[0] for line in samples.splitlines() if line.startswith("| ")][1:] == [
        "| 1", "| 4", "| 16", "| closed form"]
    tex = (built["samples"][0] / "sweep_shapley_samples.tex").read_text()
    assert "\\midrule\nclosed form & " in tex  # a rule between the sweep and the named variant
    verdicts = (built["verdicts"][0] / "ablation.md").read_text()
    assert "δ = 2 F1 points (the study's report.margin)" in verdicts
    assert "spent α = 0.05 over looks at 3, 6 shared seeds: 0.0167 at 3, 0.0333 at 6" in verdicts
    assert "| same | 89.7 ± 2.3 | <u>77.6 ± 8.9</u> | <u>83.1 ± 5.7</u>≈ | 0.0 |" in verdicts  # identical predictions
    assert "| close | <u>90.0 ± 4.3</u> (n=6) |" in verdicts  # a row that got seeds beyond the planned 3


@pytest.mark.parametrize("study", STUDIES)
def test_latex_is_well_formed(study, built):
    for tex in sorted(built[study][0].glob("*.tex")):
        assert latex_problems(tex.read_text()) == [], tex.name


def test_latex_checker_catches_broken_tables(built):
    good = (built["main"][0] / "main.tex").read_text()
    assert latex_problems(good) == []
    assert any("braces" in p for p in latex_problems(good.replace(r"\textbf{", r"\textbf{{", 1)))
    assert any("cells for" in p for p in latex_problems(good.replace(r" \\", r" & extra \\", 3)))
    assert "unescaped '_'" in latex_problems(good.replace("Main results", "Main_results"))
    assert "unescaped '%'" in latex_problems(good.replace("Main results", "Main 5% results"))
    assert any("vertical rule" in p for p in latex_problems(good.replace("{lrrr}", "{l|rrr}")))


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles_with_pdflatex(built, tmp_path):
    inputs = [p for s in STUDIES for p in sorted(built[s][0].glob("*.tex"))]
    body = "\n\\clearpage\n".join(p.read_text() for p in inputs)
    document = tmp_path / "tables.tex"
    document.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n" + body +
                        "\n\\end{document}\n")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "tables.pdf").stat().st_size > 1000


def test_outputs_are_logged_to_the_parent_run(built, fixture_store):
    client = MlflowClient(fixture_store.uri)
    logged = {Path(a.path).name for a in client.list_artifacts(fixture_store.parents["main/cpu"], "reports")}
    assert {p.name for p in built["main"][1]} <= logged


def _no_leftovers(parent: Path) -> None:
    assert not [p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_no_runs_for_the_study(fixture_store, tmp_path):
    with pytest.raises(ReportError, match="no runs for study 'nothing'"):
        build_study("nothing", fixture_store.uri, out_dir=tmp_path / "out", log_to_parent=False)
    assert list(tmp_path.iterdir()) == []


def test_mixed_presets_refused_unless_one_is_chosen(fixture_store, tmp_path):
    with pytest.raises(ReportError, match=r"mixed presets: cpu \(1 runs\), full \(1 runs\); choose one"):
        build_study("mixed", fixture_store.uri, out_dir=tmp_path / "out", log_to_parent=False)
    assert list(tmp_path.iterdir()) == []
    paths = build_study("mixed", fixture_store.uri, out_dir=tmp_path / "out", preset="full", log_to_parent=False)
    tidy = (tmp_path / "out" / "tidy.csv").read_text().splitlines()
    assert len(tidy) == 3 and all(",full," in line for line in tidy[1:])  # dev and test row of the full run
    assert "preset full" in (tmp_path / "out" / "main.md").read_text()
    assert sorted(p.name for p in paths) == ["fig_curves_twitter2017.pdf", "fig_curves_twitter2017.png", "main.csv",
                                             "main.md", "main.tex", "report.html", "report.md", "tidy.csv"]


def test_run_without_test_metrics_leaves_previous_report_untouched(fixture_store, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "main.md").write_text("previous report")
    with pytest.raises(ReportError, match=r"run \w+ \(full / twitter2017 / seed 1\) is FINISHED but has no test "
                                          r"metrics: missing test_precision, test_recall, test_f1"):
        build_study("no_test", fixture_store.uri, out_dir=out, log_to_parent=False)
    assert [p.name for p in out.iterdir()] == ["main.md"] and (out / "main.md").read_text() == "previous report"
    _no_leftovers(tmp_path)


def test_failure_while_writing_leaves_nothing_half_written(fixture_store, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "main.md").write_text("previous report")

    def broken_plots(*args, **kwargs):
        raise RuntimeError("disk full while drawing")

    monkeypatch.setattr(build, "plots_for", broken_plots)
    with pytest.raises(RuntimeError, match="disk full"):
        build_study("main", fixture_store.uri, out_dir=out, log_to_parent=False)
    assert [p.name for p in out.iterdir()] == ["main.md"] and (out / "main.md").read_text() == "previous report"
    _no_leftovers(tmp_path)


def test_cli_default_folder_and_error_exit(fixture_store, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--study", "main", "--tracking-uri", fixture_store.uri, "--no-log"]) == 0
    assert (tmp_path / "runs" / "reports" / "main" / "cpu" / "main.tex").is_file()
    assert main(["--study", "nothing", "--tracking-uri", fixture_store.uri]) == 2
    assert "error: no runs for study 'nothing'" in capsys.readouterr().err


def test_script_runs_from_the_repo_root(fixture_store, tmp_path):
    # Script mode (not -m): reports/build.py must make the package importable itself. The error path is the
    # cheapest full start-up; building is covered in-process above.
    result = subprocess.run([sys.executable, "reports/build.py", "--study", "nothing", "--tracking-uri",
                             fixture_store.uri, "--out", str(tmp_path / "out")],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error: no runs for study 'nothing'" in result.stderr
    assert not (tmp_path / "out").exists()
