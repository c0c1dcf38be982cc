"""The study schema: what a study file may say (its keys and their allowed values) and the types it is read into.

A leaf of ablations/: the parser (study_file.py), the presets (presets.py) and the planner (plan.py) import it; it
imports none of them. docs/studies.md documents each key.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from shapca.config import Config, format_value

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


@dataclass(frozen=True)
class Study:
    """A study file as written (ablations/study_file.py reads it); the planner cuts it and resolves its trials."""
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
    report: dict  # {"kind", "params"[, "reference", "margin", "until_resolved"]}


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
