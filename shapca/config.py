"""One typed config for a Shap-CA run: loaded from YAML and dotted CLI overrides, unknown keys refused by name.

Every switch a study sweeps or ablates lives here; docs/method.md says what each one does.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from shapca.data.types import DATASETS
from shapca.shapley_choices import CLOSED_FORM_VALUES, ESTIMATORS, VALUES


AMP_CHOICES = ("auto", "bf16", "none")  # train.amp; `auto` is resolved before a run's identity is taken
MAX_SEED = 2 ** 32 - 1  # numpy seeds its generator with 0 .. 2**32 - 1 (shapca/trainer.py seed_everything)


class ConfigError(ValueError):
    """A config key or value that does not exist or does not fit; the message names the key."""


@dataclass
class DataConfig:
    dataset: str = "twitter2017"  # twitter2015 | twitter2017 | mnre | jmere
    context: str = "none"  # context generator name (shapca.data.context_texts), "none", or "file:<path>"
    context_fallback: str = "error"  # error | empty: what a missing context does
    image: str = "none"  # none | features:<file> | encoder:<name> (then image_dir is needed)
    image_dir: str = ""
    context_sha256: str = ""  # of a file:<path> context's content, set when the run is planned (shapca/inputs.py)
    image_sha256: str = ""  # of a features:<file> image source's content, set when the run is planned
    mirror: str = ""  # local mirror of the upstream files; empty = env SHAPCA_DATA_MIRROR or download
    cache: str = ""  # download cache; empty = env SHAPCA_CACHE or ~/.cache/shapca
    limit_train: int = 0  # first N training examples (0 = all)
    limit_eval: int = 0  # first N dev and test examples (0 = all)
    max_len: int = 128  # sub-word tokens of text (+ context when encoded jointly)
    context_max_len: int = 64  # sub-word tokens of a context


@dataclass
class ModelConfig:
    encoder: str = "minilm"  # "minilm" (the offline all-MiniLM-L6-v2 package) or any HF name / local path
    encode_context: str = "joint"  # joint: [CLS] text [SEP] context [SEP]; separate: two encoder passes
    fusion: bool = True  # adaptive fusion of context tokens and image regions into text tokens
    fusion_gate: str = "token"  # none | scalar | vector | token
    fusion_heads: int = 4
    dropout: float = 0.1
    crf: bool = True  # NER: CRF over BIO tags (else per-token softmax)


@dataclass
class ShapleyConfig:
    value: str = "max"  # coalition value function: max | logsumexp | additive (additive = InfoNCE, for tests)
    estimator: str = "auto"  # auto (closed form where the game has one) | exact | permutation | closed_form
    samples: int = 16  # M: Monte Carlo permutations per target
    antithetic: bool = False
    beta: float = 0.1  # temperature of the logsumexp value function


@dataclass
class AlignConfig:
    alignment: str = "shapley"  # shapley | infonce | none
    tau: float = 0.1
    context_text: float = 0.1  # weight of the context-text alignment loss (0 = off)
    context_image: float = 0.1  # weight of the context-image alignment loss (0 = off; off without images)
    both_directions: bool = True


@dataclass
class TrainConfig:
    epochs: int = 3
    batch_size: int = 16
    eval_batch_size: int = 64
    lr: float = 5e-5  # encoder learning rate
    head_lr: float = 1e-3  # fusion, heads, CRF, projections
    weight_decay: float = 0.01
    warmup: float = 0.1  # fraction of steps with linear warm-up
    grad_clip: float = 1.0
    seed: int = 1
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "auto"  # auto (bf16 where the device computes it natively) | bf16 | none (float32): shapca/precision.py
    fail_at_epoch: int = 0  # test hook: raise at the start of this epoch (0 = never)
    num_threads: int = 0  # torch intra-op threads (0 = torch default)
    length_bucket_pool: int = 50  # batches per pool sorted by length before batching (less padding); 0: plain shuffle
    grad_share_every: int = 50  # every N steps, measure each loss term's share of the encoder's gradient (0: never)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    shapley: ShapleyConfig = field(default_factory=ShapleyConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    # ---- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict | None, where: str = "config") -> "Config":
        cfg = cls()
        cfg.update(flatten(d or {}), where=where)
        return cfg

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Config":
        text = Path(path).read_text()
        try:
            d = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        if d is not None and not isinstance(d, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
        return cls.from_dict(d, where=str(path))

    def update(self, flat: dict, where: str = "config") -> "Config":
        """Set dotted keys (`train.lr`) in place, converting each value to the field's type."""
        for key, value in flat.items():
            section, _, name = str(key).partition(".")
            sub = getattr(self, section, None) if section in SECTIONS else None
            if sub is None or not name or name not in _field_types(type(sub)):
                raise ConfigError(f"{where}: unknown config key '{key}' (known: {', '.join(known_keys())})")
            if section == "data" and name in PINNED_FILES and f"data.{PINNED_FILES[name][1]}" not in flat:
                # a content hash belongs to the path it was taken of: another path is pinned anew
                setattr(self.data, PINNED_FILES[name][1], "")
            setattr(sub, name, _coerce(value, _field_types(type(sub))[name], f"{where}: {key}"))
        self.validate(where)
        return self

    def override(self, assignments: list[str]) -> "Config":
        """Apply CLI overrides of the form `section.key=value` (value parsed as YAML)."""
        return self.update(parse_assignments(assignments), where="override")

    def copy(self) -> "Config":
        return Config.from_dict(self.to_dict())

    # ---- checks -------------------------------------------------------------------------------------------
    def validate(self, where: str = "config") -> None:
        choices = {
            "data.dataset": DATASETS,
            "data.context_fallback": ("error", "empty"),
            "model.encode_context": ("joint", "separate"),
            "model.fusion_gate": ("none", "scalar", "vector", "token"),
            "shapley.value": VALUES,
            "shapley.estimator": ESTIMATORS,
            "align.alignment": ("shapley", "infonce", "none"),
            "train.device": ("auto", "cpu", "cuda"),
            "train.amp": AMP_CHOICES,
        }
        flat = self.flat()
        for key, allowed in choices.items():
            if flat[key] not in allowed:
                raise ConfigError(f"{where}: {key} must be one of {', '.join(allowed)}, got {flat[key]!r}")
        image = self.data.image
        if not (image == "none" or image.startswith("features:") or image.startswith("encoder:")):
            raise ConfigError(f"{where}: data.image must be none, features:<file> or encoder:<name>, got {image!r}")
        if image.startswith("encoder:") and not self.data.image_dir:
            raise ConfigError(f"{where}: data.image={image} needs data.image_dir (the image folder)")
        for name, (prefix, digest) in PINNED_FILES.items():
            if flat[f"data.{digest}"] and not flat[f"data.{name}"].startswith(prefix):
                raise ConfigError(f"{where}: data.{digest} is the content hash of a data.{name}={prefix}<path> file "
                                  f"(set when it is planned); data.{name} is {flat[f'data.{name}']!r}")
        if not 0 <= self.train.seed <= MAX_SEED:
            raise ConfigError(f"{where}: train.seed must be between 0 and {MAX_SEED} (numpy's seeds), got "
                              f"{self.train.seed}")
        if self.shapley.estimator == "closed_form" and self.shapley.value not in CLOSED_FORM_VALUES:
            raise ConfigError(f"{where}: shapley.estimator=closed_form exists only for shapley.value="
                              f"{' or '.join(CLOSED_FORM_VALUES)}")
        positive = ("shapley.samples", "shapley.beta", "align.tau", "train.epochs", "train.batch_size",
                    "train.eval_batch_size", "train.lr", "train.head_lr", "data.max_len", "data.context_max_len",
                    "model.fusion_heads")
        for key in positive:
            if not flat[key] > 0:
                raise ConfigError(f"{where}: {key} must be positive, got {flat[key]!r}")
        for key in ("align.context_text", "align.context_image", "data.limit_train", "data.limit_eval",
                    "train.grad_share_every"):
            if flat[key] < 0:
                raise ConfigError(f"{where}: {key} must not be negative, got {flat[key]!r}")

    # ---- views --------------------------------------------------------------------------------------------
    # read field by field: every value is a plain str, int, float or bool, so dataclasses.asdict's deep copies (most
    # of a study's planning time, three times per trial) buy nothing
    def to_dict(self) -> dict:
        return {s: {name: getattr(sub, name) for name in _field_types(type(sub))}
                for s in SECTIONS for sub in (getattr(self, s),)}

    def flat(self) -> dict:
        return {f"{s}.{name}": getattr(sub, name) for s in SECTIONS for sub in (getattr(self, s),)
                for name in _field_types(type(sub))}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def hash(self, exclude: tuple[str, ...] = ()) -> str:
        """Identity of a run: the resolved config minus keys that do not change results (paths, test hooks), and
        minus keys added since identity was defined that still hold the value that keeps the old behaviour."""
        if self.train.amp == "auto":  # two machines could train an `auto` config in different precisions
            raise ConfigError("train.amp=auto has no identity until it is resolved to the precision the run trains "
                              "in (shapca.precision.resolve_amp)")
        flat = {k: v for k, v in self.flat().items() if k not in NON_IDENTITY and k not in exclude
                and not (k in ADDED_SINCE and ADDED_SINCE[k] == v)}
        for name, (prefix, digest) in PINNED_FILES.items():
            if flat.get(f"data.{digest}"):  # a pinned file is known by its content: its path is the machine's
                flat[f"data.{name}"] = prefix
        return hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()[:12]

    def without_effect(self) -> dict[str, str]:
        """Keys whose value cannot change what this config trains, each with the reason: a part the data cannot
        switch on, which the model (shapca/model.py) switches off whatever its key says. Two configs equal but for
        these train the same model."""
        if self.data.image != "none":
            return {}
        reason = "no images here (data.image=none): the model sets the context-image alignment weight to 0"
        return {"align.context_image": reason, "data.image_dir": reason}


SECTIONS = ("data", "model", "shapley", "align", "train")
# Keys that say where things are or how to run them, not what is computed: left out of a run's identity.
NON_IDENTITY = ("data.mirror", "data.cache", "train.device", "train.fail_at_epoch", "train.num_threads",
                "train.eval_batch_size", "train.grad_share_every")

# The user's own files a config may name (data.<key> = prefix + path) -> the key holding their content's sha256.
# shapca/inputs.py pins them when a run is planned; Config.hash takes the content for the path.
PINNED_FILES = {"context": ("file:", "context_sha256"), "image": ("features:", "image_sha256")}

# A key added to the config after its first release, with the value that reproduces the behaviour from before it
# existed. Left out of the hash at that value, so an upgrade does not orphan finished trials (docs/studies.md,
# "Trial identity"); every other value of it changes the hash. A new key must be registered here (a test holds
# the hashes of known configs fixed).
ADDED_SINCE: dict[str, object] = {"train.length_bucket_pool": 0, "data.context_sha256": "", "data.image_sha256": ""}


def parse_assignments(assignments: list[str]) -> dict:
    """`section.key=value` strings (value parsed as YAML) -> flat overrides; the keys are checked where applied."""
    flat = {}
    for a in assignments:
        if "=" not in a:
            raise ConfigError(f"override '{a}': expected section.key=value")
        k, v = a.split("=", 1)
        flat[k.strip()] = yaml.safe_load(v) if v.strip() else ""
    return flat


def format_value(v) -> str:
    """A config value as a study file and a row label write it (booleans as YAML's true/false)."""
    return str(v).lower() if isinstance(v, bool) else str(v)


def format_assignments(values: dict, digits: int | None = None) -> str:
    """`key=value, ...` in the given order: a row's label. `digits` rounds reals (the label of a sampled trial)."""
    return ", ".join(f"{k}={format(v, f'.{digits}g') if digits and isinstance(v, float) else format_value(v)}"
                     for k, v in values.items())


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def known_keys() -> list[str]:
    return sorted(Config().flat())


@functools.cache  # get_type_hints evaluates every annotation anew: most of the time a study takes to plan
def _field_types(cls) -> dict:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value, typ, where: str):
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif typ is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None and math.isfinite(number):
            return number
        if number is not None:  # 1e999 is inf: a run would train on NaN and end "FINISHED" with F1 0
            raise ConfigError(f"{where}: expected a finite float, got {value!r}")
    elif typ is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ConfigError(f"{where}: expected {typ.__name__}, got {value!r}")
