"""Readers of the published image contexts (text written about each image, or each tweet, by a large model).

- CAMIM (MNRE images): one dict literal per line {'img_id': ..., 'text': ...}, one file per generator and split.
- Our own JSONL (a user's file:<path>, the generation job's shards and output): one JSON object per line with string
  "img_id" and "text" (more keys allowed); `context_records` reads both forms, the one reader of the format.
- PGIM BLIP-2 captions (tweet images): lines `<img_id> :<caption>`, one file per year for all splits.
- PGIM ChatGPT auxiliary knowledge (per tweet, not per image): in {train,valid,test}.txt of 201x.zip each tweet is
  in CoNLL form (CRLF, no IMGID line), then `<EOS>\tX`, then the text one word per line tagged X, then a blank
  line. Tweets follow UMT's order; the 2015 files lack each split's last tweet.
Texts are stripped of leading and trailing whitespace (some CAMIM texts begin with a newline).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from shapca.data.errors import DataError
from shapca.data.pyliteral import numbered_records

_BLIP2_LINE = re.compile(r"^(\S+) :(.*)$")


def put_context(table: dict[str, str], img: str, text: str, path, lineno: int) -> None:
    if img in table and table[img] != text:
        raise DataError(path, lineno, f"img_id {img!r} appears again with a different text")
    table[img] = text


def context_records(path: str | Path, required: tuple[str, ...] = ("img_id", "text"),
                    python_literals: bool = False) -> Iterator[tuple[int, dict]]:
    """(line number, record) of each non-blank line of a `{img_id, text, ...}` file: JSON objects, or with
    python_literals CAMIM's dict literals. A line that does not parse, or lacks a string `required` field, raises
    DataError naming the file and the line."""
    parse = {} if python_literals else {"parse": json.loads, "what": "valid JSON"}
    for lineno, record in numbered_records(path, **parse):
        if not (isinstance(record, dict) and all(isinstance(record.get(k), str) for k in required)):
            noun = "a dict" if python_literals else "an object"
            raise DataError(path, lineno, f"expected {noun} with string {' and '.join(map(repr, required))}")
        yield lineno, record


def read_context_table(path: str | Path, python_literals: bool = False) -> dict[str, str]:
    """img_id -> stripped text of a `{img_id, text}` file (an image listed twice must have one text)."""
    table: dict[str, str] = {}
    for lineno, record in context_records(path, python_literals=python_literals):
        put_context(table, record["img_id"], record["text"].strip(), path, lineno)
    return table


def read_camim(path: str | Path) -> dict[str, str]:
    return read_context_table(path, python_literals=True)


def read_blip2(path: str | Path) -> dict[str, str]:
    table: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            m = _BLIP2_LINE.match(line)
            if not m:
                raise DataError(path, lineno, f"expected '<img_id> :<caption>', got {line[:80]!r}")
            put_context(table, m.group(1), m.group(2).strip(), path, lineno)
    return table


def read_chatgpt(path: str | Path, label: str | None = None) -> list[tuple[tuple[str, ...], str]]:
    """(tweet tokens, knowledge text) per tweet, in file order. `label` names the file in errors."""
    where = label or str(path)
    tweets: list[tuple[tuple[str, ...], str]] = []
    tokens: list[str] = []
    words: list[str] = []
    in_text, start = False, 0
    with open(path, encoding="utf-8", newline="") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                if tokens or in_text:
                    if not in_text:
                        raise DataError(where, start, "tweet without an '<EOS>\\tX' line")
                    tweets.append((tuple(tokens), " ".join(w for w in words if w).strip()))
                tokens, words, in_text = [], [], False
                continue
            if not tokens and not in_text:
                start = lineno
            if "\t" not in line:
                raise DataError(where, lineno, f"expected 'word<TAB>tag', got {line[:80]!r}")
            word, tag = line.rsplit("\t", 1)
            if in_text:
                if tag != "X":
                    raise DataError(where, lineno, f"knowledge line must be tagged X, got {tag!r}")
                words.append(word.strip())
            elif word == "<EOS>":
                in_text = True
            else:
                tokens.append(word)
    if tokens or in_text:
        if not in_text:
            raise DataError(where, start, "tweet without an '<EOS>\\tX' line")
        tweets.append((tuple(tokens), " ".join(w for w in words if w).strip()))
    return tweets
