"""Addresses in the MLflow UI of a study's runs, its saved table view, one run and one artifact: one home for the
URLs the runner prints and report.html links to, for any tracking server.

The UI is the tracking server itself when the tracking URI is http(s) (it serves the UI), else `mlflow ui` over the
same store, which listens on 127.0.0.1:5000 unless told otherwise (`--ui-url` says where it is instead).

MLflow 3.17's UI opens an experiment on its GenAI overview, whatever the experiment's `mlflow.experimentKind` tag
says: a switch in its side bar, kept in the browser, decides, and the URL parameter `workflowType=machine_learning`
sets it. Every address here carries it, so a link opens on the runs table. `viewStateShareKey` opens a saved view
(an experiment tag `mlflow.sharedViewState.<key>`, reports/table_runs.py writes it).
"""
from __future__ import annotations

from urllib.parse import quote, urlsplit

DEFAULT_UI_URL = "http://127.0.0.1:5000"  # where `mlflow ui` listens by default
RUNS_TABLE = "workflowType=machine_learning"  # opens MLflow 3's UI on its runs table (model training), not GenAI
SERVERS = ("http://", "https://")


def ui_url(tracking_uri: str, given: str | None = None) -> str:
    """The UI over the store: `given` (an option), else the tracking server, else where `mlflow ui` listens."""
    return (given or (tracking_uri if tracking_uri.startswith(SERVERS) else DEFAULT_UI_URL)).rstrip("/")


def runs_url(ui: str, experiment_id: str, view: str | None = None) -> str:
    """The experiment's runs table; with `view`, its saved view of that key."""
    return (f"{ui.rstrip('/')}/#/experiments/{experiment_id}/runs?{RUNS_TABLE}"
            + (f"&viewStateShareKey={quote(view)}" if view else ""))


def run_url(ui: str, experiment_id: str, run_id: str) -> str:
    return f"{ui.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}?{RUNS_TABLE}"


def artifact_url(ui: str, run_id: str, path: str) -> str:
    """The artifact's download address (the server sends every artifact as an attachment)."""
    return f"{ui.rstrip('/')}/get-artifact?path={quote(path, safe='')}&run_uuid={run_id}"


def ui_command(tracking_uri: str, ui: str = DEFAULT_UI_URL) -> str | None:
    """The command that serves the UI over the store at `ui`; None for a tracking server (it serves its own). A
    password in the URI is shown as ***."""
    if tracking_uri.startswith(SERVERS):
        return None
    parts = urlsplit(tracking_uri)
    shown = tracking_uri.replace(f":{parts.password}@", ":***@", 1) if parts.password else tracking_uri
    where = urlsplit(ui)
    listen = "" if ui == DEFAULT_UI_URL else f" --host {where.hostname} --port {where.port or 80}"
    return f"mlflow ui --backend-store-uri '{shown}'{listen}"


def next_steps(tracking_uri: str, ui: str, experiment_id: str, view: str | None, report: str | None) -> list[str]:
    """What a study's run prints at its end: how to open MLflow, the study's table and runs in it, its report."""
    command = ui_command(tracking_uri, ui)
    lines = ["next:", f"  {command}   # MLflow's UI at {ui}, then open" if command
             else f"  MLflow's UI: the tracking server serves it at {ui}"]
    if view:
        lines.append(f"  the study's table:         {runs_url(ui, experiment_id, view)}")
    lines.append(f"  every run of the study:    {runs_url(ui, experiment_id)}")
    if report:
        lines.append(f"  the report:                {report}")
    return lines
