"""Publish a study's tables into a results page, as the system wrote them, with what it takes to read them.

    python reports/publish.py --study ablation --preset compare [--tracking-uri URI] [--page docs/results.md]
    python reports/publish.py --from results/ablation-compare.jsonl.gz [--page docs/results.md]

The page holds one section per study and preset between two marker comments; publishing again replaces that section
and keeps the rest of the page (the hand-written readings outside the markers included). A section has: the command
that ran the study (less the options that name the machine's store and cluster), the preset, the wall time and the
machine of its runs and the parent run id (all as the runner recorded them on the parent run), the study's tables as
reports/build.py writes them, and a generated reading of every row compared with the reference, written from its
verdict (reports/verdicts.py): the paired ΔF1, its interval and what decided it. No number in a section is typed by
hand. From a study's export (reports/export.py) the section is the one its MLflow store gives, byte for byte.
"""
from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from pathlib import Path

from reports.build import add_source_options, kind_tables, study_data
from reports.comparisons import verdict_against
from reports.contract import MACHINE_OPTIONS
from reports.export import export_path
from reports.names import dataset_name
from reports.records import ReportError, StudyData
from reports.render import to_markdown
from reports.rows import reference_variant, sweep_rows, variant_order
from reports.tidy import aggregate, cell_stats, tidy_frame
from reports.verdicts import EQUIVALENT, UNDETERMINED, level_text


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
    """One sentence on a row against the reference, written from its verdict (reports/verdicts.py)."""
    ours, theirs = cell_stats(agg, variant, dataset), cell_stats(agg, reference, dataset)
    if ours is None or theirs is None:
        return None
    head = f"{variant} on {dataset_name(dataset)}"
    verdict, note = verdict_against(data, variant, reference, dataset)
    if verdict is None:
        return f"{head}: ΔF1 {100 * (ours['f1_mean'] - theirs['f1_mean']):+.2f} of the cell means; {note}"
    c = verdict.comparison
    paired = f"ΔF1 {c.mean:+.2f} paired over {c.n} shared seed{'s' if c.n != 1 else ''}"
    if verdict.interval is None:
        return f"{head}: {paired}: undetermined: {verdict.reason}"
    low, high = verdict.interval
    spread = (f"{level_text(verdict.alpha)} interval [{low:+.2f}, {high:+.2f}]; standard errors: seeds ±"
              f"{math.sqrt(c.seed_var / c.n):.2f}, test set ±{math.sqrt(c.test_var):.2f}")
    if verdict.kind == EQUIVALENT:
        low, high = verdict.equivalence_interval
        what = (f"equivalent within ±{verdict.margin:g}: {verdict.reason} ({level_text(2 * verdict.alpha)} interval "
                f"[{low:+.2f}, {high:+.2f}])")
    elif verdict.kind == UNDETERMINED:
        what = f"undetermined within ±{verdict.margin:g}: {verdict.reason}"
    else:
        what = f"{verdict.kind}: {verdict.reason}"
    return f"{head}: {paired} ({spread}): {what}"


def seeds_text(data: StudyData) -> str:
    """The seeds the study asks for, and where it added seeds, the most any row ran (the rows' own counts are in
    the tables): "seeds 1, 2, 3" alone misread a row of 12 seeds."""
    planned = ", ".join(map(str, data.info.seeds))
    ran = {t.seed for t in data.trials if t.seed is not None}
    extra = sorted(ran - set(data.info.seeds))
    if not data.info.until_resolved or not extra:
        return planned
    return (f"{planned} planned; {len(ran)} at most ({extra[0]}-{extra[-1]} added to undetermined rows, "
            f"cap {data.info.until_resolved})")


def section(data: StudyData) -> str:
    """The study's section of the results page, from its records alone (a store or an export give the same)."""
    info = data.info
    wall = (f"{sum(info.walls) / 60:.1f} min over {len(info.walls)} run(s) of the command that reached their end"
            if info.walls else "not recorded (a runner older than this page, or no run of it reached its end)")
    trained = [v for t in data.trials for _, v in data.histories.get(t.run_id, {}).get("epoch_epoch_time_s", [])]
    if trained:  # what a start that was stopped outright spent is in here too: it records no wall time
        wall += f"; the counted trials' epochs took {sum(trained) / 3600:.1f} trial-hours in all"
    commits = sorted({t.commit or "unknown" for t in data.trials})
    commands = (info.command or "").splitlines()  # one per run of the study (ablations/tracking.py accumulates them)
    agg = aggregate(tidy_frame(data))
    tables = kind_tables(data, agg)
    start, end = markers(info.name, info.preset)
    export = export_path(info.name, info.preset)
    lines = [start, f"## {info.name} ({info.preset})", "",
             f"- Command{'s, in the order they ran' if len(commands) > 1 else ''}: "
             f"{'; '.join(portable_command(c) for c in commands) or 'not recorded'}",
             f"- Preset: {info.preset}; datasets {', '.join(info.datasets)}; seeds {seeds_text(data)}; "
             f"{len(data.trials)} finished trial run(s), {len(data.failed)} failed",
             f"- Wall time: {wall}",
             f"- Machine: {info.machine or 'not recorded'}",
             f"- Code: commit {', '.join(commits) or 'not recorded'} (check it out to rerun the command as it ran)",
             f"- MLflow parent run: `{info.parent_run_id}`; its records: `{export}` (written by `python "
             f"reports/export.py --study {info.name} --preset {info.preset}`)",
             f"- Tables rebuilt with `python reports/build.py --from {export}`; this section with "
             f"`python reports/publish.py --from {export}` (or `--study {info.name} --preset {info.preset}` from the "
             "MLflow store)", ""]
    lines += [to_markdown(t) for t in tables]
    reference = reference_variant(data)
    order = [r.variant for r in sweep_rows(data, info.params[0])] if info.kind == "sweep" else variant_order(data)
    readings = [r for v in order if reference and v != reference
                for d in info.datasets if (r := difference_reading(data, agg, v, reference, d))]
    if readings:
        lines += [f"What the numbers support, each row against {reference} (generated from the table's runs; "
                  "docs/statistics.md says how):", ""]
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
        new = head + text.rstrip("\n") + rest.split(end, 1)[1]  # what followed the old section, as it was
    else:
        new = old.rstrip("\n") + "\n\n" + text
    staged = page.with_name(f".{page.name}.{os.getpid()}.tmp")  # this writer's own
    staged.write_text(new, encoding="utf-8")
    staged.replace(page)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_source_options(ap)
    ap.add_argument("--page", type=Path, default=Path("docs/results.md"))
    args = ap.parse_args(argv)
    try:
        data = study_data(args)
        publish(args.page, section(data), data.info.name, data.info.preset)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"published {data.info.name} ({data.info.preset}) in {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
