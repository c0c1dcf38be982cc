"""Ray's own validation of a cluster file, offline: the same steps `ray up` runs before it contacts any machine.

Ray offers no public validator, so this uses its private API (ray.autoscaler._private.util): `prepare_config` (fill
in defaults, merge setup commands, convert the local provider's machine list into node types) and then the JSON
schema plus `validate_config`. Their exceptions are turned into problems that name the key.
"""
import contextlib
import copy
import difflib
import io
import json
import logging
import re
from pathlib import Path

import jsonschema
import ray.autoscaler
from ray.autoscaler._private.util import prepare_config, validate_config

from clusters.problems import ERROR, WARNING, Problem

_SCHEMA_PATH = Path(ray.autoscaler.__file__).parent / "ray-schema.json"


def _schema() -> dict:
    return json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))


def dotted(path) -> str:
    """jsonschema's path (deque of keys and indices) as `a.b[0].c`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _schema_problem(error: jsonschema.ValidationError) -> list[Problem]:
    where = dotted(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        problems = []
        for extra in sorted(k for k in error.instance if k not in allowed):
            close = difflib.get_close_matches(str(extra), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
            problems.append(Problem(ERROR, _join(where, str(extra)), "unknown key" + hint))
        return problems
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [Problem(ERROR, _join(where, missing), "missing: Ray requires this key here")]
    if error.validator == "type":
        wanted = error.validator_value
        if wanted == "integer" and isinstance(error.instance, (int, float)) and not isinstance(error.instance, bool):
            return [Problem(ERROR, where, f"must be a whole number, got {error.instance!r}")]
        return [Problem(ERROR, where, f"must be of type {wanted}, got {error.instance!r}")]
    if error.validator == "minimum":
        return [Problem(ERROR, where, f"must be >= {error.validator_value}, got {error.instance!r}")]
    return [Problem(ERROR, where or "(top level)", error.message)]


def schema_problems(config: dict, only_types: bool = False) -> list[Problem]:
    """Every schema violation (not just the first, as Ray's validate_config reports)."""
    schema = _schema()
    validator_cls = jsonschema.validators.validator_for(schema)
    problems = []
    for error in sorted(validator_cls(schema).iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        if only_types and error.validator not in ("type", "minimum"):
            continue
        problems.extend(_schema_problem(error))
    return problems


def _semantic_problems(config: dict) -> list[Problem]:
    """What validate_config checks beyond the schema, with messages that name the key and the choices."""
    types = config.get("available_node_types") or {}
    problems = []
    if types:
        head = config.get("head_node_type")
        if head is None:
            problems.append(Problem(ERROR, "head_node_type", "missing: required when available_node_types is set"))
        elif head not in types:
            problems.append(Problem(ERROR, "head_node_type",
                                    f"'{head}' is not one of available_node_types ({', '.join(types)})"))
        min_sum = sum((spec or {}).get("min_workers", 0) or 0 for spec in types.values())
        if isinstance(config.get("max_workers"), int) and min_sum > config["max_workers"]:
            problems.append(Problem(ERROR, "max_workers", f"{config['max_workers']} is below the sum of the node "
                                                          f"types' min_workers ({min_sum})"))
    return problems


def _prepare_failure(raw: dict, exc: Exception) -> list[Problem]:
    """prepare_config died (wrong types make it raise TypeError): find the key in the raw file."""
    typed = schema_problems(raw, only_types=True)
    if typed:
        return typed
    if isinstance(exc, KeyError):
        key = str(exc.args[0]) if exc.args else "?"
        return [Problem(ERROR, key, "missing: Ray needs this key to prepare the config")]
    if hasattr(exc, "format_message"):  # click.ClickException: Ray's own sentence, e.g. a field the provider refuses
        text = _ANSI.sub("", exc.format_message())
        named = [key for key in raw if re.search(rf"\b{re.escape(str(key))}\b", text)]
        return [Problem(ERROR, named[0] if named else "(top level)", text)]
    semantic = _semantic_problems(raw)
    if semantic:
        return semantic
    return [Problem(ERROR, "(top level)", f"Ray could not prepare the config: {type(exc).__name__}: {exc}")]


def ray_problems(raw: dict) -> tuple[list[Problem], dict | None]:
    """Problems found by Ray's own validation, and the prepared config (None when preparation failed)."""
    if not isinstance(raw.get("provider"), dict) or "type" not in raw["provider"]:
        return [Problem(ERROR, "provider.type", "missing: the provider (aws, gcp, local, ...) must be named")], None
    raw_head = raw.get("head_node_type")
    raw_types = raw.get("available_node_types")
    if isinstance(raw_types, dict) and raw_head is not None and raw_head not in raw_types:
        # prepare_config would fail on this with a bare KeyError; say what is wrong instead.
        return _semantic_problems(raw), None
    try:
        prepared, said = _quiet_prepare(raw)
    except Exception as exc:  # TypeError on wrong types, click.ClickException from the local provider's abort
        return _prepare_failure(raw, exc), None
    # Ray's own warnings while preparing (e.g. max_workers above the number of worker_ips) are worth showing.
    warnings = [Problem(WARNING, "(ray)", " ".join(said))] if said else []
    problems = schema_problems(prepared)
    if problems:
        return warnings + problems, prepared
    problems = _semantic_problems(prepared)
    if problems:
        return warnings + problems, prepared
    try:
        validate_config(prepared)
    except (jsonschema.ValidationError, ValueError, RuntimeError) as exc:
        return warnings + [Problem(ERROR, "(top level)", f"Ray refuses the config: {exc}")], prepared
    return warnings, prepared


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOG_PREFIX = re.compile(r"^\S+ \S+\s+[A-Z]+ \S+ -- ")  # "2026-01-01 10:00:00,000	WARN config.py:98 -- "


def _quiet_prepare(raw: dict) -> tuple[dict, list[str]]:
    """prepare_config with Ray's console chatter captured: returns the config and Ray's warning lines."""
    out, err = io.StringIO(), io.StringIO()
    ray_logger = logging.getLogger("ray.autoscaler")
    level = ray_logger.level
    handler = logging.StreamHandler(err)
    ray_logger.addHandler(handler)
    ray_logger.setLevel(logging.WARNING)
    propagate, ray_logger.propagate = ray_logger.propagate, False
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            prepared = prepare_config(copy.deepcopy(raw))
    finally:
        ray_logger.removeHandler(handler)
        ray_logger.setLevel(level)
        ray_logger.propagate = propagate
    said = [_LOG_PREFIX.sub("", _ANSI.sub("", line)).strip() for line in (out.getvalue() + err.getvalue()).splitlines()]
    return prepared, [line for line in said if line]
