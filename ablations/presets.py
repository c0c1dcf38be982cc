"""The cuts to a study before any config is resolved: the command line's selection, then the preset.

Presets are named sizes of a study (smoke, cpu, compare, full), each a set of config overrides plus cuts. The
preset's name is recorded on every run (tag `preset`), and its overrides change every trial's config hash, so
trials of different presets never share a table cell or count as each other's finished work.
docs/studies.md says what each preset does and why it is sized so. The planner (ablations/plan.py) applies both.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ablations.rows import grid_point
from ablations.schema import Study, StudyError


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    overrides: dict  # flat config overrides, applied last (but never to a key the study sweeps)
    max_datasets: int | None = None  # keep the study's first N datasets
    max_seeds: int | None = None  # keep the study's first N seeds
    max_grid_values: int | None = None  # keep N evenly spaced values of each grid (first and last among them)
    max_variants: int | None = None  # keep N evenly spaced named variants (of those on the kept datasets)
    max_samples: int | None = None  # cap an optuna search's num_samples
    defaults: dict = field(default_factory=dict)  # flat config defaults, applied first: a study's own value wins

    def describe(self) -> str:
        over = ", ".join(f"{k}={v}" for k, v in self.overrides.items()) or "none"
        defaults = "".join(f", {k}={v} unless the study sets it" for k, v in self.defaults.items())
        return f"{self.name}: {self.description} (config overrides: {over}{defaults})"


PRESETS = {p.name: p for p in (
    # smoke: 48 examples and one epoch (3 steps) left every F1 at 0; 96 examples and 2 epochs (12 steps) is the
    # smallest measured size whose test F1 is not 0 (about 21 on twitter2017), and a second epoch gives the
    # learning curves a line and ASHA a rung to stop at; a trial takes well under a minute on 2 cores
    Preset("smoke", "a tiny slice to check the pipeline end to end in a few minutes, not to compare numbers",
           {"data.limit_train": 96, "data.limit_eval": 48, "train.epochs": 2, "data.max_len": 64,
            "data.context_max_len": 32},
           max_datasets=1, max_seeds=1, max_grid_values=2, max_variants=2, max_samples=3),
    # cpu: measured on twitter2017 with 600 training examples, a trial took 1.1 s per step of 16 (2 cores, lightly
    # loaded): about 2.5 min with start-up, too long for the 18 trials of shapley_samples; 400/200 is about 1.6 min
    Preset("cpu", "sized for a 2-core laptop: a typical study in roughly 10-30 minutes, trends only",
           {"data.limit_train": 400, "data.limit_eval": 200, "train.epochs": 2, "data.max_len": 64},
           max_datasets=1, max_seeds=2, max_samples=12),
    # compare: measured on twitter2017 (benchmarks/preset_sizing.py, table in docs/studies.md): at 1000 training
    # examples, the full dev and test sets and 2 epochs, the seed-to-seed spread of test F1 lets 3 seeds resolve
    # about 1.5 F1 with room, and a trial takes 4 to 8 min of one thread
    Preset("compare", "sized so a table's rows can be told apart (about 1.5 test F1 on Twitter-2017 with 3 seeds); "
           "about an hour for 12-16 trials on 2 cores",
           {"data.limit_train": 1000, "data.limit_eval": 0, "train.epochs": 2},
           max_datasets=1, max_seeds=3, max_grid_values=4, max_samples=12),
    # full is the paper's scale, so it trains the field's usual encoder (hub access needed; the runner says so)
    Preset("full", "the study as written: every dataset, seed, grid value and sample", {},
           defaults={"model.encoder": "bert-base-uncased"}),
)}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise StudyError(f"unknown preset '{name}'; available: {', '.join(PRESETS)}")
    return PRESETS[name]


def spaced(items: list, n: int | None, keep=None) -> list:
    """At most n items, evenly spaced and always including the first and the last (n >= 2), and `keep` (an item,
    the study's reference row) in place of the item nearest it: a cut study still has the row it compares with."""
    if n is None or len(items) <= n:
        return list(items)
    if n == 1:
        return [keep if keep in items else items[0]]
    chosen = [round(i * (len(items) - 1) / (n - 1)) for i in range(n)]
    if keep in items and items.index(keep) not in chosen:
        at = items.index(keep)
        inner = chosen[1:-1] or chosen
        chosen[chosen.index(min(inner, key=lambda j: abs(j - at)))] = at
    return [items[j] for j in sorted(chosen)]


def select(study: Study, datasets=None, variants=None, seeds=None) -> tuple[Study, list[str]]:
    """The study cut to the datasets, named variants and seeds chosen on the command line (None keeps them all),
    and the cuts in words.

    Applied before the preset, so `--datasets mnre` with a one-dataset preset keeps MNRE. A trial's identity is its
    config, so a selected trial is the same trial as in the whole study: a later run of the rest fills only the
    missing ones."""
    cuts = []
    if datasets is not None:
        unknown = [d for d in datasets if d not in study.datasets]
        if unknown:
            raise StudyError(f"--datasets {', '.join(unknown)}: study '{study.name}' runs on "
                             f"{', '.join(study.datasets)}")
        cuts.append(f"datasets {len(study.datasets)} -> {len(datasets)} ({', '.join(datasets)}) chosen")
    if variants is not None:
        names = [v.name for v in study.variants]
        unknown = [n for n in variants if n not in names]
        if unknown:
            raise StudyError(f"--variants {', '.join(map(repr, unknown))}: study '{study.name}' has "
                             f"{', '.join(map(repr, names)) or 'no named variants'}")
        cuts.append(f"variants {len(names)} -> {len(variants)} ({', '.join(variants)}) chosen")
    if seeds is not None:
        if not seeds or len(set(seeds)) < len(seeds):
            raise StudyError(f"--seeds {' '.join(map(str, seeds))}: give distinct seeds")
        cuts.append(f"seeds {', '.join(map(str, study.seeds))} -> {', '.join(map(str, seeds))} chosen")
    kept = study.datasets if datasets is None else [d for d in study.datasets if d in datasets]
    chosen = [v for v in study.variants if variants is None or v.name in variants]
    idle = [v.name for v in chosen if v.datasets is not None and not set(v.datasets) & set(kept)]
    if variants is not None and idle:
        raise StudyError(f"--variants {', '.join(map(repr, idle))}: not run on {', '.join(kept)} (see the variant's "
                         f"datasets in {study.path.name})")
    return dataclasses.replace(study, datasets=kept, seeds=list(study.seeds if seeds is None else seeds),
                               variants=chosen,
                               dataset_overrides={d: o for d, o in study.dataset_overrides.items() if d in kept}), cuts


def apply_preset(study: Study, preset: Preset) -> tuple[Study, list[str]]:
    """The study cut to the preset (whose overrides the planner applies to every trial), and the cuts in words."""
    cuts = []
    datasets = study.datasets[:preset.max_datasets] if preset.max_datasets else list(study.datasets)
    seeds = study.seeds[:preset.max_seeds] if preset.max_seeds else list(study.seeds)
    if len(datasets) < len(study.datasets):
        cuts.append(f"datasets {len(study.datasets)} -> {len(datasets)} ({', '.join(datasets)})")
    if len(seeds) < len(study.seeds):
        cuts.append(f"seeds {len(study.seeds)} -> {len(seeds)} ({', '.join(map(str, seeds))})")

    reference = study.report.get("reference")
    point = grid_point(reference, study.sweep) or {}
    sweep = {}
    for key, dist in study.sweep.items():
        values = (tuple(spaced(list(dist.values), preset.max_grid_values, point.get(key)))
                  if dist.kind == "grid" else dist.values)
        if len(values) < len(dist.values):
            cuts.append(f"{key} grid {len(dist.values)} -> {len(values)} values "
                        f"({', '.join(map(str, values))})")
        sweep[key] = dataclasses.replace(dist, values=values)

    on_kept = [v for v in study.variants if v.datasets is None or set(v.datasets) & set(datasets)]
    variants = spaced(on_kept, preset.max_variants, next((v for v in on_kept if v.name == reference), None))
    if len(variants) < len(study.variants):
        cuts.append(f"variants {len(study.variants)} -> {len(variants)} ({', '.join(v.name for v in variants)})")

    search = dict(study.search)
    if "num_samples" in search and preset.max_samples and search["num_samples"] > preset.max_samples:
        cuts.append(f"num_samples {search['num_samples']} -> {preset.max_samples}")
        search["num_samples"] = preset.max_samples

    scheduler = dict(study.scheduler) if study.scheduler else None
    epochs = preset.overrides.get("train.epochs")
    if scheduler and epochs is not None and scheduler["grace_period"] > epochs:
        # ASHA cannot wait longer than a trial lasts
        cuts.append(f"scheduler.grace_period {scheduler['grace_period']} -> {epochs}")
        scheduler["grace_period"] = epochs

    return dataclasses.replace(
        study, datasets=datasets, seeds=seeds, sweep=sweep, variants=variants, search=search, scheduler=scheduler,
        dataset_overrides={d: dict(o) for d, o in study.dataset_overrides.items() if d in datasets}), cuts
