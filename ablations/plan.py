"""Which trials a study plans under a preset: the grid's trial list, or the Optuna search space, and the dry-run text.

A trial's identity is its resolved config's hash (`trial_hash`, seed included); `config_hash` leaves the seed out and
so names one table cell across seeds. Both are what docs/tracking.md tags every child run with.
"""
from __future__ import annotations

from dataclasses import dataclass

from ablations.presets import apply_preset, get_preset
from ablations.schema import BASE_LABEL, Study, StudyError, format_value
from ablations.study import resolve, rows
from shapca.config import Config

SEED_KEY = "train.seed"


@dataclass
class TrialSpec:
    dataset: str
    seed: int
    variant: str  # the row label: a named variant, or "key=value, ..." of the swept values
    overrides: dict  # every flat override on top of the config defaults, in the order they were applied
    components: dict | None  # for ablation and factorial studies: component -> 0/1
    config: Config
    trial_hash: str  # config.hash(): the trial's identity
    config_hash: str  # config.hash() without the seed: the table cell
    swept: dict  # the swept keys' values of this trial (empty for a named variant)


def _with_preset(study: Study, preset: str | None) -> Study:
    return apply_preset(study, preset or study.preset or "full")


def _spec(study: Study, dataset: str, seed: int, label: str, overrides: dict, components, swept: dict,
          where: str) -> TrialSpec:
    cfg, flat = resolve(study, dataset, seed, overrides, where)
    return TrialSpec(dataset=dataset, seed=seed, variant=label, overrides=flat, components=components, config=cfg,
                     trial_hash=cfg.hash(), config_hash=cfg.hash(exclude=(SEED_KEY,)), swept=dict(swept))


def plan(study: Study, preset: str | None = None) -> list[TrialSpec]:
    """Every trial of a grid study: each dataset x each row (grid point or variant) x each seed, in that order."""
    study = _with_preset(study, preset)
    if not study.is_grid:
        raise StudyError(f"{study.path}: study '{study.name}' is an optuna search; its trials are sampled "
                         f"(use search_space and resolve_sampled)")
    specs, seen = [], {}
    for dataset in study.datasets:
        for row in rows(study, dataset):
            for seed in study.seeds:
                spec = _spec(study, dataset, seed, row.label, row.overrides, row.components, row.swept,
                             f"{study.path}: row '{row.label}' on {dataset}, seed {seed}")
                if spec.trial_hash in seen:
                    raise StudyError(f"{study.path}: rows '{seen[spec.trial_hash]}' and '{row.label}' resolve to the "
                                     f"same config on {dataset} (seed {seed}); every row must differ")
                seen[spec.trial_hash] = row.label
                specs.append(spec)
    return specs


def search_space(study: Study) -> dict:
    """The optuna study's sweep as Ray Tune distributions, keyed by dotted config key.

    `int` and `logint` bounds are inclusive in the study file; Tune's randint/lograndint exclude the upper bound,
    hence hi + 1.
    """
    from ray import tune

    if study.is_grid:
        raise StudyError(f"{study.path}: study '{study.name}' is a grid; its trials are listed by plan()")
    make = {"choice": lambda v: tune.choice(list(v)), "uniform": lambda v: tune.uniform(*v),
            "loguniform": lambda v: tune.loguniform(*v), "int": lambda v: tune.randint(v[0], v[1] + 1),
            "logint": lambda v: tune.lograndint(v[0], v[1] + 1)}
    return {key: make[d.kind](d.values) for key, d in study.sweep.items()}


def variant_label(sampled: dict) -> str:
    """Row label of a sampled trial: "key=value, ..." in sweep order, reals to 4 significant digits."""
    if not sampled:
        return BASE_LABEL
    return ", ".join(f"{k}={format(v, '.4g') if isinstance(v, float) else format_value(v)}"
                     for k, v in sampled.items())


def resolve_sampled(study: Study, preset: str | None, dataset: str, seed: int, sampled: dict) -> TrialSpec:
    """The trial of an optuna study for values Tune sampled (any subset of the swept keys; none gives the base)."""
    study = _with_preset(study, preset)
    if dataset not in study.datasets:
        raise StudyError(f"{study.path}: dataset '{dataset}' is not in the study ({', '.join(study.datasets)})")
    unknown = [k for k in sampled if k not in study.sweep]
    if unknown:
        raise StudyError(f"{study.path}: sampled keys {unknown} are not swept (swept: {', '.join(study.sweep)})")
    ordered = {k: sampled[k] for k in study.sweep if k in sampled}
    label = variant_label(ordered)
    return _spec(study, dataset, seed, label, ordered, None, ordered,
                 f"{study.path}: sampled {label} on {dataset}, seed {seed}")


# ---- dry run --------------------------------------------------------------------------------------------------------
def describe_plan(study: Study, preset: str | None = None, done_hashes=frozenset()) -> str:
    """The dry-run text: the study, the preset and its cuts, then the trial table (grid) or the search (optuna)."""
    study = _with_preset(study, preset)
    r = study.resources
    lines = [f"study      {study.name}: {study.description}".rstrip(": "),
             f"file       {study.path}",
             f"preset     {get_preset(study.preset).describe()}",
             f"cuts       {'; '.join(study.reductions) or 'none'}",
             f"datasets   {', '.join(study.datasets)}; seeds {', '.join(map(str, study.seeds))}",
             f"metric     {study.metric} ({study.mode}); per trial {r['workers']} worker(s) x "
             f"{r['cpus_per_worker']} CPU, {r['gpus_per_worker']} GPU each",
             f"report     {study.report['kind']}" + (f" over {', '.join(study.report['params'])}"
                                                      if study.report["params"] else "")]
    if study.dataset_overrides:
        lines.append("per-dataset " + "; ".join(f"{d}: {_fmt(o)}" for d, o in study.dataset_overrides.items()))
    lines.append(f"encoder    {', '.join(sorted(_encoders(study)))}")
    if study.amp_auto:
        lines.append(f"precision  train.amp=auto trains in {'bf16 autocast' if study.amp_auto == 'bf16' else 'float32'}"
                     f" (decided by {study.amp_decided or 'the runner'})")
    if study.base:
        lines.append(f"base       {_fmt(study.base)}")
    if study.cli_overrides:
        lines.append(f"--set      {_fmt(study.cli_overrides)} (every trial)")
    if study.is_grid:
        lines += _describe_grid(study, set(done_hashes))
    else:
        lines += _describe_search(study)
    return "\n".join(lines)


def _encoders(study: Study) -> set[str]:
    if study.is_grid:
        return {s.config.model.encoder for s in plan(study)}
    return {resolve_sampled(study, None, d, s, {}).config.model.encoder for d in study.datasets for s in study.seeds}


def _fmt(overrides: dict) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in overrides.items()) or "-"


def _describe_grid(study: Study, done: set) -> list[str]:
    specs = plan(study)
    n_done = sum(s.trial_hash in done for s in specs)
    per_dataset = ", ".join(f"{d} {len(rows(study, d))}" for d in study.datasets)
    out = [f"search     grid: {len(specs)} trials = rows per dataset ({per_dataset}) x {len(study.seeds)} seed(s); "
           f"{len(specs) - n_done} to run, {n_done} done (skip)", "", "rows"]
    for row in {r.label: r for d in study.datasets for r in rows(study, d)}.values():
        comp = f"   components {_fmt(row.components)}" if row.components else ""
        out.append(f"  {row.label}: {_fmt(row.overrides)}{comp}")
    header = ("#", "variant", "dataset", "seed", "trial_hash", "config_hash", "status")
    table = [header] + [(str(i), s.variant, s.dataset, str(s.seed), s.trial_hash, s.config_hash,
                         "skip (done)" if s.trial_hash in done else "run") for i, s in enumerate(specs, 1)]
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    out += [""] + ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    return out


def _describe_search(study: Study) -> list[str]:
    n = study.search["num_samples"]
    runs = len(study.datasets) * len(study.seeds)
    epochs = {resolve_sampled(study, None, d, s, {}).config.train.epochs for d in study.datasets for s in study.seeds}
    width = max(len(k) for k in study.sweep)
    out = [f"search     optuna, sampler {study.search['sampler']} (seed {study.search['seed']}): {n} trials per "
           f"(dataset, seed) x {runs} = {n * runs} trials, one search per (dataset, seed)", "space"]
    out += [f"  {k.ljust(width)}  {d.describe()}" for k, d in study.sweep.items()]
    sch = study.scheduler
    if sch:
        out.append(f"scheduler  {sch['type']}: grace_period {sch['grace_period']} epoch(s), reduction_factor "
                   f"{sch['reduction_factor']}, max_t = train.epochs ({', '.join(map(str, sorted(epochs)))})")
    else:
        out.append("scheduler  none: every trial runs all its epochs")
    out.append(f"budget     at most {n * runs} trials x {max(epochs)} epoch(s) = {n * runs * max(epochs)} trial-epochs"
               + ("; the scheduler stops weaker trials early" if sch else ""))
    out.append("resume     finished trials are counted per (dataset, seed) from MLflow; the Optuna journal keeps the "
               "sampler's state")
    return out
