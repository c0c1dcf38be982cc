"""The dry run's text: a plan drawn (the study, the preset and its cuts, then each unit Tune would run).

    python ablations/run.py --study NAME [--preset P] --dry-run [--probe]
"""
from __future__ import annotations

from ablations.plan import GridUnit, Plan, SearchUnit
from shapca.config import format_value


def describe(plan: Plan, done_hashes=frozenset()) -> str:
    """The study, the preset and its cuts, then the trial table (grid) or the search (optuna); `done_hashes`: the
    trials that finished already (marked to skip)."""
    study, r = plan.study, plan.study.resources
    lines = [f"study      {study.name}: {study.description}".rstrip(": "),
             f"file       {study.path}",
             f"preset     {plan.preset.describe()}",
             f"cuts       {'; '.join(plan.cuts) or 'none'}",
             f"datasets   {', '.join(study.datasets)}; seeds {', '.join(map(str, study.seeds))}",
             f"metric     {study.metric} ({study.mode}); per trial {r['workers']} worker(s) x "
             f"{r['cpus_per_worker']} CPU, {r['gpus_per_worker']} GPU each",
             f"report     {study.report['kind']}" + (f" over {', '.join(study.report['params'])}"
                                                      if study.report["params"] else "")]
    if study.dataset_overrides:
        lines.append("per-dataset " + "; ".join(f"{d}: {_fmt(o)}" for d, o in study.dataset_overrides.items()))
    lines.append(f"encoder    {', '.join(plan.encoders)}")
    lines.append(f"precision  train.amp=auto trains in {'bf16 autocast' if plan.auto_amp == 'bf16' else 'float32'} "
                 f"(decided by {plan.amp_decided})")
    if study.base:
        lines.append(f"base       {_fmt(study.base)}")
    if plan.cli_overrides:
        lines.append(f"--set      {_fmt(plan.cli_overrides)} (every trial)")
    units = plan.units
    return "\n".join(lines + SECTIONS[type(units[0])](plan, units, set(done_hashes)))


def _fmt(overrides: dict) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in overrides.items()) or "-"


def _grid_section(plan: Plan, units: tuple[GridUnit, ...], done: set) -> list[str]:
    (unit,) = units
    study, trials = plan.study, unit.trials
    n_done = sum(t.trial_hash in done for t in trials)
    per_dataset = ", ".join(f"{d} {len({t.label for t in trials if t.dataset == d})}" for d in study.datasets)
    out = [f"search     grid: {len(trials)} trials = rows per dataset ({per_dataset}) x {len(study.seeds)} seed(s); "
           f"{len(trials) - n_done} to run, {n_done} done (skip)"]
    if unit.redundant:
        rows = {r.label for r in unit.redundant}
        out.append(f"redundant  {len(rows)} row(s) cannot differ from another row here: " + (
            "not run, not counted above (--run-redundant runs them)" if unit.skipped else "run (--run-redundant)"))
    out += ["", "rows"]
    for row in unit.rows:
        comp = f"   components {_fmt(row.components)}" if row.components else ""
        out.append(f"  {row.label}: {_fmt(row.overrides)}{comp}")
        out += [f"    redundant: {r.text()}" for r in unit.redundant if r.label == row.label]
    header = ("#", "variant", "dataset", "seed", "trial_hash", "config_hash", "status")
    table = [header] + [(str(i), t.label, t.dataset, str(t.seed), t.trial_hash, t.config_hash,
                         "skip (done)" if t.trial_hash in done else "run") for i, t in enumerate(trials, 1)]
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    out += [""] + ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    return out


def _search_section(plan: Plan, units: tuple[SearchUnit, ...], done: set) -> list[str]:
    study, n = plan.study, units[0].budget
    epochs = {u.base.config.train.epochs for u in units}
    width = max(len(k) for k in study.sweep)
    out = [f"search     optuna, sampler {study.search['sampler']} (seed {study.search['seed']}): {n} trials per "
           f"(dataset, seed) x {len(units)} = {n * len(units)} trials, one search per (dataset, seed)", "space"]
    out += [f"  {k.ljust(width)}  {d.describe()}" for k, d in units[0].space.items()]
    sch = study.scheduler
    if sch:
        out.append(f"scheduler  {sch['type']}: grace_period {sch['grace_period']} epoch(s), reduction_factor "
                   f"{sch['reduction_factor']}, max_t = train.epochs ({', '.join(map(str, sorted(epochs)))})")
    else:
        out.append("scheduler  none: every trial runs all its epochs")
    out.append(f"budget     at most {plan.size} trials x {max(epochs)} epoch(s) = {plan.size * max(epochs)} "
               "trial-epochs" + ("; the scheduler stops weaker trials early" if sch else ""))
    out.append("resume     finished trials are counted per (dataset, seed) from MLflow; the Optuna journal keeps the "
               "sampler's state")
    return out


SECTIONS = {GridUnit: _grid_section, SearchUnit: _search_section}  # each kind of unit draws its own section
