"""What a study is: `search_spaces/<name>.yaml` loaded, validated, and resolved into its rows and trial configs.

Schema and semantics: docs/studies.md. The file is parsed in ablations/study_file.py (shape and single values, with
line numbers); this module adds the rules that need whole configs, so `load_study` refuses a bad study before any
trial starts. The schema (keys, types, StudyError) is ablations/schema.py; the trial
plan (plan, search_space, resolve_sampled, describe_plan) is ablations/plan.py, which imports this module.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path

from ablations.schema import BASE_LABEL, STUDY_DIR, Study, StudyError, format_value
from ablations.study_file import read_study_file
from shapca.config import Config, ConfigError, parse_assignments

@dataclass(frozen=True)
class Row:
    """One table row of a grid study on one dataset: one point of the sweep grid, or one named variant."""
    label: str
    overrides: dict
    components: dict | None
    swept: dict  # the grid point's values (empty for a named variant)


def available_studies() -> list[str]:
    return sorted(p.stem for p in STUDY_DIR.glob("*.yaml"))


def find_study(name_or_path: str | Path) -> Path:
    """`--study NAME` means search_spaces/NAME.yaml; a value that looks like a path is taken as one."""
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text):
        path = STUDY_DIR / f"{text}.yaml"
        if not path.is_file():
            raise StudyError(f"unknown study '{text}'; available: {', '.join(available_studies()) or '(none)'} "
                             f"(the files in {STUDY_DIR})")
    elif not path.is_file():
        raise StudyError(f"study file {path} does not exist")
    return path


def load_study(name_or_path: str | Path) -> Study:
    """A study by name (search_spaces/<name>.yaml) or by path to a YAML file, fully validated."""
    study = read_study_file(find_study(name_or_path))
    check_configs(study)
    return study


def rows(study: Study, dataset: str) -> list[Row]:
    """A grid study's rows on one dataset: each point of the sweep grid, then each named variant that applies."""
    out = []
    if study.sweep:
        keys = list(study.sweep)
        for values in itertools.product(*(study.sweep[k].values for k in keys)):
            point = dict(zip(keys, values))
            out.append(Row(sweep_label(point), dict(point), None, dict(point)))
    for v in study.variants:
        if v.datasets is None or dataset in v.datasets:
            out.append(Row(v.name, dict(v.overrides), v.components, {}))
    if not study.sweep and not study.variants:
        out.append(Row(BASE_LABEL, {}, None, {}))
    return out


def sweep_label(point: dict) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in point.items())


def with_cli_overrides(study: Study, assignments: list[str]) -> Study:
    """The study with the runner's `--set key=value` overrides, checked now (dry runs included) by name."""
    try:
        flat = parse_assignments(assignments)
        Config().update(flat, where="--set")
    except ConfigError as e:
        raise StudyError(str(e)) from None
    swept = sorted(set(flat) & set(study.sweep))
    if swept:
        raise StudyError(f"--set {', '.join(swept)}: the study sweeps this key; setting it would collapse its axis")
    return dataclasses.replace(study, cli_overrides=flat)


def select(study: Study, datasets: list[str] | None = None, variants: list[str] | None = None,
           seeds: list[int] | None = None) -> Study:
    """The study cut to the datasets, named variants and seeds chosen on the command line (None keeps them all).

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
    return dataclasses.replace(
        study, datasets=kept, seeds=list(study.seeds if seeds is None else seeds),
        variants=chosen,
        dataset_overrides={d: o for d, o in study.dataset_overrides.items() if d in kept},
        reductions=study.reductions + tuple(cuts))


def resolve(study: Study, dataset: str, seed: int, row_overrides: dict, where: str) -> tuple[Config, dict]:
    """A trial's config: defaults <- preset defaults <- base <- dataset_overrides <- row (variant or grid point) <-
    dataset, seed <- preset overrides <- --set. Preset overrides skip the keys the study sweeps, so a preset never
    collapses the study's axis.
    Returns the config and the flat overrides that made it (relative to the config's defaults)."""
    flat = dict(study.preset_defaults)
    flat.update(study.base)
    flat.update(study.dataset_overrides.get(dataset, {}))
    flat.update(row_overrides)
    flat.update({"data.dataset": dataset, "train.seed": seed})
    flat.update({k: v for k, v in study.preset_overrides.items() if k not in study.sweep})
    flat.update(study.cli_overrides)
    try:
        cfg = Config().update(flat, where=where)
    except ConfigError as e:
        raise StudyError(str(e)) from None
    if cfg.train.amp == "auto":  # a trial's identity names the precision it trains in
        cfg.train.amp = study.amp_auto or local_amp(study)
    _check_context(cfg, where)
    if cfg.shapley.estimator == "exact":
        from shapca.shapley import MAX_EXACT_PLAYERS  # the contexts of one mini-batch are the players

        # the alignment loss runs on training batches only, so the training batch size bounds k
        if cfg.train.batch_size > MAX_EXACT_PLAYERS:
            raise StudyError(f"{where}: shapley.estimator=exact enumerates 2^k coalitions of the k pairs of a "
                             f"mini-batch; train.batch_size {cfg.train.batch_size} exceeds {MAX_EXACT_PLAYERS}")
    return cfg, flat


def local_amp(study: Study) -> str:
    """What train.amp=auto trains in on this machine, on the device the study's trials ask for."""
    from shapca.precision import resolve_amp

    return resolve_amp("auto", "cuda" if study.resources.get("gpus_per_worker", 0) else "cpu")


def _check_context(cfg: Config, where: str) -> None:
    from shapca.data.context_texts import generators

    context = cfg.data.context
    if context.startswith("file:"):
        return
    known = generators(cfg.data.dataset)
    if context not in known:
        raise StudyError(f"{where}: data.context '{context}' is not a context generator of {cfg.data.dataset} "
                         f"(known: {', '.join(known)}, file:<path>); set it per dataset in dataset_overrides or "
                         f"restrict the variant with datasets: [...]")


def check_configs(study: Study) -> None:
    """Resolves every config the study can produce (for optuna: each bound and choice), so errors surface now."""
    for dataset in study.datasets:
        if study.is_grid:
            seen = {}
            for row in rows(study, dataset):
                cfg, _ = resolve(study, dataset, study.seeds[0], row.overrides,
                                 f"{study.path}: row '{row.label}' on {dataset}")
                if cfg.hash() in seen:
                    raise StudyError(f"{study.path}: rows '{seen[cfg.hash()]}' and '{row.label}' resolve to the same "
                                     f"config on {dataset}; every row must differ")
                seen[cfg.hash()] = row.label
        else:
            for key, dist in study.sweep.items():
                for value in dist.values:
                    resolve(study, dataset, study.seeds[0], {key: value},
                            f"{study.path}: sweep.{key}={format_value(value)} on {dataset}")
