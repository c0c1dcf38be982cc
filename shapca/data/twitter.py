"""Twitter-2015 / Twitter-2017 multimodal NER (UMT's CoNLL files).

Format: a line `IMGID:<id>`, then one `token<TAB>BIO-tag` line per token, then a blank line (2015's files lack the
final blank line). The image is `<id>.jpg`.

Label scheme: the upstream types are kept as they are, 2015: PER LOC ORG OTHER, 2017: PER LOC ORG MISC. Published
results on each dataset are computed on its own scheme, and renaming a type would change nothing in entity-level
F1 while making tables harder to compare with the literature; cross-dataset training is not a goal.
"""
from __future__ import annotations

from pathlib import Path

from shapca.data import fetch, manifest
from shapca.data.bio import split_tag
from shapca.data.errors import DataError
from shapca.data.types import NERExample

TYPES = {"twitter2015": ("PER", "LOC", "ORG", "OTHER"), "twitter2017": ("PER", "LOC", "ORG", "MISC")}
_FILE_OF_SPLIT = {"train": "train.txt", "dev": "valid.txt", "test": "test.txt"}


def source(dataset: str, split: str) -> tuple[str, str]:
    """(repo, path) of the upstream CoNLL file of one split."""
    return manifest.UMT, f"data/{dataset}/{_FILE_OF_SPLIT[split]}"


def read_conll(path: str | Path, dataset: str, split: str, types=None) -> list[NERExample]:
    """Parse one CoNLL file; any malformed line raises DataError naming the file and line."""
    allowed = set(types if types is not None else TYPES[dataset])
    examples: list[NERExample] = []
    img, tokens, tags, start_line = None, [], [], 0

    def close() -> None:
        nonlocal img, tokens, tags
        if img is None:
            return
        if not tokens:
            raise DataError(path, start_line, f"IMGID:{img} is followed by no token line")
        examples.append(NERExample(f"{dataset}/{split}/{len(examples)}", tokens, tags, f"{img}.jpg"))
        img, tokens, tags = None, [], []

    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                close()
            elif line.startswith("IMGID:"):
                close()
                img, start_line = line[len("IMGID:"):].strip(), lineno
                if not img:
                    raise DataError(path, lineno, "empty image id after IMGID:")
            else:
                if img is None:
                    raise DataError(path, lineno, "token line before any IMGID: line")
                parts = line.split("\t")
                if len(parts) != 2 or not parts[0]:
                    raise DataError(path, lineno, f"expected 'token<TAB>tag', got {line!r}")
                token, tag = parts
                try:
                    prefix, etype = split_tag(tag)
                except ValueError as e:
                    raise DataError(path, lineno, f"unknown tag {tag!r} ({e})") from None
                if prefix != "O" and etype not in allowed:
                    raise DataError(path, lineno, f"unknown tag {tag!r}; types are {sorted(allowed)}")
                tokens.append(token)
                tags.append(tag)
        close()
    if not examples:
        raise DataError(path, 0, "no tweets in file")
    return examples


def load(dataset: str, split: str, mirror: str | None = None, cache: str | None = None) -> list[NERExample]:
    repo, path = source(dataset, split)
    return read_conll(fetch.resolve(repo, path, mirror, cache), dataset, split)
