"""report.html: the whole study on one self-contained page (tables, figures inline as base64 PNG, notes, links to
every run), for MLflow's artifact viewer, which renders .html but shows .md as plain text.

Nothing is fetched from elsewhere (no external scripts, fonts or style sheets), so the page reads the same offline,
in an e-mail, or inside MLflow's sandboxed frame.

Links, from disk and inside MLflow. A run links to the MLflow UI at `ui_url` (reports/links.py); a figure's PDF to
the file beside the page. MLflow 3.17's artifact viewer shows the page from a blob: URL in an iframe sandboxed with
`allow-scripts` only, and there, as checked in Chromium (tests/reports/test_report_links_browser.py): a plain click
on any link does nothing (no new tab, no top navigation: the sandbox blocks both), a relative link resolves against
blob: and blanks the frame (about:blank#blocked), a link that navigates the frame itself to MLflow's UI shows an
empty page (the UI cannot run in the frame's opaque origin), and a download is blocked; but Ctrl+click (Cmd+click)
and a middle click on an absolute link open it in a new tab, where a run's page works and an artifact downloads. So
the page's one script, run only inside that frame, points every link at the server that serves the frame (its blob:
URL names it, so links follow a tunnel or another port) and the PDFs at that server's artifact download, shows how
to open them, and answers a plain click by showing the link's address to copy instead of blanking the frame.
"""
from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from reports.contract import REPORTS_ARTIFACTS
from reports.links import DEFAULT_UI_URL, artifact_url, run_url
from reports.names import dataset_name
from reports.records import StudyData
from reports.render import plain_parts
from reports.table_model import Table

_STYLE = """body{font-family:sans-serif;max-width:72em;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{padding:.2em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}thead{border-bottom:1px solid #444}
table{border-top:2px solid #444;border-bottom:2px solid #444}tr.rule{border-top:1px solid #999}
.caption{font-size:.9em;color:#444}img{max-width:100%}figure{margin:1em 0}.notes{font-size:.85em;color:#555}
#in-mlflow{background:#fff8dc;border:1px solid #d8c27a;padding:.4em .8em;font-size:.9em}
#in-mlflow input{width:100%;font-family:monospace;margin-top:.3em}"""

# Runs only where the page is a blob: (MLflow's artifact viewer): every link with data-mlflow becomes that address on
# the server that serves the frame; a plain click, which the sandbox would swallow, shows the address to copy.
_SCRIPT = """(function(){if(location.protocol!=="blob:")return;
var ui=new URL(location.href.slice(5)).origin+document.body.getAttribute("data-ui-path");
var note=document.getElementById("in-mlflow"),box=document.getElementById("copy");note.hidden=false;
document.querySelectorAll("a[data-mlflow]").forEach(function(a){a.href=ui+a.getAttribute("data-mlflow");
a.addEventListener("click",function(e){if(e.ctrlKey||e.metaKey||e.button!==0)return;e.preventDefault();
box.hidden=false;box.value=a.href;box.focus();box.select();});});})();"""

_IN_MLFLOW = ('<p id="in-mlflow" hidden>In MLflow\'s artifact viewer a plain click cannot leave this frame: '
              "<b>Ctrl+click</b> (⌘+click on a Mac) or middle-click a link to open it in a new tab (a run\'s page; a "
              "PDF downloads), or click it to show its address here to copy."
              '<input id="copy" hidden readonly aria-label="address of the link"></p>')


def _link(ui_url: str, experiment_id: str, run_id: str) -> str:
    """A run's link: the UI's address of the run, and its path on any UI for the script (data-mlflow)."""
    path = run_url("", experiment_id, run_id)
    return (f'<a href="{escape(ui_url.rstrip("/") + path)}" data-mlflow="{escape(path)}" target="_blank" '
            f'rel="noopener">{escape(run_id)}</a>')


def _cell_html(cell) -> str:
    core, marker, note = plain_parts(cell)
    text = escape(core)
    emphasis = getattr(cell, "emphasis", "")
    text = f"<b>{text}</b>" if emphasis == "best" else f"<u>{text}</u>" if emphasis == "second" else text
    return text + escape(marker + note)


def table_html(table: Table, links: dict[str, str]) -> str:
    """A Table as HTML; a cell holding a run id becomes a link to the run (`links`: run id -> anchor HTML)."""
    table.check()
    head = ""
    groups = [c.group for c in table.columns]
    if any(groups):
        spans, previous = [], None
        for group in groups:
            if spans and group == previous:
                spans[-1][1] += 1
            else:
                spans.append([group, 1])
            previous = group
        head = "<tr><th></th>" + "".join(f'<th colspan="{n}">{escape(g)}</th>' for g, n in spans) + "</tr>"
    head += "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in [table.row_header, *(c.name for c in table.columns)])
    body = []
    for row in table.rows:
        cells = [links.get(getattr(c, "text", None)) or _cell_html(c) for c in row.cells]
        css = ' class="rule"' if row.rule_before else ""
        body.append(f"<tr{css}><td>{escape(row.label)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    notes = "".join(f"<li>{escape(n)}</li>" for n in table.notes)
    return (f'<section id="{escape(table.name)}"><h2>{escape(table.title)}</h2>'
            f'<p class="caption">{escape(table.caption)}</p>'
            f"<table><thead>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            + (f'<ul class="notes">{notes}</ul>' if notes else "") + "</section>")


def _figure_html(png: Path, parent_run_id: str) -> str:
    """The figure inline; its PDF beside this page on disk, or in the parent run's reports/ inside MLflow."""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    stored = artifact_url("", parent_run_id, f"{REPORTS_ARTIFACTS}/{png.stem}.pdf")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape(png.stem)}">'
            f'<figcaption>{escape(png.stem)} (<a href="{escape(png.stem)}.pdf" data-mlflow="{escape(stored)}">PDF'
            "</a>)</figcaption></figure>")


def _runs_html(data: StudyData, ui_url: str) -> str:
    rows = []
    for trial in sorted(data.trials + data.failed, key=lambda t: (t.dataset, t.variant, t.seed or 0, t.run_id)):
        dev, test = trial.metrics.get("dev_f1"), trial.metrics.get("test_f1")
        scores = [("–" if v is None else f"{100 * v:.1f}") for v in (dev, test)]
        rows.append(f"<tr><td>{escape(trial.variant)}</td><td>{escape(dataset_name(trial.dataset))}</td>"
                    f"<td>{trial.seed if trial.seed is not None else '?'}</td><td>{escape(trial.status)}"
                    + (f", stopped early ({escape(trial.stopped_early)})" if trial.stopped_early else "") + "</td>"
                    f"<td>{scores[0]}</td><td>{scores[1]}</td>"
                    f"<td>{_link(ui_url, trial.experiment_id, trial.run_id)}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("variant", "dataset", "seed", "status", "dev F1", "test F1", "run"))
    return (f'<section id="runs"><h2>Runs</h2><p class="caption">Every counted and failed run of the study; the '
            f"links open the run in the MLflow UI at {escape(ui_url)} (inside MLflow: the UI that shows this "
            "page).</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></section>")


def report_html(data: StudyData, tables: list[Table], figures: list[Path], summary: list[str],
                notes: list[str], ui_url: str = DEFAULT_UI_URL) -> str:
    info = data.info
    links = {t.run_id: _link(ui_url, t.experiment_id, t.run_id) for t in data.trials + data.failed}
    parts = [f"<h1>Study {escape(info.name)} (preset {escape(info.preset)})</h1>",
             f"<p>Report kind {escape(info.kind)}{' (search: ' + escape(info.search) + ')' if info.is_hpo else ''}; "
             f"{len(data.trials)} finished trial run(s) counted, {len(data.failed)} failed; datasets "
             f"{escape(', '.join(dataset_name(d) for d in info.datasets))}; seeds "
             f"{escape(', '.join(map(str, info.seeds)))}; parent run "
             f"{_link(ui_url, info.experiment_id, info.parent_run_id)}.</p>"]
    if summary:
        parts.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in summary) + "</ul>")
    parts += [table_html(t, links) for t in tables]
    if notes and not tables:
        parts.append('<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    pngs = [f for f in figures if f.suffix == ".png"]
    if pngs:
        parts.append('<section id="figures"><h2>Figures</h2>'
                     + "".join(_figure_html(f, info.parent_run_id) for f in pngs) + "</section>")
    parts.append(_runs_html(data, ui_url))
    title = escape(f"Study {info.name} ({info.preset})")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<style>{_STYLE}</style></head><body data-ui-path="{escape(urlsplit(ui_url).path.rstrip("/"))}">\n'
            + "\n".join([_IN_MLFLOW, *parts]) + f"\n<script>{_SCRIPT}</script>\n</body></html>\n")
