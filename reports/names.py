"""Display names for datasets and swept parameters; unknown keys are shown as they are."""
from __future__ import annotations

import re

DATASETS = {"twitter2015": "Twitter-2015", "twitter2017": "Twitter-2017", "mnre": "MNRE", "jmere": "JMERE"}
# in run names, which MLflow's runs table cuts to its column width
DATASET_ABBREV = {"twitter2015": "t15", "twitter2017": "t17", "mnre": "mnre", "jmere": "jmere"}

# Swept config keys (dotted keys of shapca.config.Config) with a reader-facing name.
PARAMS = {
    "shapley.samples": "Shapley samples M",
    "align.tau": "temperature τ",
    "model.fusion_gate": "fusion gate",
    "data.context": "context generator",
    "train.lr": "learning rate",
}

# Keys whose value drives the training cost: their tables get a step-time column and their plots a cost axis.
COST_PARAMS = frozenset({"shapley.samples"})


def dataset_name(dataset: str) -> str:
    return DATASETS.get(dataset, dataset)


def param_name(key: str) -> str:
    return PARAMS.get(key, key)


def file_stem(name: str) -> str:
    """A file-name-safe form of a key: dots (which look like suffixes) and odd characters become '_'."""
    return re.sub(r"[^A-Za-z0-9-]+", "_", name).strip("_") or "_"


def sort_key(value: str | None) -> tuple:
    """Numbers in numeric order before any text in text order; missing values last."""
    if value is None:
        return (2, 0.0, "")
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def is_numeric(values: list[str | None]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(sort_key(v)[0] == 0 for v in present)


KEY_ALIAS = {"shapley.samples": "M", "align.tau": "tau", "model.fusion_gate": "gate"}
_SWEPT_KEY = re.compile(r"(^|, )([A-Za-z_]\w*(?:\.\w+)+)=")


def short_label(label: str) -> str:
    """A row label for a run name: each swept `section.key=` shortened to an alias or its last part
    ("shapley.samples=16" -> "M=16"), unless two keys of the label would then read the same."""
    keys = [k for _, k in _SWEPT_KEY.findall(label)]
    short = {k: KEY_ALIAS.get(k, k.rsplit(".", 1)[-1]) for k in keys}
    if len(set(short.values())) < len(set(keys)):
        short = {k: KEY_ALIAS.get(k, k) for k in keys}
    return _SWEPT_KEY.sub(lambda m: f"{' ' if m.group(1) else ''}{short[m.group(2)]}=", label)
