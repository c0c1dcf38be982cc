"""YAML with line numbers, and checked reads of its mappings whose every error names the file, the line and the key.

Each mapping remembers the line of each key, and two equal keys in one mapping are refused (plain PyYAML keeps the
last without a word). `Reader` holds the checks any key of such a file needs; the study's own rules are
ablations/study_file.py.
"""
from __future__ import annotations

import difflib
from pathlib import Path

import yaml

from ablations.schema import StudyError


class _Mapping(dict):
    """A YAML mapping that remembers the line of each key."""
    lines: dict


class LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    out = _Mapping()
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)):
            raise StudyError(f"{line}: a key must be a plain value, got {key!r}")
        if key in out:  # plain PyYAML keeps the last of two equal keys without a word
            raise StudyError(f"{line}: duplicate key '{key}' (first on line {out.lines[key]})")
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Reader:
    """Checked reads of the mappings of one file loaded with LineLoader: each error names the file, line and key."""

    def __init__(self, path: Path):
        self.path = path

    def at(self, mapping, key, prefix: str = "") -> str:
        line = getattr(mapping, "lines", {}).get(key)
        return f"{self.path}:{line}: {prefix}{key}" if line else f"{self.path}: {prefix}{key}"

    def fail(self, where: str, msg: str):
        raise StudyError(f"{where}: {msg}")

    def mapping(self, value, where: str, keys: tuple, required: tuple = (), prefix: str = "") -> dict:
        """A mapping with only `keys` (an unknown key is named with its line) and every `required` key."""
        if not isinstance(value, dict):
            self.fail(where, f"must be a mapping, got {value!r}")
        for k in value:
            if k not in keys:
                hint = difflib.get_close_matches(str(k), keys, n=1)
                self.fail(self.at(value, k, prefix), "unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                          + f"; known: {', '.join(keys)}")
        for k in required:
            if k not in value:
                self.fail(where, f"missing required key '{k}'")
        return value

    def integer(self, m, key, prefix, default, minimum: int) -> int:
        v = m.get(key, default)
        if not is_int(v) or v < minimum:
            self.fail(self.at(m, key, prefix), f"must be an integer >= {minimum}, got {v!r}")
        return v

    def one_of(self, m, key, prefix, default, known: tuple, what: str) -> str:
        v = m.get(key, default)
        if v not in known:
            self.fail(self.at(m, key, prefix), f"unknown {what} {v!r}; known: {', '.join(map(str, known))}")
        return v

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
