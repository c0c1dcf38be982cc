"""The results page: a study's section as the system wrote it, replaced in place on a second publish."""
from __future__ import annotations

from mlflow.tracking import MlflowClient

from reports.build import kind_tables
from reports.comparisons import verdict_against
from reports.contract import COMMAND_TAG, COMMIT_TAG, MACHINE_TAG, WALL_METRIC
from reports.mlflow_source import load_study
from reports.publish import main, markers, portable_command, section
from reports.render import to_markdown
from reports.tidy import aggregate, tidy_frame


def test_a_section_carries_the_tables_and_the_runs_record_and_is_replaced_in_place(fixture_store, tmp_path):
    client = MlflowClient(fixture_store.uri)
    parent = fixture_store.parents["samples/cpu"]
    client.set_tag(parent, COMMAND_TAG, "python ablations/run.py --study samples --preset cpu")
    client.set_tag(parent, MACHINE_TAG, "2 CPUs, no GPUs for the trials")
    for seconds in (600.0, 120.0):  # two runs of the command
        client.log_metric(parent, WALL_METRIC, seconds)
    counted = load_study(client, "samples", "cpu").trials
    for trial in counted:
        client.set_tag(trial.run_id, COMMIT_TAG, "0a1b2c3")
        for epoch in (1, 2):  # the time a start spent counts even where it recorded no wall time (killed outright)
            client.log_metric(trial.run_id, "epoch_epoch_time_s", 180.0, step=epoch)
    page = tmp_path / "results.md"
    page.write_text("# Results\n\nA hand-written reading.\n")
    argv = ["--study", "samples", "--preset", "cpu", "--tracking-uri", fixture_store.uri, "--page", str(page)]
    assert main(argv) == 0
    text = page.read_text()
    data = load_study(client, "samples", "cpu")
    table = to_markdown(kind_tables(data, aggregate(tidy_frame(data)))[0])
    assert table in text  # the table exactly as reports/build.py writes it
    assert "- Command: `python ablations/run.py --study samples --preset cpu`" in text
    assert (f"- Wall time: 12.0 min over 2 run(s) of the command that reached their end; the counted trials' epochs "
            f"took {len(counted) * 0.1:.1f} trial-hours in all") in text
    assert "- Machine: 2 CPUs, no GPUs for the trials" in text and f"`{parent}`" in text
    assert "- Code: commit 0a1b2c3 (" in text
    assert "`python reports/build.py --from results/samples-cpu.jsonl.gz`" in text
    assert "each row against closed form" in text
    readings = text.split("each row against closed form")[1]
    assert readings.index("shapley.samples=4 ") < readings.index("shapley.samples=16 ")  # in the table's order
    verdicts = {v: verdict_against(data, f"shapley.samples={v}", "closed form", "twitter2017")[0] for v in (1, 4, 16)}
    lines = {v: next(line for line in readings.splitlines() if line.startswith(f"- shapley.samples={v} "))
             for v in (1, 4, 16)}
    for v, verdict in verdicts.items():  # each reading is written from its row's verdict
        low, high = verdict.interval
        assert lines[v].startswith(f"- shapley.samples={v} on Twitter-2017: ΔF1 {verdict.comparison.mean:+.2f} paired "
                                   f"over 2 shared seeds (95% interval [{low:+.2f}, {high:+.2f}]; standard errors: "
                                   "seeds ±")
        assert f"): {verdict.kind}" in lines[v]
    assert verdicts[4].kind == "lower" and lines[4].endswith("): lower: the 95% interval lies below 0")
    assert verdicts[1].kind == "undetermined"  # two seeds rarely settle a question: the reading says what would
    assert lines[1].endswith(f"undetermined within ±0.5: about {verdicts[1].seeds_needed} shared seeds would resolve "
                             "it at this spread")

    client.log_metric(parent, WALL_METRIC, 60.0)
    assert main(argv) == 0  # published again: the section is replaced, the rest of the page kept
    again = page.read_text()
    start, end = markers("samples", "cpu")
    assert again.count(start) == 1 and again.count(end) == 1
    assert "A hand-written reading." in again and "13.0 min over 3 run(s)" in again


def test_a_section_without_its_end_marker_is_refused_and_the_page_kept(fixture_store, tmp_path, capsys):
    page = tmp_path / "results.md"
    start, _ = markers("samples", "cpu")
    page.write_text(f"# Results\n\n{start}\nhalf a section\n")
    before = page.read_text()
    assert main(["--study", "samples", "--preset", "cpu", "--tracking-uri", fixture_store.uri,
                 "--page", str(page)]) == 2
    assert "has no end marker" in capsys.readouterr().err and page.read_text() == before


def test_the_published_command_leaves_out_where_the_machine_keeps_its_runs():
    assert portable_command("python ablations/run.py --study x --preset compare --seeds 1 2") == \
        "`python ablations/run.py --study x --preset compare --seeds 1 2`"
    typed = ("python ablations/run.py --study x --tracking-uri sqlite:////srv/a/mlflow.db --storage=/srv/a/runs "
             "--preset compare --address auto --set 'data.context=file:my contexts.jsonl'")
    assert portable_command(typed) == (
        "`python ablations/run.py --study x --preset compare --set 'data.context=file:my contexts.jsonl'` "
        "(--tracking-uri, --storage, --address of the machine that ran it left out)")


def test_publishing_again_keeps_what_follows_the_section_as_it_was(fixture_store, tmp_path):
    page = tmp_path / "results.md"
    argv = ["--study", "samples", "--preset", "cpu", "--tracking-uri", fixture_store.uri, "--page", str(page)]
    assert main(argv) == 0
    _, end = markers("samples", "cpu")
    page.write_text(page.read_text() + "\nA reading of the section.\n")
    before = page.read_text()
    assert main(argv) == 0 and main(argv) == 0
    assert page.read_text() == before  # the blank line before the reading neither lost nor doubled
    assert f"{end}\n\nA reading of the section.\n" in page.read_text()


def test_the_preset_line_names_the_seeds_a_study_added_and_its_cap(fixture_store):
    client = MlflowClient(fixture_store.uri)
    added = section(load_study(client, "verdicts", "cpu"))  # seeds 4 to 6 added to one row, cap 6
    assert "- Preset: cpu; datasets twitter2017; seeds 1, 2, 3 planned; 6 at most (4-6 added to undetermined rows, " \
           "cap 6); " in added
    fixed = section(load_study(client, "samples", "cpu"))
    assert "; seeds 1, 2; " in fixed  # a study that adds no seeds reads as before
