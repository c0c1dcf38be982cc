"""What a study is: `search_spaces/<name>.yaml` loaded, validated, and resolved into its rows and trial configs.

Schema and semantics: docs/studies.md. The file is parsed in ablations/study_file.py (shape and single values, with
line numbers); this module adds the rules that need whole configs, so `load_study` refuses a bad study before any
trial starts. The trial plan (plan, search_space, resolve_sampled, describe_plan) lives in ablations/plan.py; those
names are also reachable from here, because the runner imports everything from this module.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from shapca.config import Config, ConfigError, parse_assignments

STUDY_DIR = Path(__file__).resolve().parents[1] / "search_spaces"
BASE_LABEL = "base"  # row label of a study with neither variants nor sweep
KEYS = ("name", "description", "datasets", "seeds", "base", "dataset_overrides", "variants", "sweep", "search",
        "scheduler", "metric", "mode", "resources", "report")
REQUIRED = ("name", "datasets", "seeds", "search", "report")
VARIANT_KEYS = ("name", "description", "overrides", "components", "datasets")
DISTRIBUTIONS = ("grid", "choice", "uniform", "loguniform", "int", "logint")  # grid: grid studies; others: optuna
ALGORITHMS = ("grid", "optuna")
SAMPLERS = ("tpe",)
SCHEDULERS = ("asha",)
REPORT_KINDS = ("main", "ablation", "sweep", "factorial")
METRICS = {"dev_f1": "max", "dev_precision": "max", "dev_recall": "max"}  # model selection is on dev only
AXES = ("data.dataset", "train.seed")  # set by `datasets` and `seeds`, never by overrides
KEY_TYPES = {k: type(v) for k, v in Config().flat().items()}


class StudyError(ValueError):
    """A study file (or name, or preset) that cannot be run; the message names the file, line and key."""


@dataclass(frozen=True)
class Distribution:
    kind: str  # one of DISTRIBUTIONS
    values: tuple  # grid/choice: the values; the others: (lo, hi), both inclusive

    def describe(self) -> str:
        if self.kind in ("grid", "choice"):
            return f"{self.kind} [{', '.join(format_value(v) for v in self.values)}]"
        return f"{self.kind}({format_value(self.values[0])}, {format_value(self.values[1])})"


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: dict
    components: dict | None = None  # component -> 0/1, for ablation and factorial reports
    datasets: tuple | None = None  # None: every dataset of the study
    description: str = ""


@dataclass
class Study:
    name: str
    path: Path
    description: str
    datasets: list
    seeds: list
    base: dict
    dataset_overrides: dict  # dataset -> flat overrides (per-dataset defaults, e.g. the context generator)
    variants: list  # [Variant]
    sweep: dict  # key -> Distribution, in file order
    search: dict  # {"algorithm": "grid"} or {"algorithm": "optuna", "num_samples", "sampler", "seed"}
    scheduler: dict | None  # {"type": "asha", "grace_period", "reduction_factor"}
    metric: str
    mode: str
    resources: dict  # {"workers", "cpus_per_worker", "gpus_per_worker"}
    report: dict  # {"kind", "params"}
    preset: str | None = None  # set by ablations.presets.apply_preset
    preset_overrides: dict = field(default_factory=dict)
    reductions: tuple = ()  # what the preset cut, in words
    cli_overrides: dict = field(default_factory=dict)  # the runner's --set, applied to every trial, last

    @property
    def is_grid(self) -> bool:
        return self.search["algorithm"] == "grid"


def format_value(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def check_components(kind: str, variants: list, sweep: dict, where: str) -> None:
    """Ablation: every variant tagged with the same components, one full model; factorial: every combination once."""
    if sweep:
        raise StudyError(f"{where}: an {kind} study compares variants; it sweeps nothing")
    if not variants or any(v.components is None for v in variants):
        raise StudyError(f"{where}: every variant of an {kind} study needs components (name -> 0/1)")
    names = sorted(variants[0].components)
    for v in variants:
        if sorted(v.components) != names:
            raise StudyError(f"{where}: variant '{v.name}' has components {sorted(v.components)}, "
                             f"the first variant has {names}")
    full = [v.name for v in variants if all(v.components.values())]
    if len(full) != 1:
        raise StudyError(f"{where}: an {kind} study needs exactly one variant with every component on, got "
                         f"{full or 'none'}")
    if kind == "factorial":
        seen = {}
        for v in variants:
            combo = tuple(v.components[n] for n in names)
            if combo in seen:
                raise StudyError(f"{where}: variants '{seen[combo]}' and '{v.name}' have the same components")
            seen[combo] = v.name
        missing = [dict(zip(names, c)) for c in itertools.product((0, 1), repeat=len(names)) if c not in seen]
        if missing:
            raise StudyError(f"{where}: a factorial study needs all {2 ** len(names)} combinations of {names}; "
                             f"missing {missing}")


@dataclass(frozen=True)
class Row:
    """One table row of a grid study on one dataset: one point of the sweep grid, or one named variant."""
    label: str
    overrides: dict
    components: dict | None
    swept: dict  # the grid point's values (empty for a named variant)


def available_studies() -> list[str]:
    return sorted(p.stem for p in STUDY_DIR.glob("*.yaml"))


def load_study(name_or_path: str | Path) -> Study:
    """A study by name (search_spaces/<name>.yaml) or by path to a YAML file, fully validated."""
    from ablations.study_file import read_study_file  # it imports this module's types: imported here, not on top

    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text):
        path = STUDY_DIR / f"{text}.yaml"
        if not path.is_file():
            raise StudyError(f"unknown study '{text}'; available: {', '.join(available_studies()) or '(none)'} "
                             f"(the files in {STUDY_DIR})")
    elif not path.is_file():
        raise StudyError(f"study file {path} does not exist")
    study = read_study_file(path)
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


def resolve(study: Study, dataset: str, seed: int, row_overrides: dict, where: str) -> tuple[Config, dict]:
    """A trial's config: defaults <- base <- dataset_overrides <- row (variant or grid point) <- dataset, seed <-
    preset overrides <- --set. Preset overrides skip the keys the study sweeps, so a preset never collapses the study's axis.
    Returns the config and the flat overrides that made it (relative to the config's defaults)."""
    flat = dict(study.base)
    flat.update(study.dataset_overrides.get(dataset, {}))
    flat.update(row_overrides)
    flat.update({"data.dataset": dataset, "train.seed": seed})
    flat.update({k: v for k, v in study.preset_overrides.items() if k not in study.sweep})
    flat.update(study.cli_overrides)
    try:
        cfg = Config().update(flat, where=where)
    except ConfigError as e:
        raise StudyError(str(e)) from None
    _check_context(cfg, where)
    if cfg.shapley.estimator == "exact":
        from shapca.shapley import MAX_EXACT_PLAYERS  # the contexts of one mini-batch are the players

        # the alignment loss runs on training batches only, so the training batch size bounds k
        if cfg.train.batch_size > MAX_EXACT_PLAYERS:
            raise StudyError(f"{where}: shapley.estimator=exact enumerates 2^k coalitions of the k pairs of a "
                             f"mini-batch; train.batch_size {cfg.train.batch_size} exceeds {MAX_EXACT_PLAYERS}")
    return cfg, flat


def _check_context(cfg: Config, where: str) -> None:
    from shapca.data.contexts import generators

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


def __getattr__(name: str):
    # The runner imports the plan functions from here; ablations/plan.py imports this module, so they are looked up
    # on first use rather than imported on top (no import cycle).
    if name in ("plan", "search_space", "resolve_sampled", "describe_plan", "TrialSpec", "variant_label"):
        from ablations import plan as plan_module

        return getattr(plan_module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
