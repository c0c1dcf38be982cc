"""report.html's structure, the parent run's summary, the search (HPO) report and per-type breakdown, and figures at
their smallest (one epoch, one seed, all-zero scores)."""
from __future__ import annotations

import base64
from html.parser import HTMLParser

import numpy as np
import pytest
from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from reports.breakdown import label_counts, task_of
from reports.hpo import epsilon_squared
from reports.mlflow_source import load_study
from reports.plots import curves_figure, fit_legend, spread_label, sweep_figure
from reports.hpo_plots import parallel_figure
from reports.links import run_url
from reports.records import Predictions, ReportError
from reports.tidy import aggregate, tidy_frame


class _Page(HTMLParser):
    """Collects what the structure test looks at: tables, images, links, and anything loaded from elsewhere."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self.links, self.external, self.sections = 0, [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tables += tag == "table"
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "a":
            self.links.append(attrs.get("href", ""))
        if tag in ("link", "iframe") or (tag in ("img", "script") and "://" in attrs.get("src", "")):
            self.external.append(tag)
        if tag == "section":
            self.sections.append(attrs.get("id"))


def _page(folder) -> _Page:
    page = _Page()
    page.feed((folder / "report.html").read_text(encoding="utf-8"))
    return page


@pytest.mark.parametrize("study", ["search", "factorial"])
def test_html_report_is_self_contained_with_tables_figures_and_run_links(study, built, fixture_store):
    folder, paths = built[study]
    assert folder / "report.html" in paths
    page = _page(folder)
    tables = sorted(p.stem for p in folder.glob("*.md") if p.name != "report.md")
    assert page.sections == [*[s for s in page.sections if s in tables], "figures", "runs"]
    assert sorted(s for s in page.sections if s not in ("figures", "runs")) == tables
    assert page.tables == len(tables) + 1  # every table, and the list of runs
    assert len(page.images) == len(list(folder.glob("fig_*.png")))
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.external == []
    client = MlflowClient(fixture_store.uri)
    data = load_study(client, study)
    run_links = [link for link in page.links if "/runs/" in link]
    for trial in data.trials + data.failed:
        expected = run_url("http://127.0.0.1:5000", trial.experiment_id, trial.run_id)
        assert expected in run_links and "workflowType=machine_learning" in expected, trial.describe()
    assert f"/#/experiments/{data.info.experiment_id}/runs/{data.info.parent_run_id}" in run_links[0]


def test_html_report_and_summary_are_on_the_parent_run(built, fixture_store):
    client = MlflowClient(fixture_store.uri)
    parent = fixture_store.parents["search/cpu"]
    assert "reports/report.html" in {a.path for a in client.list_artifacts(parent, "reports")}
    run = client.get_run(parent)
    best = (built["search"][0] / "hpo_best.csv").read_text().splitlines()
    twitter = next(line for line in best if line.startswith("Twitter-2017,"))
    assert f"{run.data.metrics['best_dev_f1.twitter2017']:.4f}" in twitter  # in points, as the CSV
    assert f"{run.data.metrics['best_test_f1.twitter2017']:.4f}" in twitter
    assert run.data.metrics["trials_counted"] == 20 and run.data.metrics["trials_failed"] == 0
    assert run.data.tags["summary.trials"] == "20 counted, 0 failed"
    assert "model.fusion_gate=" in run.data.tags["summary.best.mnre"]
    factorial = client.get_run(fixture_store.parents["factorial/cpu"]).data
    assert factorial.metrics["trials_failed"] == 1 and factorial.tags["summary.best.twitter2017"] == "full"


def test_search_gets_search_tables_not_one_parameter_sweeps(built):
    folder, _ = built["search"]
    names = sorted(p.stem for p in folder.glob("*.csv"))
    assert names == ["breakdown_mnre", "breakdown_twitter2017", "hpo_best", "hpo_importance", "hpo_trials", "tidy"]
    assert not list(folder.glob("fig_sweep_*"))
    trials = [line.split(" | ") for line in (folder / "hpo_trials.md").read_text().splitlines()
              if line.startswith("| #")]
    for dataset in ("Twitter-2017", "MNRE"):  # each its own Optuna study: its trials #0 to #9, by dev F1
        rows = [row for row in trials if row[1] == dataset]
        assert sorted(int(row[0].removeprefix("| #")) for row in rows) == list(range(10))
        dev = [float(row[-3].strip("*<u>/")) for row in rows]
        assert dev == sorted(dev, reverse=True)
    stopped = [row for row in trials if row[7] == "1 of 3, stopped early"]
    assert len(stopped) == 8  # the fixture's trials ASHA stopped (tag stopped_early), 4 per dataset
    importance = (folder / "hpo_importance.md").read_text()
    gate = next(line for line in importance.splitlines() if line.startswith("| fusion gate"))
    assert gate.count("**") == 4  # the fixture's F1 depends mostly on the gate: most important on both datasets


def test_epsilon_squared_is_near_zero_for_noise_and_one_for_a_determining_parameter():
    rng = np.random.default_rng(0)
    scores = list(rng.normal(size=40))
    assert epsilon_squared([str(v) for v in rng.uniform(size=40)], scores) < 0.1
    groups = ["a" if s > 0 else "b" for s in scores]
    assert epsilon_squared(groups, [float(s > 0) for s in scores]) == pytest.approx(1.0)
    assert epsilon_squared(["a", "b", "a"], [1.0, 2.0, 3.0]) is None  # too few trials
    assert epsilon_squared(["a"] * 10, [0.5] * 10) is None  # nothing varies


def test_breakdown_counts_must_agree_with_the_record(fixture_store):
    data = load_study(MlflowClient(fixture_store.uri), "search")
    trial = next(t for t in data.trials if t.dataset == "mnre")
    task, counts = label_counts(data, trial)
    assert task == "re" and "None" not in counts
    assert np.array_equal(sum(counts.values()), data.predictions[trial.run_id].counts.sum(axis=0))
    good = data.predictions[trial.run_id]
    broken = Predictions(good.ids, good.counts + np.array([1, 0, 0]), good.labels)
    data.predictions[trial.run_id] = broken
    with pytest.raises(ReportError, match=rf"run {trial.run_id} predictions/test.jsonl, example mnre-0: the labels "
                                          r"give tp/fp/fn \[\d+, \d+, \d+\] but the record says"):
        label_counts(data, trial)
    assert task_of((([], []),)) is None and task_of(((["O", "B-PER"], ["O", "O"]),)) == "ner"


def test_breakdown_agrees_with_the_core_metrics_on_every_task():
    from reports.breakdown import _example_counts
    from shapca.metrics import per_example_counts

    ner = (["B-PER", "I-PER", "O", "B-LOC", "I-ORG"], ["B-PER", "I-PER", "O", "B-ORG", "I-ORG"])
    re_ = ("/per/per/peer", "None")
    head, tail = [0, 1, "PER", 3, 4, "LOC", "lives_in"], [0, 1, "PER", 5, 6, "ORG", "works_for"]
    jmere = ([head, tail], [head, [0, 1, "PER", 5, 6, "ORG", "lives_in"]])
    for task, (gold, pred) in (("ner", ner), ("re", re_), ("jmere", jmere)):
        counts = _example_counts(task, gold, pred)
        core = (lambda v: set(map(tuple, v))) if task == "jmere" else (lambda v: v)  # the core takes tuple sets
        expected = per_example_counts(task, [core(gold)], [core(pred)])[0]
        assert tuple(int(x) for x in np.sum(list(counts.values()), axis=0)) == expected, task
    assert dict(_example_counts("jmere", *jmere)) == {"lives_in": [1, 1, 0], "works_for": [0, 0, 1]}


def test_legend_never_wider_than_the_figure():
    figure = Figure(figsize=(4, 3))
    axes = figure.add_subplot()
    for index in range(3):
        axes.plot([0, 1], [index, index], label="train.lr=1.234e-05, align.tau=0.5, shapley.samples=64, "
                                                  f"model.fusion_gate=token #{index}")
    fit_legend(axes, fontsize=7)
    legend = axes.get_legend()
    assert legend is not None  # shortened labels fit
    assert legend.get_window_extent().width <= figure.bbox.width
    assert all(len(t.get_text()) <= 28 for t in legend.get_texts())


def test_figures_at_their_smallest_say_one_seed_and_keep_markers_whole(fixture_store):
    data = load_study(MlflowClient(fixture_store.uri), "tiny")
    figure = curves_figure(data, "twitter2017")
    for axes in figure.axes:
        assert "over seeds" not in axes.get_ylabel()
        low, high = axes.get_ylim()
        for line in axes.get_lines():
            assert not line.get_clip_on()
            y = line.get_ydata()
            assert low < y.min() and y.max() < high  # all-zero scores sit inside the axes, not on its edge
        assert axes.get_xlim()[0] < 0 < axes.get_xlim()[1]  # the single epoch (0) is inside too
    assert spread_label(data) == "test F1 ×100 (one seed)"
    samples = load_study(MlflowClient(fixture_store.uri), "samples")
    axes = sweep_figure(samples, aggregate(tidy_frame(samples)), "shapley.samples").axes
    assert axes[0].get_ylabel() == "test F1 ×100 (mean ± std over 2 seeds)"
    assert axes[1].get_ylim()[0] < 0  # the cost axis starts below 0 ms: no half markers


def test_parallel_coordinates_draw_one_line_per_trial_and_no_legend(fixture_store):
    data = load_study(MlflowClient(fixture_store.uri), "search")
    figure = parallel_figure(data, "mnre")
    axes = figure.axes[0]
    trial_lines = [line for line in axes.get_lines() if line.get_marker() == "o"]  # the rest are the value axes
    assert len(trial_lines) == 10 and axes.get_legend() is None
    # the study's space samples the first three on a log scale (plan.json), so their axes are logarithmic
    assert [t.get_text() for t in axes.get_xticklabels()] == ["learning rate (log)", "temperature τ (log)",
                                                              "Shapley samples M (log)", "fusion gate", "dev F1 ×100"]
    logs = np.log10([float(t.params["train.lr"]) for t in data.trials if t.dataset == "mnre"])
    expected = sorted((logs - logs.min()) / (logs.max() - logs.min()))
    assert np.allclose(sorted(line.get_ydata()[0] for line in trial_lines), expected)  # evenly in log10(lr)
    assert len(figure.axes) == 2  # the plot and its colour bar
