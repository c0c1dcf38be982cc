"""Registry of context generators: one text per example, joined by image id (or, for ChatGPT, by tweet).

Names per dataset (generators(dataset) lists them):
- mnre, jmere: llava_next, cogvlm, minicpm_v, qwen_vl, instructblip, blip (CAMIM's image descriptions; JMERE
  reuses MNRE's, its images are MNRE's);
- twitter2015, twitter2017: blip2 (PGIM's BLIP-2 captions), chatgpt (PGIM's per-tweet auxiliary knowledge);
- none everywhere: empty strings, full coverage by definition;
- file:<path> everywhere: a user JSONL file, one {"img_id": ..., "text": ..., ...} object per line (blank lines
  allowed, extra keys ignored), e.g. the output of a future generation job.
A missing context raises MissingContextError unless fallback="empty"; Coverage counts both. All texts are
stripped of leading and trailing whitespace.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shapca.data import fetch, manifest
from shapca.data.context_sources import read_blip2, read_camim, read_chatgpt, read_context_table
from shapca.data.errors import DataError, MissingContextError
from shapca.data.types import DATASETS, SPLITS

# generator name -> CAMIM file stem (CAMIM/data/caption/<stem>_<train|val|test>.txt)
CAMIM_STEMS = {"llava_next": "llavanext", "cogvlm": "cogvlm", "minicpm_v": "minicpm", "qwen_vl": "caption",
               "instructblip": "instruct", "blip": "BLIP"}
TWEET_GENERATORS = ("blip2", "chatgpt")
_CAMIM_SPLIT = {"train": "train", "dev": "val", "test": "test"}
_UMT_SPLIT = {"train": "train", "dev": "valid", "test": "test"}
FALLBACKS = ("error", "empty")


def generators(dataset: str) -> list[str]:
    """Built-in generator names for a dataset ("file:<path>" is accepted too)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {list(DATASETS)}")
    upstream = list(CAMIM_STEMS) if dataset in ("mnre", "jmere") else list(TWEET_GENERATORS)
    return upstream + ["none"]


@dataclass(frozen=True)
class Coverage:
    dataset: str
    split: str
    generator: str
    total: int  # examples asked for
    covered: int  # examples whose context exists in the source
    fallback: int  # examples given "" because the source lacks them (only with fallback="empty")
    empty: int  # examples whose context exists but is empty (e.g. a few BLIP texts upstream)

    @property
    def fraction(self) -> float:
        return self.covered / self.total if self.total else 1.0

    def __str__(self) -> str:
        return (f"{self.generator} on {self.dataset}/{self.split}: {self.covered}/{self.total} covered "
                f"({100 * self.fraction:.1f}%), {self.fallback} fallback, {self.empty} empty")


@lru_cache(maxsize=None)
def _camim(generator: str, split: str, mirror: str | None, cache: str) -> dict[str, str]:
    path = f"CAMIM/data/caption/{CAMIM_STEMS[generator]}_{_CAMIM_SPLIT[split]}.txt"
    return read_camim(fetch.resolve(manifest.CAMIM, path, mirror, cache))


@lru_cache(maxsize=None)
def _blip2(dataset: str, mirror: str | None, cache: str) -> dict[str, str]:
    path = f"data/ImageCaption/BLIP2_{dataset[-2:]}.txt"
    return read_blip2(fetch.resolve(manifest.PGIM, path, mirror, cache))


@lru_cache(maxsize=None)
def _chatgpt(dataset: str, split: str, mirror: str | None, cache: str) -> tuple:
    archive = f"data/data_PGIM/{dataset[-4:]}.zip"
    member = f"{_UMT_SPLIT[split]}.txt"
    path = fetch.resolve_member(manifest.PGIM, archive, member, mirror, cache)
    return tuple(read_chatgpt(path, label=f"{manifest.PGIM}/{archive}!{member}"))


@lru_cache(maxsize=None)
def _user_file(path: str, mtime_ns: int, size: int) -> dict[str, str]:
    return read_context_table(path)


def _by_image(dataset: str, split: str, generator: str, mirror, cache) -> dict[str, str]:
    if generator.startswith("file:"):
        path = Path(generator[len("file:"):]).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"context file {path} (from generator {generator!r}) does not exist")
        st = path.stat()
        return _user_file(str(path), st.st_mtime_ns, st.st_size)
    if generator == "blip2":
        return _blip2(dataset, mirror, cache)
    return _camim(generator, split, mirror, cache)


def _chatgpt_texts(dataset: str, split: str, examples, mirror, cache) -> list[str | None]:
    """Knowledge per example by its position in UMT's split (its id's index), checked against its tokens."""
    tweets = _chatgpt(dataset, split, mirror, cache)
    prefix = f"{dataset}/{split}/"
    texts: list[str | None] = []
    for ex in examples:
        if not ex.id.startswith(prefix) or not ex.id[len(prefix):].isdigit():
            raise ValueError(f"chatgpt contexts align by position: example id {ex.id!r} is not {prefix}<index>")
        index = int(ex.id[len(prefix):])
        if index >= len(tweets):
            texts.append(None)
            continue
        tokens, text = tweets[index]
        if list(tokens) != list(ex.tokens):
            raise DataError(f"{manifest.PGIM}/data/data_PGIM/{dataset[-4:]}.zip!{_UMT_SPLIT[split]}.txt", 0,
                            f"tweet {index} does not match example {ex.id}: the files are out of alignment")
        texts.append(text)
    return texts


def load_contexts(dataset: str, split: str, generator: str, examples, fallback: str = "error",
                  mirror: str | None = None, cache: str | None = None) -> tuple[list[str], Coverage]:
    """One context string per example, in order, and how many the source covered."""
    if dataset not in DATASETS or split not in SPLITS:
        raise ValueError(f"unknown dataset/split {dataset!r}/{split!r}")
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {FALLBACKS}, got {fallback!r}")
    if generator not in generators(dataset) and not generator.startswith("file:"):
        raise ValueError(f"unknown context generator {generator!r} for {dataset}; known: "
                         f"{generators(dataset)} or file:<path>")
    examples = list(examples)
    if generator == "none":
        n = len(examples)
        return [""] * n, Coverage(dataset, split, generator, n, n, 0, n)
    m = fetch.mirror_dir(mirror)
    where = (str(m) if m is not None else None, str(fetch.cache_dir(cache)))
    if generator == "chatgpt":
        found = _chatgpt_texts(dataset, split, examples, *where)
    else:
        table = _by_image(dataset, split, generator, *where)
        found = [table.get(ex.img_id) for ex in examples]
    missing = [ex for ex, text in zip(examples, found) if text is None]
    if missing and fallback == "error":
        first = missing[0]
        raise MissingContextError(
            f"context generator {generator!r} has no text for {len(missing)} of {len(examples)} examples of "
            f"{dataset}/{split}; first missing img_id {first.img_id!r} (example {first.id}). "
            f"Pass fallback='empty' to use empty strings for them.")
    texts = [text if text is not None else "" for text in found]
    empty = sum(1 for text in found if text == "")
    cov = Coverage(dataset, split, generator, len(examples), len(examples) - len(missing), len(missing), empty)
    return texts, cov
