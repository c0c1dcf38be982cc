"""A study's plan: made once per command from the study and the command line; every command reads it.

    argv -> Options; study file -> Study -> make_plan -> Plan => describe | status | price | record | launch

`make_plan` cuts the study first (the command line's selection, then the preset: ablations/presets.py), so that no
config outside the cut is ever resolved; then it resolves each planned trial's config, checks it whole and gives it
its identity. Its units are what Tune runs: one grid unit holding every trial of a grid study, or one search unit
per (dataset, seed) of an Optuna study. Grid and search differ here and in the searcher the launcher picks
(ablations/launch.py), nowhere else.

A trial's identity is its resolved config's hash (`trial_hash`, seed included); `config_hash` leaves the seed out and
so names one table cell across seeds. trainables/payload.py `identity` computes both, here and for sampled trials.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ablations.machine import training_amp
from ablations.presets import Preset, apply_preset, get_preset, select
from ablations.redundant import redundant_rows
from ablations.rows import Row, check_size, rows
from ablations.schema import BASE_LABEL, Study, StudyError
from ablations.trial_checks import Read, check_trial
from shapca.config import PINNED_FILES, Config, ConfigError, format_value, parse_assignments
from trainables.payload import TrialPayload, identity


@dataclass(frozen=True)
class PlannedTrial:
    row: Row
    dataset: str
    seed: int
    config: Config  # resolved
    trial_hash: str  # the trial's identity
    config_hash: str  # its table cell's identity (the hash without the seed)

    @property
    def label(self) -> str:
        return self.row.label

    @property
    def cell(self) -> tuple[str, str]:
        """(row label, dataset): the table cell this trial's seed adds to."""
        return self.row.label, self.dataset


@dataclass(frozen=True)
class GridUnit:
    """One Tune run over a grid study's trials: a grid search over their payloads."""
    trials: tuple[PlannedTrial, ...]
    rows: tuple[Row, ...]  # the distinct rows, in the order they are first planned
    redundant: tuple = ()  # rows that cannot differ from another here (ablations/redundant.py), run or skipped
    skipped: bool = False  # whether their trials are left out of `trials` (no --run-redundant)
    name = "grid"

    @property
    def size(self) -> int:
        return len(self.trials)

    @property
    def planned(self) -> tuple[PlannedTrial, ...]:
        """The trials whose configs are known before Tune runs."""
        return self.trials

    def todo(self, runs) -> list[PlannedTrial]:
        """The trials with no FINISHED run in `runs` (a StudyRuns; None: nothing ran yet)."""
        done = runs.done_hashes() if runs else set()
        return [t for t in self.trials if t.trial_hash not in done]


@dataclass(frozen=True)
class SearchUnit:
    """One Tune run of an Optuna study: `budget` trials of one dataset and seed sampled from `space` over `base`."""
    base: PlannedTrial  # nothing sampled yet; each sampled trial sets the swept keys on top of it
    space: dict  # swept key -> Distribution, in the study file's order
    budget: int
    rows = ()  # a search has no rows: each sampled trial is labelled by its values

    @property
    def name(self) -> str:
        return f"optuna-{self.base.dataset}-seed{self.base.seed}"

    @property
    def size(self) -> int:
        return self.budget

    @property
    def planned(self) -> tuple[PlannedTrial, ...]:
        return (self.base,)

    def todo(self, runs) -> list[PlannedTrial]:
        """What is left of the budget (FINISHED runs of this dataset and seed count), as that many copies of the
        base: the trials to price and to sample."""
        have = runs.finished_count(self.base.dataset, self.base.seed) if runs else 0
        return [self.base] * max(0, self.budget - have)


@dataclass(frozen=True)
class Plan:
    study: Study  # cut to the selection and the preset
    preset: Preset
    cuts: tuple[str, ...]  # what the selection and the preset cut, in words
    cli_overrides: dict  # --set, applied to every trial, last
    units: tuple  # GridUnit | SearchUnit, in the order Tune runs them
    auto_amp: str = "none"  # what train.amp=auto trains in where the trials run (ablations/machine.py)
    amp_decided: str = ""  # by what, in words
    read: Read = dataclasses.field(default_factory=Read, compare=False, repr=False)  # files and encoders, read once

    @property
    def size(self) -> int:
        """Trials planned: a grid's trials, a search's budget."""
        return sum(u.size for u in self.units)

    @property
    def planned(self) -> list[PlannedTrial]:
        return [t for u in self.units for t in u.planned]

    @property
    def rows(self) -> list[Row]:
        return [r for u in self.units for r in u.rows]

    def todo(self, runs) -> list[PlannedTrial]:
        return [t for u in self.units for t in u.todo(runs)]

    @property
    def encoders(self) -> list[str]:
        """The encoders its trials train (a run checks each can be loaded before it starts)."""
        return sorted({t.config.model.encoder for t in self.planned})

    def folder(self, options) -> Path:
        """Where the study's own files go (checkpoints, Optuna journals, kept writes): a folder per study and preset
        under a local --storage; beside the driver with a storage URI."""
        if "://" in options.storage:
            return Path(".")
        return Path(options.storage) / f"{self.study.name}-{self.preset.name}"

    def payload(self, trial: PlannedTrial, options) -> TrialPayload:
        """What Tune is given to run `trial`: its config and identity, the study's resources, the retries asked for."""
        r = self.study.resources
        return TrialPayload(config=trial.config.to_dict(), study=self.study.name, preset=self.preset.name,
                            storage=options.storage if "://" in options.storage else str(self.folder(options)),
                            variant=trial.label, trial_hash=trial.trial_hash, config_hash=trial.config_hash,
                            components=trial.row.components, workers=int(r.get("workers", 1)),
                            cpus_per_worker=float(r.get("cpus_per_worker", 1)),
                            gpus_per_worker=float(r.get("gpus_per_worker", 0)), max_failures=options.max_failures,
                            backend=options.backend)


def make_plan(study: Study, options, extra_seeds: dict | None = None, amp: tuple[str, str] | None = None) -> Plan:
    """The plan of `study` under `options` (ablations/options.py: the selection, the preset and --set).

    `extra_seeds` maps a grid row's table cell, (row label, dataset), to seeds planned for that row beyond the
    study's: their trials are ordinary trials, each with its own identity. `amp`: what train.amp=auto trains in
    and by what that was decided (ablations/machine.py training_amp; default: this machine decides)."""
    chosen, chosen_cuts = select(study, options.datasets, options.variants, options.seeds)
    preset = get_preset(options.preset or "full")
    cut, preset_cuts = apply_preset(chosen, preset)
    try:  # --set is checked by name now (a dry run too)
        cli = parse_assignments(list(options.set))
        Config().update(cli, where="--set")
    except ConfigError as e:
        raise StudyError(str(e)) from None
    swept = sorted(set(cli) & set(cut.sweep))
    if swept:
        raise StudyError(f"--set {', '.join(swept)}: the study sweeps this key; setting it would collapse its axis")
    cap = options.until_resolved or cut.report.get("until_resolved")
    if cap is not None:
        if cut.search["algorithm"] != "grid" or cap < len(cut.seeds):
            raise StudyError(f"{cut.path}: until_resolved {cap} adds seeds to the rows of a grid, up to at least its "
                             f"{len(cut.seeds)} planned seed(s); '{cut.name}' "
                             + ("is an optuna search" if cut.search["algorithm"] != "grid" else "plans more"))
        cut = dataclasses.replace(cut, report={**cut.report, "until_resolved": cap})  # plan.json says it
    check_size(cut, extra_seeds or {}, options.max_trials)  # counted from the cut study: nothing resolved yet
    auto_amp, decided = amp or training_amp(None, cut.resources)
    # the plan's settings first: they are what each trial's config is resolved from
    plan = Plan(cut, preset, tuple(chosen_cuts + preset_cuts), cli, units=(), auto_amp=auto_amp, amp_decided=decided)
    if cut.search["algorithm"] == "grid":
        return dataclasses.replace(plan, units=(_grid(plan, extra_seeds or {}, options.run_redundant),))
    if extra_seeds:
        raise StudyError(f"{cut.path}: extra seeds are for the rows of a grid; '{cut.name}' is an optuna search")
    return dataclasses.replace(plan, units=_searches(plan))


def _grid(plan: Plan, extra_seeds: dict, run_redundant: bool = False) -> GridUnit:
    """Each dataset x each row x each seed, in that order; a row's extra seeds follow the study's. The trials of a
    row that cannot differ from an earlier one here are left out unless `run_redundant`."""
    study = plan.study
    per_dataset = {d: rows(study, d) for d in study.datasets}
    datasets_of: dict[str, list] = {}
    for dataset, its_rows in per_dataset.items():
        for row in its_rows:
            datasets_of.setdefault(row.label, []).append(dataset)
    unknown = sorted(set(extra_seeds) - {(label, d) for label, ds in datasets_of.items() for d in ds})
    if unknown:
        raise StudyError(f"{study.path}: extra seeds for cells the plan does not have: {unknown}")
    distinct = {r.label: dataclasses.replace(r, datasets=tuple(datasets_of[r.label]))
                for its_rows in per_dataset.values() for r in its_rows}
    trials, seen = [], {}
    for dataset, its_rows in per_dataset.items():
        for row in (distinct[r.label] for r in its_rows):
            extra = list(extra_seeds.get((row.label, dataset), ()))
            if set(extra) & set(study.seeds) or len(set(extra)) < len(extra):
                raise StudyError(f"{study.path}: extra seeds {extra} of row '{row.label}' on {dataset} repeat a "
                                 f"planned seed")
            for seed in study.seeds + extra:
                trial = _trial(plan, row, dataset, seed, f"{study.path}: row '{row.label}' on {dataset}, seed {seed}")
                if trial.trial_hash in seen:
                    raise StudyError(f"{study.path}: rows '{seen[trial.trial_hash]}' and '{row.label}' resolve to "
                                     f"the same config on {dataset} (seed {seed}); every row must differ")
                seen[trial.trial_hash] = row.label
                trials.append(trial)
    redundant = tuple(redundant_rows(trials))
    if not run_redundant:
        same = {(r.label, r.dataset) for r in redundant}
        trials = [t for t in trials if t.cell not in same]
    return GridUnit(tuple(trials), tuple(distinct.values()), redundant, skipped=not run_redundant)


def _searches(plan: Plan) -> tuple[SearchUnit, ...]:
    study = plan.study
    for name, (prefix, _) in PINNED_FILES.items():
        dist = study.sweep.get(f"data.{name}")
        if dist and any(str(v).startswith(prefix) for v in dist.values):
            # a sampled trial's identity is made where it runs, from its config alone: it cannot read the file
            raise StudyError(f"{study.path}: sweep.data.{name}: an optuna search cannot sample {prefix}<path> files "
                             f"(their content is part of a trial's identity); compare them in a grid study")
    for dataset in study.datasets:  # each bound and choice on each dataset, so a bad one fails before Tune samples it
        for key, dist in study.sweep.items():
            for value in dist.values:
                _resolve(plan, dataset, study.seeds[0], {key: value},
                         f"{study.path}: sweep.{key}={format_value(value)} on {dataset}")
    base = Row(BASE_LABEL, {})
    return tuple(SearchUnit(_trial(plan, base, d, seed, f"{study.path}: sampled {BASE_LABEL} on {d}, seed {seed}"),
                            dict(study.sweep), int(study.search["num_samples"]))
                 for d in study.datasets for seed in study.seeds)


def _trial(plan: Plan, row: Row, dataset: str, seed: int, where: str) -> PlannedTrial:
    cfg = _resolve(plan, dataset, seed, row.overrides, where)
    return PlannedTrial(row, dataset, seed, cfg, *identity(cfg))


def _resolve(plan: Plan, dataset: str, seed: int, row_overrides: dict, where: str) -> Config:
    """A trial's config: defaults <- preset defaults <- base <- dataset_overrides <- row (variant or grid point) <-
    dataset, seed <- preset overrides <- --set. Preset overrides skip the keys the study sweeps, so a preset never
    collapses the study's axis. Every check that needs the whole config is made here (ablations/trial_checks.py)."""
    study = plan.study
    flat = dict(plan.preset.defaults)
    flat.update(study.base)
    flat.update(study.dataset_overrides.get(dataset, {}))
    flat.update(row_overrides)
    flat.update({"data.dataset": dataset, "train.seed": seed})
    flat.update({k: v for k, v in plan.preset.overrides.items() if k not in study.sweep})
    flat.update(plan.cli_overrides)
    try:
        cfg = Config().update(flat, where=where)
    except ConfigError as e:
        raise StudyError(str(e)) from None
    if cfg.train.amp == "auto":  # a trial's identity names the precision it trains in
        cfg.train.amp = plan.auto_amp
    check_trial(cfg, where, plan.read)
    return cfg
