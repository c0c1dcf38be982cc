"""Seeds a study needs to answer: what its planned seeds can resolve before it starts, and rounds of added seeds
until every comparison is resolved (`--until-resolved MAX`, or the study file's `report.until_resolved`).

The statistics are reports/'s (docs/statistics.md): after the planned seeds, each round looks at the study as its
tables read it, prints every row's verdict and why it adds what it adds, and trains the seeds the look asks for
(the next integers) for the undetermined rows and their reference only. Added trials are ordinary trials with
identities of their own: a rerun skips them, Ctrl-C and resume work as for any trial, and the tables count them.
"""
from __future__ import annotations

import dataclasses

from ablations.plan import Plan


def reference_row(plan: Plan) -> str | None:
    """The row every other is compared with: the study file's report.reference, else the full model (the row named
    `full`, else the one with every component on), as the tables choose it (reports/rows.py)."""
    if plan.study.report.get("reference"):
        return plan.study.report["reference"]
    labels = [r.label for r in plan.rows]
    if "full" in labels:
        return "full"
    complete = [r.label for r in plan.rows if r.components and all(r.components.values())]
    return complete[0] if len(complete) == 1 else None


def power_lines(plan: Plan, uri: str) -> list[str]:
    """The dry run's lines on what the planned seeds can resolve, from the spread of finished studies of the same
    preset in the store; none for a study that compares no rows."""
    reference = reference_row(plan)
    cells = dict.fromkeys(t.cell for t in plan.planned)  # a row left out as redundant is not run: no line for it
    compared = [(label, d) for label, d in cells if label != reference]
    if reference is None or not compared:
        return []
    from mlflow.tracking import MlflowClient

    from reports.mlflow_source import finished_studies
    from reports.power import power_lines as lines

    history = finished_studies(MlflowClient(uri), plan.preset.name) if uri else []
    return [f"power      {line}" for line in
            lines(compared, len(plan.study.seeds), history, plan.study.report.get("margin"), study=plan.study.name)]


def within(data, plan: Plan):
    """The study's records cut to the rows and datasets this start plans: another start of the study (another
    dataset, other variants) has its own rows, which this one neither looks at nor adds seeds to."""
    cells = {t.cell for t in plan.planned}
    planned = {dataset for _, dataset in cells}
    datasets = tuple(d for d in data.info.datasets if d in planned)
    return dataclasses.replace(data, info=dataclasses.replace(data.info, datasets=datasets),
                               trials=[t for t in data.trials if t.cell in cells])


def until_resolved(plan: Plan, replan, uri: str, launch_round, outbox, outcome) -> None:
    """Rounds of added seeds after the planned ones: look, print, train what the look asks for, look again; until
    every comparison is resolved, the cap is reached, nothing more would resolve, or the study is interrupted.
    `replan(extra_seeds)` makes the plan with the added seeds; `launch_round(plan)` runs what is left of it."""
    from mlflow.tracking import MlflowClient

    from reports.comparisons import study_round
    from reports.mlflow_source import load_study
    from reports.records import ReportError

    cap, extra, finished = plan.study.report["until_resolved"], {}, -1
    while not outcome.interrupted:
        outbox.flush()  # a look reads the store: every write of the last round first
        try:
            data = within(load_study(MlflowClient(uri), plan.study.name, plan.preset.name), plan)
        except ReportError as e:
            print(f"until-resolved: no look possible ({e}); no seeds added", flush=True)
            return
        look = study_round(data, cap)
        print(f"until-resolved: a look at {len(data.trials)} finished trial(s) (looks at {look.looks} shared seeds, "
              f"levels {', '.join(f'{a:.3g}' for a in look.levels)})", *(f"  {line}" for line in look.lines()),
              sep="\n", flush=True)
        if look.done:
            return
        if len(data.trials) == finished:  # the last round finished nothing: its trials fail, and would again
            print("until-resolved: the last round finished no trial; stopping (see the failed trials)", flush=True)
            return
        finished = len(data.trials)
        for cell, seeds in look.runs.items():
            added = [s for s in seeds if s not in plan.study.seeds]  # a planned seed missing is a failed trial
            extra[cell] = tuple(sorted(set(extra.get(cell, ())) | set(added)))
        plan = replan({cell: seeds for cell, seeds in extra.items() if seeds})
        launch_round(plan)
