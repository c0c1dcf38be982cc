"""A study file read into a Study: the one parser of the study files, whose every error names the file, the line and
the key.

docs/studies.md documents each key; ablations/schema.py holds the keys and types. This module checks the file's
shape and each value on its own; rules that need whole configs (choices, combinations, context generators per
dataset) are checked when the study is planned (ablations/plan.py), on the trials the plan keeps.
"""
from __future__ import annotations

import difflib
from pathlib import Path

import yaml

from ablations.schema import (ALGORITHMS, AXES, DISTRIBUTIONS, KEY_TYPES, KEYS, METRICS, REQUIRED, SAMPLERS,
                              SCHEDULERS, STUDY_DIR, VARIANT_KEYS, Distribution, Study, StudyError, Variant,
                              check_components)
from ablations.rows import grid_point
from ablations.study_yaml import LineLoader, Reader, is_int, is_number
from reports.contract import REPORT_KINDS
from shapca.config import MAX_SEED, Config, ConfigError, format_assignments, format_value
from shapca.data.types import DATASETS


def available_studies() -> list[str]:
    return sorted(p.stem for p in STUDY_DIR.glob("*.yaml"))


def load_study(name_or_path: str | Path) -> Study:
    """A study by name (search_spaces/<name>.yaml) or by path to a YAML file, parsed and checked value by value.

    `--study NAME` means search_spaces/NAME.yaml; a value that looks like a path is taken as one."""
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text):
        path = STUDY_DIR / f"{text}.yaml"
        if not path.is_file():
            raise StudyError(f"unknown study '{text}'; available: {', '.join(available_studies()) or '(none)'} "
                             f"(the files in {STUDY_DIR})")
    elif not path.is_file():
        raise StudyError(f"study file {path} does not exist")
    return _read_study_file(path)


def _read_study_file(path: Path) -> Study:
    try:
        data = yaml.load(path.read_text(), Loader=LineLoader)  # noqa: S506 - a SafeLoader subclass
    except StudyError as e:
        raise StudyError(f"{path}:{e}") from None
    except yaml.YAMLError as e:
        raise StudyError(f"{path}: not valid YAML: {e}") from None
    return _Parser(path).study(data)


def read_resources(path: Path) -> dict:
    """Only the study's `resources` (defaults where left out), by the runner's rules: for a check of one trial
    against a cluster (clusters/study_fit.py), which needs nothing else of the study."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise StudyError(f"{path}: cannot read the study file: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise StudyError(f"{path}: not valid YAML: {e}") from None
    return _Parser(path).resources(data if isinstance(data, dict) else {})


class _Parser(Reader):
    """The study file's rules, key by key; every error names the file, the line and the key."""

    def config_key(self, mapping, k, prefix: str) -> str:
        """Checks that `k` is a config parameter a study may set; returns where it is, for later messages."""
        where = self.at(mapping, k, prefix)
        if k in AXES:
            self.fail(where, "is set by the study's 'datasets' / 'seeds', not by overrides or sweeps")
        if k not in KEY_TYPES:
            hint = difflib.get_close_matches(str(k), KEY_TYPES, n=1)
            self.fail(where, "unknown config parameter" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                      + "; shapca.config.known_keys() lists them")
        return where

    def overrides(self, value, where: str, prefix: str) -> dict:
        """Flat dotted config overrides; unknown keys and wrongly typed values are refused here, with their line."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping of dotted config keys, got {value!r}")
        for k, v in value.items():
            self.value_type(k, v, self.config_key(value, k, prefix))
        return dict(value)

    def value_type(self, key: str, value, where: str) -> None:
        if isinstance(value, (dict, list)) or value is None:
            self.fail(where, f"must be a single value, got {value!r}")
        try:
            Config().update({key: value}, where=where)
        except ConfigError as e:
            # config.py words a type error "<where>: <key>: expected ..." and a type is wrong in any combination;
            # choices and bounds wait for whole configs, since some rules need several keys together
            if str(e).startswith(f"{where}: {key}: expected"):
                raise StudyError(str(e)) from None

    def study(self, data) -> Study:
        if not isinstance(data, dict):
            self.fail(str(self.path), "the top level must be a mapping of study keys")
        self.mapping(data, str(self.path), KEYS, REQUIRED)
        if data["name"] != self.path.stem:
            self.fail(self.at(data, "name"), f"'{data['name']}' must equal the file name '{self.path.stem}'")
        datasets = self.datasets(data, "datasets", DATASETS, "")
        sweep = self.sweep(data)
        variants = self.variants(data, datasets)
        metric = self.one_of(data, "metric", "", "dev_f1", tuple(METRICS), "metric")
        mode = data.get("mode", METRICS[metric])
        if mode != METRICS[metric]:
            self.fail(self.at(data, "mode"), f"{metric} is to be maximised: mode must be '{METRICS[metric]}'")
        study = Study(name=data["name"], path=self.path, description=str(data.get("description", "")),
                      datasets=datasets, seeds=self.seeds(data),
                      base=self.overrides(data.get("base"), self.at(data, "base"), "base."),
                      dataset_overrides=self.dataset_overrides(data, datasets), variants=variants, sweep=sweep,
                      search=self.search(data), scheduler=self.scheduler(data), metric=metric, mode=mode,
                      resources=self.resources(data), report=self.report(data, sweep, variants))
        self.check_combination(data, study)
        return study

    def datasets(self, m, key, known, prefix) -> list:
        value, where = m[key], self.at(m, key, prefix)
        if not isinstance(value, list) or not value:
            self.fail(where, f"must be a non-empty list, got {value!r}")
        for v in value:
            if v not in known:
                self.fail(where, f"unknown dataset '{v}'; known here: {', '.join(known)}")
        if len(set(value)) != len(value):
            self.fail(where, f"lists a dataset twice: {value}")
        return list(value)

    def seeds(self, data) -> list:
        value = data["seeds"]
        if not isinstance(value, list) or not value or not all(is_int(s) and 0 <= s <= MAX_SEED for s in value):
            self.fail(self.at(data, "seeds"), f"must be a non-empty list of integers 0 .. {MAX_SEED}, got {value!r}")
        if len(set(value)) != len(value):
            self.fail(self.at(data, "seeds"), f"lists a seed twice: {value}")
        return list(value)

    def dataset_overrides(self, data, datasets) -> dict:
        value = data.get("dataset_overrides") or {}
        if not isinstance(value, dict):
            self.fail(self.at(data, "dataset_overrides"), f"must map a dataset to its overrides, got {value!r}")
        out = {}
        for ds, ov in value.items():
            where = self.at(value, ds, "dataset_overrides.")
            if ds not in datasets:
                self.fail(where, f"'{ds}' is not one of the study's datasets ({', '.join(datasets)})")
            out[ds] = self.overrides(ov, where, f"dataset_overrides.{ds}.")
        return out

    def variants(self, data, datasets) -> list:
        value = data.get("variants")
        if value is None:
            return []
        if not isinstance(value, list) or not value:
            self.fail(self.at(data, "variants"), "must be a non-empty list of variants (or left out)")
        out, names = [], set()
        for i, v in enumerate(value):
            p = f"variants[{i}]."
            self.mapping(v, f"{self.at(data, 'variants')}[{i}]", VARIANT_KEYS, ("name",), p)
            name = v["name"]
            if not isinstance(name, str) or not name.strip() or "=" in name:
                self.fail(self.at(v, "name", p), f"must be a non-empty text without '=' (labels with '=' are the "
                          f"sweep's), got {name!r}")
            if name in names:
                self.fail(self.at(v, "name", p), f"variant '{name}' is defined twice")
            names.add(name)
            components = v.get("components")
            if components is not None and (not isinstance(components, dict) or not components or not all(
                    isinstance(c, str) and is_int(x) and x in (0, 1) for c, x in components.items())):
                self.fail(self.at(v, "components", p), f"must map component names to 0 or 1, got {components!r}")
            out.append(Variant(name=name, overrides=self.overrides(v.get("overrides"), self.at(v, "overrides", p),
                                                                   f"{p}overrides."),
                               components=dict(components) if components else None,
                               datasets=tuple(self.datasets(v, "datasets", datasets, p)) if "datasets" in v else None,
                               description=str(v.get("description", ""))))
        return out

    def search(self, data) -> dict:
        s = self.mapping(data["search"], self.at(data, "search"), ("algorithm", "num_samples", "sampler", "seed"),
                         ("algorithm",), "search.")
        algorithm = self.one_of(s, "algorithm", "search.", None, ALGORITHMS, "search algorithm")
        if algorithm == "grid":
            for k in ("num_samples", "sampler", "seed"):
                if k in s:
                    self.fail(self.at(s, k, "search."), "is for optuna searches only (a grid runs every point)")
            return {"algorithm": "grid"}
        if "num_samples" not in s:
            self.fail(self.at(data, "search"), "an optuna search needs num_samples (trials per dataset and seed)")
        return {"algorithm": "optuna", "num_samples": self.integer(s, "num_samples", "search.", None, 1),
                "sampler": self.one_of(s, "sampler", "search.", "tpe", SAMPLERS, "sampler"),
                "seed": self.integer(s, "seed", "search.", 0, 0)}

    def scheduler(self, data) -> dict | None:
        if data.get("scheduler") is None:
            return None
        s = self.mapping(data["scheduler"], self.at(data, "scheduler"), ("type", "grace_period", "reduction_factor"),
                         ("type",), "scheduler.")
        factor = s.get("reduction_factor", 2)
        if not is_number(factor) or factor <= 1:
            self.fail(self.at(s, "reduction_factor", "scheduler."), f"must be a number > 1, got {factor!r}")
        return {"type": self.one_of(s, "type", "scheduler.", None, SCHEDULERS, "scheduler"),
                "grace_period": self.integer(s, "grace_period", "scheduler.", 1, 1), "reduction_factor": factor}

    def resources(self, data) -> dict:
        r = self.mapping(data.get("resources") or {}, self.at(data, "resources"),
                         ("workers", "cpus_per_worker", "gpus_per_worker"), prefix="resources.")
        out = {"workers": self.integer(r, "workers", "resources.", 1, 1)}
        for k, default, positive in (("cpus_per_worker", 1, True), ("gpus_per_worker", 0, False)):
            v = r.get(k, default)
            if not is_number(v) or v < 0 or (positive and v == 0):
                self.fail(self.at(r, k, "resources."), f"must be a {'positive' if positive else 'non-negative'} "
                          f"number, got {v!r}")
            out[k] = v
        return out

    def report(self, data, sweep: dict, variants: list) -> dict:
        r = self.mapping(data["report"], self.at(data, "report"),
                         ("kind", "params", "reference", "margin", "until_resolved"), ("kind",), "report.")
        kind = self.one_of(r, "kind", "report.", None, REPORT_KINDS, "report kind")
        params = r.get("params") or []
        if not isinstance(params, list):
            self.fail(self.at(r, "params", "report."), f"must be a list of swept keys, got {params!r}")
        varied = list(sweep) + [k for v in variants for k in v.overrides if k not in sweep]
        for p in params:
            if p not in varied:  # a table over a key the rows do not vary would have one row
                self.fail(self.at(r, "params", "report."), f"'{p}' is not swept nor set by a variant "
                          f"(varied here: {', '.join(dict.fromkeys(varied)) or 'nothing'})")
        if kind == "sweep" and not params:
            self.fail(self.at(r, "kind", "report."), "a sweep report needs params: the swept keys it tabulates")
        if kind in ("ablation", "factorial"):
            check_components(kind, variants, sweep, f"{self.at(data, 'variants')}")
        out = {"kind": kind, "params": list(params)}
        if "reference" in r:  # the row the others are compared with: ΔF1 and the paired test's marks
            names, point = [v.name for v in variants], grid_point(r["reference"], sweep)
            if r["reference"] not in names and point is None:
                grid = (f" or a point of the sweep grid, as its row label (e.g. "
                        f"{format_assignments({k: d.values[0] for k, d in sweep.items()})!r})" if sweep else "")
                self.fail(self.at(r, "reference", "report."), f"must name one of the variants "
                          f"({', '.join(map(repr, names)) or 'none here'}){grid}, got {r['reference']!r}")
            out["reference"] = r["reference"] if point is None else format_assignments(point)
        if "margin" in r:  # the smallest F1 difference that matters: equivalence is read within it (statistics.md)
            if not is_number(r["margin"]) or not 0 < r["margin"] < 100:
                self.fail(self.at(r, "margin", "report."), f"must be F1 points in (0, 100), got {r['margin']!r}")
            out["margin"] = float(r["margin"])
        if "until_resolved" in r:  # as --until-resolved: seeds are added to unresolved rows up to this many
            out["until_resolved"] = self.integer(r, "until_resolved", "report.", None, 2)
        return out

    def sweep(self, data) -> dict:
        value = data.get("sweep")
        if value is None:
            return {}
        if not isinstance(value, dict) or not value:
            self.fail(self.at(data, "sweep"), "must map config keys to distributions (or be left out)")
        return {k: self.distribution(value[k], self.config_key(value, k, "sweep."), k) for k in value}

    def distribution(self, spec, where: str, key: str) -> Distribution:
        if not isinstance(spec, dict) or len(spec) != 1:
            self.fail(where, f"must be one mapping {{distribution: values}}, distribution one of "
                      f"{', '.join(DISTRIBUTIONS)}; got {spec!r}")
        (kind, values), = spec.items()
        if kind not in DISTRIBUTIONS:
            self.fail(where, f"unknown distribution '{kind}'; known: {', '.join(DISTRIBUTIONS)}")
        if kind in ("grid", "choice"):
            if not isinstance(values, list) or not values:
                self.fail(where, f"{kind} must be a non-empty list of values, got {values!r}")
            if len({format_value(v) for v in values}) != len(values):
                self.fail(where, f"{kind} lists a value twice: {values}")
            for v in values:
                self.value_type(key, v, where)
            return Distribution(kind, tuple(values))
        if not isinstance(values, list) or len(values) != 2:
            self.fail(where, f"{kind} must be [lo, hi], got {values!r}")
        lo, hi = (self.number(v, where) for v in values)
        typ = KEY_TYPES[key]
        if kind in ("int", "logint"):
            if typ is not int or lo != int(lo) or hi != int(hi):
                self.fail(where, f"{kind} needs an integer parameter and integer bounds ({key} is {typ.__name__}, "
                          f"bounds [{lo}, {hi}])")
            lo, hi = int(lo), int(hi)
        elif typ is not float:
            self.fail(where, f"{kind} draws real numbers but {key} is {typ.__name__} (use int, logint or choice)")
        if not lo < hi:
            self.fail(where, f"{kind} needs lo < hi, got [{lo}, {hi}]")
        if kind in ("loguniform", "logint") and lo <= 0:
            self.fail(where, f"{kind} needs lo > 0, got {lo}")
        return Distribution(kind, (lo, hi))

    def check_combination(self, data, study: Study) -> None:
        kinds = {k: d.kind for k, d in study.sweep.items()}
        if study.search["algorithm"] == "grid":
            bad = [k for k, kind in kinds.items() if kind != "grid"]
            if bad:
                self.fail(self.at(data["sweep"], bad[0], "sweep."), f"a grid search takes grid values only, got "
                          f"{kinds[bad[0]]} (distributions need search.algorithm: optuna)")
            if study.scheduler:
                self.fail(self.at(data, "scheduler"), "early stopping would leave table cells unfinished: a "
                          "scheduler is for optuna searches only")
            return
        if not study.sweep:
            self.fail(self.at(data, "search"), "an optuna search needs a sweep of distributions")
        bad = [k for k, kind in kinds.items() if kind == "grid"]
        if bad:
            self.fail(self.at(data["sweep"], bad[0], "sweep."), "optuna samples distributions: use choice, not grid")
        if study.variants:
            self.fail(self.at(data, "variants"), "variants are rows of a grid study; an optuna search has none")

