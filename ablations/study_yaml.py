"""YAML with line numbers: each mapping remembers the line of each key, so a study error can name it.

Also refuses two equal keys in one mapping (plain PyYAML keeps the last without a word).
"""
from __future__ import annotations

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
