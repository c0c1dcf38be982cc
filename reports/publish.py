"""Publish a study's tables into a results page, as the system wrote them, with what it takes to read them.

    python reports/publish.py --study ablation --preset compare [--tracking-uri URI] [--page docs/results.md]

The page holds one section per study and preset between two marker comments; publishing again replaces that section
and keeps the rest of the page (the hand-written readings outside the markers included). A section has: the command
that ran the study (less the options that name the machine's store and cluster), the preset, the wall time and the
machine of its runs and the parent run id (all as the runner recorded them on the parent run), the study's tables as
reports/build.py writes them, and a generated reading of every row compared with the reference: its ΔF1, the paired
test's p-value, and whether the difference is larger than twice the seed-to-seed standard deviation of a difference
of two means. No number in a section is typed by hand.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from reports.build import kind_tables
from reports.contract import COMMAND_TAG, COMMIT_TAG, MACHINE_TAG, WALL_METRIC
from reports.mlflow_source import load_study
from reports.names import dataset_name
from reports.records import ReportError, StudyData
from reports.render import to_markdown
from reports.rows import reference_variant, sweep_rows, variant_order
from reports.tables import significance_against
from reports.tidy import aggregate, cell_stats, tidy_frame


# Options that say where this machine keeps a study's runs, not what the study is: a reader reruns with their own.
MACHINE_OPTIONS = ("--tracking-uri", "--storage", "--address")


def portable_command(command: str) -> str:
    """The study's command without its machine's options (MACHINE_OPTIONS, with their values), saying which."""
    kept, dropped, words = [], [], iter(shlex.split(command))
    for word in words:
        option = word.split("=", 1)[0]
        if option in MACHINE_OPTIONS:
            dropped.append(option)
            if "=" not in word:
                next(words, None)
        else:
            kept.append(word)
    note = f" ({', '.join(dropped)} of the machine that ran it left out)" if dropped else ""
    return f"`{shlex.join(kept)}`{note}"


def markers(study: str, preset: str) -> tuple[str, str]:
    return f"<!-- published: {study} ({preset}) -->", f"<!-- end: {study} ({preset}) -->"


def difference_reading(data: StudyData, agg, variant: str, reference: str, dataset: str) -> str | None:
    """One sentence on a row against the reference: ΔF1, the paired test, and the seed noise it must exceed."""
    ours, theirs = cell_stats(agg, variant, dataset), cell_stats(agg, reference, dataset)
    if ours is None or theirs is None:
        return None
    delta = 100 * (ours["f1_mean"] - theirs["f1_mean"])
    p_value, _ = significance_against(data, variant, reference, dataset)
    test = "no paired test" if p_value is None else f"paired test p = {p_value:.4f}"
    spread = [s for s in (ours, theirs) if s["n"] > 1 and not math.isnan(s["f1_std"])]
    if len(spread) < 2:
        return (f"{variant} on {dataset_name(dataset)}: ΔF1 {delta:+.2f} ({test}); fewer than two seeds on a side, "
                "so the seed noise is not known: not a finding")
    noise = 100 * math.sqrt(sum(s["f1_std"] ** 2 / s["n"] for s in spread))
    beyond = abs(delta) > 2 * noise
    significant = p_value is not None and p_value < 0.05
    if beyond and significant:
        verdict = "larger than the seed noise and significant on test examples: supported"
    elif significant:
        verdict = ("significant on test examples but within the seed noise: the seeds do not support it as an effect"
                   " of the row")
    elif beyond:
        verdict = "larger than the seed noise but not significant on test examples: weak"
    else:
        verdict = "inside the seed noise: no difference shown"
    return (f"{variant} on {dataset_name(dataset)}: ΔF1 {delta:+.2f} ({test}; twice the standard deviation of a "
            f"difference of means over seeds: {2 * noise:.2f}): {verdict}")


def section(client: MlflowClient, data: StudyData) -> str:
    info = data.info
    parent = client.get_run(info.parent_run_id)
    walls = [m.value for m in client.get_metric_history(info.parent_run_id, WALL_METRIC)]
    wall = (f"{sum(walls) / 60:.1f} min over {len(walls)} run(s) of the command" if walls
            else "not recorded (a runner older than this page)")
    commits = sorted({client.get_run(t.run_id).data.tags.get(COMMIT_TAG, "unknown") for t in data.trials})
    agg = aggregate(tidy_frame(data))
    tables = kind_tables(data, agg)
    start, end = markers(info.name, info.preset)
    command = parent.data.tags.get(COMMAND_TAG)
    lines = [start, f"## {info.name} ({info.preset})", "",
             f"- Command: {portable_command(command) if command else 'not recorded'}",
             f"- Preset: {info.preset}; datasets {', '.join(info.datasets)}; seeds "
             f"{', '.join(map(str, info.seeds))}; {len(data.trials)} finished trial run(s), {len(data.failed)} failed",
             f"- Wall time: {wall}",
             f"- Machine: {parent.data.tags.get(MACHINE_TAG, 'not recorded')}",
             f"- Code: commit {', '.join(commits) or 'not recorded'} (check it out to rerun the command as it ran)",
             f"- MLflow parent run: `{info.parent_run_id}`",
             f"- Tables rebuilt with `python reports/build.py --study {info.name} --preset {info.preset}`; this "
             f"section with `python reports/publish.py --study {info.name} --preset {info.preset}`", ""]
    lines += [to_markdown(t) for t in tables]
    reference = reference_variant(data)
    order = [r.variant for r in sweep_rows(data, info.params[0])] if info.kind == "sweep" else variant_order(data)
    readings = [r for v in order if reference and v != reference
                for d in info.datasets if (r := difference_reading(data, agg, v, reference, d))]
    if readings:
        lines += [f"What the numbers support, each row against {reference} (generated from the table's runs):", ""]
        lines += [f"- {r}" for r in readings] + [""]
    return "\n".join(lines).rstrip("\n") + "\n" + end + "\n"


def publish(page: Path, text: str, study: str, preset: str) -> None:
    """Replace the study's section in the page (or append it), writing the page whole or not at all."""
    start, end = markers(study, preset)
    old = page.read_text(encoding="utf-8") if page.exists() else "# Results\n"
    if start in old:
        if end not in old.split(start, 1)[1]:
            raise ReportError(f"{page}: the section of {study} ({preset}) has no end marker {end!r}")
        head, rest = old.split(start, 1)
        new = head + text + rest.split(end, 1)[1].lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    staged = page.with_name(f".{page.name}.tmp")
    staged.write_text(new, encoding="utf-8")
    staged.replace(page)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--study", required=True)
    ap.add_argument("--preset", default=None, help="needed when runs of several presets exist")
    ap.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else "
                    "MLflow's default)")
    ap.add_argument("--page", type=Path, default=Path("docs/results.md"))
    args = ap.parse_args(argv)
    client = MlflowClient(args.tracking_uri or mlflow.get_tracking_uri())
    try:
        data = load_study(client, args.study, args.preset)
        publish(args.page, section(client, data), data.info.name, data.info.preset)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"published {data.info.name} ({data.info.preset}) in {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
