"""report.html: the whole study on one self-contained page (tables, figures inline as base64 PNG, notes, links to
every run), for MLflow's artifact viewer, which renders .html but shows .md as plain text.

Nothing is fetched from elsewhere (no scripts, fonts or style sheets), so the page reads the same offline, in an
e-mail, or inside MLflow's sandboxed frame. Run links point at the MLflow UI given by `ui_url`; they open in a new tab
because a frame cannot navigate the UI around it.
"""
from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from reports.names import dataset_name
from reports.records import StudyData
from reports.render import plain_parts
from reports.table_model import Table

DEFAULT_UI_URL = "http://127.0.0.1:5000"  # where `mlflow ui` listens by default

_STYLE = """body{font-family:sans-serif;max-width:72em;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{padding:.2em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}thead{border-bottom:1px solid #444}
table{border-top:2px solid #444;border-bottom:2px solid #444}tr.rule{border-top:1px solid #999}
.caption{font-size:.9em;color:#444}img{max-width:100%}figure{margin:1em 0}.notes{font-size:.85em;color:#555}"""


def run_url(ui_url: str, experiment_id: str, run_id: str) -> str:
    return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def _link(ui_url: str, experiment_id: str, run_id: str) -> str:
    return (f'<a href="{escape(run_url(ui_url, experiment_id, run_id))}" target="_blank" rel="noopener">'
            f"{escape(run_id)}</a>")


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


def _figure_html(png: Path) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape(png.stem)}">'
            f"<figcaption>{escape(png.stem)} (<a href=\"{escape(png.stem)}.pdf\">PDF</a> beside this page)"
            "</figcaption></figure>")


def _runs_html(data: StudyData, ui_url: str) -> str:
    rows = []
    for trial in sorted(data.trials + data.failed, key=lambda t: (t.dataset, t.variant, t.seed or 0, t.run_id)):
        dev, test = trial.metrics.get("dev_f1"), trial.metrics.get("test_f1")
        scores = [("–" if v is None else f"{100 * v:.1f}") for v in (dev, test)]
        rows.append(f"<tr><td>{escape(trial.variant)}</td><td>{escape(dataset_name(trial.dataset))}</td>"
                    f"<td>{trial.seed if trial.seed is not None else '?'}</td><td>{escape(trial.status)}</td>"
                    f"<td>{scores[0]}</td><td>{scores[1]}</td>"
                    f"<td>{_link(ui_url, trial.experiment_id, trial.run_id)}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("variant", "dataset", "seed", "status", "dev F1", "test F1", "run"))
    return (f'<section id="runs"><h2>Runs</h2><p class="caption">Every counted and failed run of the study; the '
            f"links open the run in the MLflow UI at {escape(ui_url)}.</p>"
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
        parts.append('<section id="figures"><h2>Figures</h2>' + "".join(_figure_html(f) for f in pngs) + "</section>")
    parts.append(_runs_html(data, ui_url))
    title = escape(f"Study {info.name} ({info.preset})")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
