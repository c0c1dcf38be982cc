"""The project's list of upstream files (manifest.tsv): repository, pinned commit, path, size and sha256.

The list is a copy of the data mirror's MANIFEST.tsv; the data itself is never copied into the project.
Which files each dataset needs is stated here too, so `fetch --datasets ...` gets exactly those.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shapca.data.errors import DataError
from shapca.data.types import DATASETS

MANIFEST_PATH = Path(__file__).with_name("manifest.tsv")
COLUMNS = ("repo", "commit", "path", "bytes", "sha256")

UMT = "jefferyYu/UMT"
MNRE = "thecharm/MNRE"
CAMIM = "zefanZhang-cn/CAMIM"
PGIM = "JinYuanLi0012/PGIM"
KECPM = "YuanLi95/KECPM"

# dataset -> (repo, path prefix) of every file its examples and context generators read.
_NEEDS = {
    "twitter2015": [(UMT, "data/twitter2015/"), (PGIM, "data/ImageCaption/BLIP2_15.txt"),
                    (PGIM, "data/data_PGIM/2015.zip")],
    "twitter2017": [(UMT, "data/twitter2017/"), (PGIM, "data/ImageCaption/BLIP2_17.txt"),
                    (PGIM, "data/data_PGIM/2017.zip")],
    "mnre": [(MNRE, "mnre_txt/"), (CAMIM, "CAMIM/data/")],
    "jmere": [(MNRE, "mnre_txt/"), (CAMIM, "CAMIM/data/"), (KECPM, "few_shot.zip")],
}


@dataclass(frozen=True)
class Entry:
    repo: str  # owner/name on GitHub
    commit: str  # 40 hex digits
    path: str  # inside the repository; may contain spaces
    bytes: int
    sha256: str

    @property
    def key(self) -> str:
        return f"{self.repo}/{self.path}"


def _parse(path: Path) -> tuple[Entry, ...]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise DataError(path, 1, f"header must be {'<TAB>'.join(COLUMNS)}")
    entries = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(COLUMNS):
            raise DataError(path, lineno, f"expected {len(COLUMNS)} tab-separated columns, got {len(row)}")
        repo, commit, rel, size, sha = row
        if repo.count("/") != 1 or len(commit) != 40 or len(sha) != 64 or not size.isdigit():
            raise DataError(path, lineno, "bad repo, commit, bytes or sha256 value")
        if rel.startswith("/") or ".." in rel.split("/"):
            raise DataError(path, lineno, f"path must stay inside the repository: {rel!r}")
        entries.append(Entry(repo, commit, rel, int(size), sha.lower()))
    return tuple(entries)


@lru_cache(maxsize=None)
def _load(path: str) -> tuple[Entry, ...]:
    return _parse(Path(path))


def entries(path: str | Path = MANIFEST_PATH) -> list[Entry]:
    return list(_load(str(path)))


def entry(repo: str, path: str) -> Entry:
    """The manifest entry of one upstream file; KeyError naming it when the project does not list it."""
    for e in _load(str(MANIFEST_PATH)):
        if e.repo == repo and e.path == path:
            return e
    raise KeyError(f"{repo}/{path} is not in {MANIFEST_PATH}")


def entries_for(datasets=None) -> list[Entry]:
    """Entries needed by the given datasets (all when None), in manifest order, without duplicates."""
    names = list(DATASETS) if datasets is None else list(datasets)
    unknown = [d for d in names if d not in _NEEDS]
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; known: {list(DATASETS)}")
    wanted = [need for d in names for need in _NEEDS[d]]
    return [e for e in _load(str(MANIFEST_PATH))
            if any(e.repo == repo and e.path.startswith(prefix) for repo, prefix in wanted)]
