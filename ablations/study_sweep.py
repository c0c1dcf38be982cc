"""The `sweep` of a study file: config keys to distributions (grid, choice, uniform, loguniform, int, logint).

Part of the study parser (ablations/study_file.py): `SweepRules` holds its methods for the sweep, so that each file
stays readable; they use the parser's `fail`, `at`, `config_key` and `value_type`.
"""
from __future__ import annotations

from ablations.schema import DISTRIBUTIONS, KEY_TYPES, Distribution, format_value


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class SweepRules:
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

    def number(self, v, where: str) -> float:
        # YAML 1.1 reads 1e-5 (no dot) as text: numeric text is accepted, anything else refused
        if is_number(v):
            return v
        if isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                pass
        self.fail(where, f"bounds must be numbers, got {v!r}")

