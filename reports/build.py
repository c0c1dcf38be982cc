"""Build a study's paper tables and plots from MLflow.

    python reports/build.py --study shapley_samples [--tracking-uri URI] [--preset P] [--out DIR] [--no-log]
                            [--ui-url URL]
    python reports/build.py --from results/shapley_samples-compare.jsonl.gz [--out DIR] [--ui-url URL]

Outputs go to DIR (default runs/reports/<study>/<preset>/ under the working directory): for each table
<name>.md, <name>.tex and <name>.csv, the tidy frame tidy.csv, the figures fig_*.png / fig_*.pdf, report.md with
every table and figure, and report.html, the same page self-contained (figures inline). Everything is written into a
temporary folder beside DIR and moved into place only when all of it is done, so a failed build leaves the previous
report untouched. The files are then logged under reports/ as artifacts of the study's parent MLflow run, and the
study's summary (best dev F1 per dataset, the test F1 of that choice, trial counts) as its metrics and tags. The
runner calls build_study at the end of each study. With --from, the study is read from its export
(reports/export.py) instead of the store, and nothing is logged: the files are those the store gives.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import mlflow
from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient

from reports.attribution_table import attribution_table, fillable, omitted_note
from reports.breakdown import breakdown_tables
from reports.hpo import hpo_tables
from reports.contract import REPORTS_ARTIFACTS
from reports.html_report import report_html
from reports.links import DEFAULT_UI_URL
from reports.links import ui_url as ui_of
from reports.export import load_export
from reports.mlflow_source import load_study
from reports.plots import plots_for
from reports.records import ReportError, StudyData
from reports.render import to_csv, to_latex, to_markdown
from reports.summary import summary, summary_lines
from reports.table_model import Table
from reports.table_runs import log_table_runs
from reports.tables import ablation_table, main_table, study_notes, sweep_table
from reports.tidy import aggregate, tidy_csv, tidy_frame


def default_out_dir(study: str, preset: str) -> Path:
    return Path("runs") / "reports" / study / preset


def tables_for(data: StudyData, aggregated) -> list[Table]:
    """The tables the study calls for: its kind's (the parent run's report_kind tag; a search, whatever its kind,
    gets the search tables), then the per-type breakdown where the predictions carry labels."""
    return kind_tables(data, aggregated) + breakdown_tables(data)


def kind_tables(data: StudyData, aggregated) -> list[Table]:
    kind = data.info.kind
    if data.info.is_hpo:
        return hpo_tables(data)
    if kind == "main":
        return [main_table(data, aggregated)]
    if kind == "factorial" or (kind == "ablation" and fillable(data)):
        return [ablation_table(data, aggregated), attribution_table(data, aggregated)]
    if kind == "ablation":  # an attribution table it cannot fill is left out, and the table says who would fill it
        table = ablation_table(data, aggregated)
        table.notes += [omitted_note(data)] if any(t.components for t in data.trials) else []
        return [table]
    if not data.info.params:
        raise ReportError(f"study {data.info.name!r} is a sweep but its parent run has no 'report_params' tag")
    return [sweep_table(data, aggregated, key) for key in data.info.params]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _report_markdown(data: StudyData, tables: list[Table], figures: list[Path], summary_text: list[str]) -> str:
    info = data.info
    lines = [f"# Study {info.name} (preset {info.preset})", "",
             "The same page with its figures drawn: report.html (MLflow's artifact viewer renders it; it shows this "
             "file as plain text).", "",
             f"Report kind {info.kind}; {len(data.trials)} finished trial run(s) counted, {len(data.failed)} failed; "
             f"datasets {', '.join(info.datasets)}; seeds {', '.join(map(str, info.seeds))}; "
             f"parent run {info.parent_run_id}.", "",
             f"Built with `python reports/build.py --study {info.name} --preset {info.preset}`.", ""]
    lines += [*(f"- {line}" for line in summary_text), ""] if summary_text else []
    for table in tables:
        lines.append(to_markdown(table, heading_level=2))
    if not tables:
        lines += ["No tables for this report kind.", *(f"- {note}" for note in study_notes(data)), ""]
    pngs = [f for f in figures if f.suffix == ".png"]
    if pngs:  # an image alone in its paragraph: Markdown viewers that draw images draw these
        lines += ["## Figures", ""]
        for f in pngs:
            lines += [f"![{f.stem}]({f.name})", "", f"{f.stem}: [PNG]({f.name}), [PDF]({f.stem}.pdf)", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_report(data: StudyData, folder: Path, ui_url: str = DEFAULT_UI_URL) -> list[Path]:
    """Write every table, the tidy frame, the figures, report.md and report.html into folder (which must exist)."""
    tidy = tidy_frame(data)
    aggregated = aggregate(tidy)
    tables = tables_for(data, aggregated)
    written = [_write(folder / "tidy.csv", tidy_csv(tidy))]
    for table in tables:
        written += [_write(folder / f"{table.name}.md", to_markdown(table)),
                    _write(folder / f"{table.name}.tex", to_latex(table)),
                    _write(folder / f"{table.name}.csv", to_csv(table))]
    figures = plots_for(data, aggregated, folder)
    written += figures
    summary_text = summary_lines(data, tidy)
    written.append(_write(folder / "report.md", _report_markdown(data, tables, figures, summary_text)))
    html = report_html(data, tables, figures, summary_text, study_notes(data), ui_url)
    written.append(_write(folder / "report.html", html))
    return written


def log_summary(client: MlflowClient, data: StudyData) -> None:
    """Best dev F1 (and the test F1 of that choice) per dataset as metrics, trial counts as metrics and tags."""
    metrics, tags = summary(data, tidy_frame(data))
    run_id = data.info.parent_run_id
    client.log_batch(run_id, metrics=[Metric(k, v, int(time.time() * 1000), 0) for k, v in sorted(metrics.items())],
                     tags=[RunTag(k, v) for k, v in sorted(tags.items())])


def _move_into_place(staged: Path, folder: Path) -> None:
    """Swap the finished staging folder in for the previous report (if any), then delete the previous one."""
    old = None
    if folder.exists():
        if not folder.is_dir():
            raise ReportError(f"output path {folder} exists and is not a folder")
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
        os.replace(folder, old / folder.name)
    os.replace(staged, folder)
    if old is not None:
        shutil.rmtree(old)


def write_study(data: StudyData, out_dir: Path | None = None, ui_url: str = DEFAULT_UI_URL) -> list[Path]:
    """Write the study's report to out_dir (default runs/reports/<study>/<preset>), all of it or, on error, none
    of it (the previous report stays); return the written files."""
    folder = Path(out_dir) if out_dir is not None else default_out_dir(data.info.name, data.info.preset)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        names = [path.name for path in write_report(data, staged, ui_url)]
        _move_into_place(staged, folder)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return [folder / name for name in names]


def build_study(study: str, tracking_uri: str, out_dir: Path | None = None, preset: str | None = None,
                log_to_parent: bool = True, ui_url: str | None = None) -> list[Path]:
    """Build the study's tables and plots; return the written files (under out_dir). Raises ReportError on bad
    input (no runs, mixed presets, a finished run without test metrics, ...), having written nothing. With
    log_to_parent, the files go to the parent run's artifacts and the summary to its metrics and tags. ui_url: the
    MLflow UI that report.html links runs to (default: the tracking URI when it is a server, else mlflow ui's)."""
    client = MlflowClient(tracking_uri)
    data = load_study(client, study, preset)
    paths = write_study(data, out_dir, ui_of(tracking_uri, ui_url))
    if log_to_parent:
        client.log_artifacts(data.info.parent_run_id, str(paths[0].parent), artifact_path=REPORTS_ARTIFACTS)
        log_summary(client, data)
        log_table_runs(client, data, aggregate(tidy_frame(data)))  # MLflow's runs table as the paper's table
    return paths


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """Where a study is read from: the MLflow store (--study, --preset, --tracking-uri) or an export (--from)."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--study", help="study name (the runs' 'study' tag)")
    where.add_argument("--from", dest="export", type=Path, default=None,
                       help="a study's export (reports/export.py), read instead of the store")
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else MLflow's default)")
    parser.add_argument("--preset", default=None, help="preset to report; needed when runs of several exist")


def study_data(args: argparse.Namespace) -> StudyData:
    """The study the options name, from the store or from its export."""
    if args.export is None:
        return load_study(MlflowClient(args.tracking_uri or mlflow.get_tracking_uri()), args.study, args.preset)
    data = load_export(args.export)
    if args.preset not in (None, data.info.preset):
        raise ReportError(f"{args.export} holds preset {data.info.preset!r}, not {args.preset!r}")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_options(parser)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/reports/<study>/<preset>)")
    parser.add_argument("--no-log", action="store_true", help="do not log the outputs to the parent MLflow run "
                        "(never logged with --from)")
    parser.add_argument("--ui-url", default=None, help="MLflow UI that report.html links the runs to (default: the "
                        f"tracking URI when it is http(s), else {DEFAULT_UI_URL})")
    args = parser.parse_args(argv)
    try:
        if args.export is not None:
            paths = write_study(study_data(args), args.out, args.ui_url or DEFAULT_UI_URL)
        else:
            paths = build_study(args.study, args.tracking_uri or mlflow.get_tracking_uri(), args.out, args.preset,
                                log_to_parent=not args.no_log, ui_url=args.ui_url)
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} files to {paths[0].parent}")
    for path in paths:
        print(f"  {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
