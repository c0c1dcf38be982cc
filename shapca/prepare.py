"""Config -> everything a run reads: examples, contexts, image source, tokenizer, label sets and encoded splits.

Tokenisation runs once per (split, context, encoder, lengths) and is cached on disk as JSON (never pickle), so
trials that share data settings skip it.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from shapca import data
from shapca.config import Config
from shapca.data.context_texts import load_contexts
from shapca.data.types import SPLITS, TASK_OF
from shapca.features import Encoded, encode
from shapca.inputs import verify
from shapca.model import check_encoder, resolve_encoder

TOKEN_CACHE_VERSION = 1


@dataclass
class Prepared:
    task: str
    types: list[str]  # entity types (NER, JMERE)
    relations: list[str]  # relation labels, "None" first (RE, JMERE)
    examples: dict[str, list] = field(default_factory=dict)
    encoded: dict[str, list[Encoded]] = field(default_factory=dict)
    coverage: dict[str, str] = field(default_factory=dict)
    contexts: dict[str, list[str]] = field(default_factory=dict)  # split -> one context text per example
    tokenizer: object = None
    image_source: object = None


def cache_dir(cfg: Config) -> Path:
    base = cfg.data.cache or os.environ.get("SHAPCA_CACHE") or Path.home() / ".cache" / "shapca"
    return Path(base) / "tokens"


def _limit(items: list, n: int) -> list:
    return items[:n] if n else items


def label_sets(dataset: str, mirror=None, cache=None) -> tuple[list[str], list[str]]:
    task = TASK_OF[dataset]
    if task == "ner":
        return list(data.labels(dataset, mirror=mirror, cache=cache)), []
    relations = list(data.labels(dataset, mirror=mirror, cache=cache))
    if "None" in relations:
        relations.remove("None")
    relations = ["None"] + relations
    types = list(data.entity_types(dataset, mirror=mirror, cache=cache)) if task == "jmere" else []
    return types, relations


def prepare(cfg: Config, log=print) -> Prepared:
    from transformers import AutoTokenizer

    verify(cfg)  # the user's own files are still what the run was planned with (their content is its identity)
    d = cfg.data
    mirror, cache = d.mirror or None, d.cache or None
    types, relations = label_sets(d.dataset, mirror, cache)
    prep = Prepared(TASK_OF[d.dataset], types, relations)
    check_encoder(cfg.model.encoder)
    encoder_path = resolve_encoder(cfg.model.encoder)
    prep.tokenizer = AutoTokenizer.from_pretrained(encoder_path)
    for split in SPLITS:
        examples = data.load(d.dataset, split, mirror=mirror, cache=cache)
        examples = _limit(examples, d.limit_train if split == "train" else d.limit_eval)
        contexts, cov = load_contexts(d.dataset, split, d.context, examples, fallback=d.context_fallback,
                                      mirror=mirror, cache=cache)
        prep.examples[split], prep.coverage[split], prep.contexts[split] = examples, str(cov), contexts
        prep.encoded[split] = _encode_cached(cfg, split, examples, contexts, prep.tokenizer)
    if d.image != "none":
        from shapca.data.images import get_image_source
        prep.image_source = get_image_source(d.image, d.image_dir)
        for split in SPLITS:
            found, total = prep.image_source.coverage([e.img_id for e in prep.examples[split]])
            log(f"images {split}: {found}/{total} found")
    else:
        log("images: none (image source 'none': every image part of the model is off)")
    return prep


def _encode_cached(cfg: Config, split: str, examples, contexts, tokenizer) -> list[Encoded]:
    d = cfg.data
    key = json.dumps([TOKEN_CACHE_VERSION, d.dataset, split, d.context, d.context_fallback, len(examples),
                      hashlib.sha256("\x1f".join(contexts).encode()).hexdigest(), cfg.model.encoder,
                      tokenizer.vocab_size, d.max_len, d.context_max_len,
                      cfg.model.encode_context])
    path = cache_dir(cfg) / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".json")
    if path.exists():
        try:
            return [Encoded(**{**r, "marks": tuple(r["marks"])}) for r in json.loads(path.read_text())]
        except (ValueError, TypeError, KeyError):
            path.unlink(missing_ok=True)  # a stale or damaged cache entry is rebuilt, never trusted
    enc = encode(examples, contexts, tokenizer, d.max_len, d.context_max_len, cfg.model.encode_context == "joint")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump([asdict(e) for e in enc], f)
    os.replace(tmp, path)
    return enc
