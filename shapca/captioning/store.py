"""On-disk layout of a generated context set, written so that an interrupted job resumes without redoing an image.

    OUT/NAME/settings.json        what decides the texts (model, prompt, max_new_tokens, sampling, seed) + notes
    OUT/NAME/shard-00000.jsonl    {"img_id", "text", "model", "prompt"} per line; each shard written atomically
    OUT/NAME/failures.jsonl       {"img_id", "error"[, "size", "mtime_ns"]} of images without a context; a rerun
                                  skips an unreadable file while its size and mtime are unchanged, retries it else
    OUT/NAME/summary.json         counts and timing of the last run
    OUT/NAME.jsonl                all shards merged, sorted by img_id: use it as data.context=file:OUT/NAME.jsonl
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from shapca.data.context_sources import context_records

SHARD_RE = re.compile(r"^shard-(\d{5,})\.jsonl$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class SettingsMismatch(ValueError):
    """Resuming into a folder generated with other settings would mix two context sets."""


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def to_jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def read_jsonl(path: Path, required: tuple[str, ...] = ("img_id", "text")) -> list[dict]:
    """Records of a JSONL file; a bad line raises DataError (a ValueError) naming the file and line."""
    return [record for _, record in context_records(path, required)]


class ShardStore:
    def __init__(self, out: str | Path, name: str):
        if not NAME_RE.match(name):
            raise ValueError(f"context set name {name!r}: use letters, digits, '.', '_' or '-' (it names files)")
        self.out, self.name = Path(out), name
        self.dir = self.out / name
        self.merged = self.out / f"{name}.jsonl"
        self.settings_path = self.dir / "settings.json"

    # ---- settings -----------------------------------------------------------------------------------------
    def check_settings(self, identity: dict) -> None:
        """Raise SettingsMismatch if this folder was generated with other identity settings (read-only)."""
        if not self.settings_path.is_file():
            return
        try:
            old = json.loads(self.settings_path.read_text(encoding="utf-8"))["identity"]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{self.settings_path}: unreadable settings file ({e})") from None
        diff = [k for k in sorted(set(old) | set(identity)) if old.get(k) != identity.get(k)]
        if diff:
            shown = "; ".join(f"{k}: {old.get(k)!r} there, {identity.get(k)!r} now" for k in diff)
            raise SettingsMismatch(f"{self.dir} holds contexts generated with other settings ({shown}); "
                                   f"use another --name, or remove that folder to start over")

    def open(self, identity: dict, notes: dict) -> None:
        """Create the folder and record the settings (kept as they are when resuming)."""
        self.check_settings(identity)
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.settings_path.is_file():
            write_atomic(self.settings_path, json.dumps({"identity": identity, **notes}, indent=2) + "\n")

    # ---- shards -------------------------------------------------------------------------------------------
    def shard_paths(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.iterdir() if SHARD_RE.match(p.name))

    def next_index(self) -> int:
        return max((int(SHARD_RE.match(p.name).group(1)) + 1 for p in self.shard_paths()), default=0)

    def done(self) -> dict[str, dict]:
        """Every finished record by img_id, read from the complete shards."""
        records: dict[str, dict] = {}
        for path in self.shard_paths():
            for rec in read_jsonl(path):
                records.setdefault(rec["img_id"], rec)
        return records

    def write_shard(self, index: int, records: list[dict]) -> Path | None:
        if not records:
            return None
        path = self.dir / f"shard-{index:05d}.jsonl"
        if path.exists():
            raise FileExistsError(f"{path} exists already: two jobs are writing into {self.dir}?")
        write_atomic(path, to_jsonl(records))
        return path

    # ---- results ------------------------------------------------------------------------------------------
    def merge(self) -> int:
        """Write OUT/NAME.jsonl from all shards, sorted by img_id; returns its record count."""
        records = sorted(self.done().values(), key=lambda r: r["img_id"])
        self.out.mkdir(parents=True, exist_ok=True)
        write_atomic(self.merged, to_jsonl(records))
        return len(records)

    def failures(self) -> dict[str, dict]:
        path = self.dir / "failures.jsonl"
        return {r["img_id"]: r for r in read_jsonl(path, required=("img_id", "error"))} if path.is_file() else {}

    def write_failures(self, failures: list[dict]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.dir / "failures.jsonl", to_jsonl(sorted(failures, key=lambda r: r["img_id"])))

    def write_summary(self, summary: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.dir / "summary.json", json.dumps(summary, indent=2) + "\n")
